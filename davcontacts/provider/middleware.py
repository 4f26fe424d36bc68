"""WsgiDAV middleware of ours: error rendering and Basic authentication.

Errors: a precondition answers `<D:error>` with the condition and a human-readable
`<dc:message>`; other errors answer text/plain. No WsgiDAV version or HTML pages."""

from __future__ import annotations

import base64
import binascii
import logging
from xml.sax.saxutils import escape

from wsgidav import util
from wsgidav.dav_error import DAVError, as_DAVError, get_http_status_string
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.mw.base_mw import BaseMiddleware

from .multistatus import qname

log = logging.getLogger(__name__)
MESSAGE_NS = "https://davcontacts.org/ns/"


def error_body(err: DAVError) -> tuple[str, bytes]:
    message = err.context_info or ""
    cond = err.err_condition
    if cond is not None:
        tag, decl = qname(cond.condition_code)
        hrefs = "".join(f"<D:href>{escape(h)}</D:href>" for h in cond.hrefs)
        inner = f"<{tag}{decl}>{hrefs}</{tag}>" if hrefs else f"<{tag}{decl}/>"
        msg = f'<dc:message xmlns:dc="{MESSAGE_NS}">{escape(message)}</dc:message>' if message else ""
        body = ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" '
                f'xmlns:CS="http://calendarserver.org/ns/">{inner}{msg}</D:error>\n')
        return "application/xml; charset=utf-8", body.encode("utf-8")
    text = get_http_status_string(err) + (f": {message}" if message else "") + "\n"
    return "text/plain; charset=utf-8", text.encode("utf-8")


class ErrorRenderer(BaseMiddleware):
    """Turns DAVError (and anything unexpected, as a 500) into a response."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)

    def __call__(self, environ, start_response):
        captured = util.SubAppStartResponse()
        try:
            try:
                # The response may be a generator (GET): iterate here so that its
                # errors are caught too.
                body = list(self.next_app(environ, captured))
            except DAVError:
                raise
            except Exception as exc:
                log.exception("unexpected error on %s %s", environ.get("REQUEST_METHOD"),
                              environ.get("PATH_INFO"))
                raise as_DAVError(exc) from None
        except DAVError as err:
            if err.value == 500:
                log.error("500 on %s %s: %r", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"), err.src_exception or err.context_info)
            status = get_http_status_string(err)
            if err.value in (204, 304):
                start_response(status, [("Content-Length", "0")])
                return [b""]
            ctype, payload = error_body(err)
            start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(payload)))]
                           + list(err.add_headers or []))
            return [payload] if err.add_body else [b""]
        start_response(captured.status, captured.response_headers, captured.exc_info)
        return body


def basic_header_ok(header: str) -> bool:
    """True if an Authorization header is well-formed Basic (RFC 7617)."""
    if not header[:6].lower() == "basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return ":" in decoded


class BasicAuthenticator(HTTPAuthenticator):
    """WsgiDAV's authenticator, but a malformed Basic header is a 401, not a 500,
    and a query string mentioning 'logout' is not special."""

    def __call__(self, environ, start_response):
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header and header[:6].lower() == "basic " and not basic_header_ok(header):
            return self.send_basic_auth_response(environ, start_response)
        if "logout" in environ.get("QUERY_STRING", ""):
            environ = dict(environ, QUERY_STRING="")
        return super().__call__(environ, start_response)
