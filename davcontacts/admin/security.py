"""What every admin response carries and every POST must prove: security headers,
the session cookie (signed, HttpOnly, SameSite=Lax, Secure over TLS) and the CSRF
token.

CSRF is a synchronizer token: a random value kept in the signed session cookie and
echoed in a hidden field of every form (or the X-CSRF-Token header); a POST whose
value differs is refused with 400 before any view runs. Flask-WTF would do the same
with a form-class layer the admin does not otherwise need.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

from flask import Flask, abort, request, session
from flask.sessions import SecureCookieSessionInterface

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No inline script or style anywhere: JS and CSS come from static files.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def session_key(secret: bytes) -> str:
    """The Flask signing key, derived from the installation secret (model.get_secret),
    so that every process and machine accepts every other's cookies."""
    return hmac.new(secret, b"davcontacts admin session", hashlib.sha256).hexdigest()


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the Secure flag whenever the request came
    over TLS (cheroot sets wsgi.url_scheme to https)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def new_csrf_token() -> str:
    """A fresh token (at login, so a token seen before login is worthless after it)."""
    session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """before_request: refuse an unsafe method without this session's token (400)."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="The form has expired or did not come from this site. "
                               "Reload the page and try again.")


class SecurityHeaders:
    """WSGI wrapper around the Flask app: the security headers on every response
    (error pages included), no caching of pages, and /admin redirected to /admin/."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "") == "":
            location = quote(environ.get("SCRIPT_NAME", "")) + "/"
            start_response("301 Moved Permanently",
                           [("Location", location), ("Content-Length", "0"), *HEADERS])
            return [b""]
        static = environ.get("PATH_INFO", "").startswith("/static/")

        def start(status, headers, exc_info=None):
            names = {name.lower() for name, _ in headers}
            headers = list(headers) + [h for h in HEADERS if h[0].lower() not in names]
            if not static and "cache-control" not in names:
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
