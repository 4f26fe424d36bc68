"""The admin web app (Flask), mounted at /admin by app.py: session login, CSRF,
contacts, users and groups. Views by area in views/, templates in templates/, CSS
and JS in static/ (no inline script: the Content-Security-Policy forbids it).

Every write goes through davcontacts.contacts with the `admin` door; every access
decision is acl.policy's (scope.py wraps what the admin asks it).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, g, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ..acl import policy
from ..acl.auth import ThrottlePolicy, parse_networks
from ..config import Config
from ..errors import DomainError
from . import auth
from .context import AdminSettings
from .security import (
    AdminSessionInterface,
    SecurityHeaders,
    check_csrf,
    csrf_token,
    session_key,
)

STATIC = Path(__file__).parent / "static"
SESSION_HOURS = 12


def make_admin_app(config: Config, secret: bytes, mount: str = "/admin"):
    """The admin as a WSGI app for `mount`. The database must be bound; the caller
    wraps it in a per-request database session (app.DatabaseSession)."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=session_key(secret),
        SESSION_COOKIE_NAME="davcontacts_admin",
        SESSION_COOKIE_PATH=mount + "/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # set per request over TLS (AdminSessionInterface)
        PERMANENT_SESSION_LIFETIME=_dt.timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=config.server.max_request_body,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = AdminSessionInterface()
    app.extensions["davcontacts"] = AdminSettings(
        secret=secret, max_resource_size=config.dav.max_resource_size,
        max_photo_size=config.dav.max_photo_size, scrypt_n=config.auth.scrypt_n,
        throttle=ThrottlePolicy.from_config(config.auth),
        trusted_proxies=parse_networks(config.server.trusted_proxies),
        max_upload=config.server.max_request_body)
    app.before_request(auth.load_user)
    app.before_request(check_csrf)
    app.before_request(auth.require_login)
    app.jinja_env.globals.update(csrf_token=csrf_token, static_url=_static_url)
    app.context_processor(_template_context)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)

    from .views import account, contact, contacts, crm, groups, members, session, transfer, users
    for blueprint in (session.bp, contacts.bp, contact.bp, crm.bp, members.bp, transfer.bp,
                      account.bp, users.bp, groups.bp):
        app.register_blueprint(blueprint)
    return SecurityHeaders(app)


@lru_cache(maxsize=64)
def _file_version(name: str) -> str:
    try:
        return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def _static_url(name: str) -> str:
    """A static file's URL with a content hash, so a new release is fetched at once."""
    return url_for("static", filename=name, v=_file_version(name))


def _template_context() -> dict:
    user = getattr(g, "user", None)
    return {
        "current_user": user,
        "can_manage_users": policy.can_manage_users(user),
    }


def _domain_error(exc: DomainError):
    status = exc.status if exc.status in (400, 403, 404, 409, 412) else 400
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 412: "Changed meanwhile"}
    message = "This page does not exist, or you may not see it." if status == 404 else exc.reason
    return render_template("error.html", title=titles.get(status, "Cannot do that"),
                           message=message), status


def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400 or request.endpoint == "static" and exc.code == 404:
        return exc
    return render_template("error.html", title=exc.name,
                           message=exc.description if exc.code != 404 else
                           "This page does not exist, or you may not see it."), exc.code
