"""Who is signed in to the admin: the login check (one function, with the same users,
passwords and login throttling as DAV), the session that remembers the user, and the
guard that sends anonymous requests to the login page.

A session holds the user's id and a fingerprint of their password hash: a password
reset or a deactivation ends every session of that user at once, in every process.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for

from ..acl.auth import LoginThrottled, client_address
from ..contacts.users import authenticate
from ..model import User
from .security import new_csrf_token

# Endpoints reachable without a session.
PUBLIC_ENDPOINTS = frozenset({"session.login", "static"})


@dataclass(frozen=True)
class LoginResult:
    """The user, or None and the message the login form shows."""

    user: User | None
    message: str = ""
    throttled: bool = False


def check_login(username: str, password: str, environ) -> LoginResult:
    """The one place the admin verifies a password (contacts.users.authenticate:
    the same users, passwords and throttling as DAV; inactive users are refused
    there). App passwords are for devices: here they are wrong passwords."""
    settings = current_app.extensions["davcontacts"]
    try:
        user = authenticate(username.strip(), password, None,
                            client_address=client_address(environ, settings.trusted_proxies),
                            throttle=settings.throttle, app_passwords=False)
    except LoginThrottled as exc:
        minutes = max(1, round(exc.retry_after / 60))
        return LoginResult(None, "Too many failed sign-ins. Try again in "
                                 f"{minutes} minute{'s' if minutes != 1 else ''}.",
                           throttled=True)
    if user is None:
        return LoginResult(None, "Wrong user name or password, or the account has been "
                                 "deactivated.")
    return LoginResult(user)


def _fingerprint(user: User) -> str:
    secret = current_app.extensions["davcontacts"].secret
    return hmac.new(secret, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def login(user: User) -> None:
    """Start a fresh session for `user` (no value of the anonymous session survives)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["pwf"] = _fingerprint(user)
    new_csrf_token()


def logout() -> None:
    session.clear()


def load_user() -> None:
    """before_request: g.user is the signed-in, still active user with an unchanged
    password, or None."""
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    user = User.get_or_none(User.id == uid)
    if user is None or not user.active or not hmac.compare_digest(
            session.get("pwf", ""), _fingerprint(user)):
        session.clear()
        return
    g.user = user


def require_login():
    """before_request: anonymous requests go to the login page (and come back)."""
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint is None:  # 404 and 405 answer as they are
        return None
    target = current_url() if request.method == "GET" else None
    return redirect(url_for("session.login", next=target) if target else
                    url_for("session.login"))


def current_url() -> str:
    """This request's path and query, mount included (for "come back here" links)."""
    url = request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path inside the admin, else the contacts page."""
    root = request.script_root + "/"
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and target.startswith(root)
                and not target.startswith("//") and "\\" not in target):
            return target
    return url_for("contacts.index")
