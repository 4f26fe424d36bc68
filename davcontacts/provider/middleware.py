"""WsgiDAV middleware of ours: error rendering and Basic authentication.

Errors: a precondition answers `<D:error>` with the condition and a human-readable
`<dc:message>`; other errors answer text/plain. No WsgiDAV version or HTML pages, not
even the ones WsgiDAV renders itself."""

from __future__ import annotations

import base64
import binascii
import html
import logging
import re
from xml.sax.saxutils import escape

from wsgidav import util
from wsgidav.dav_error import DAVError, as_DAVError, get_http_status_string
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.mw.base_mw import BaseMiddleware

from .auth import THROTTLED_KEY
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
        msg = (f'<dc:message xmlns:dc="{MESSAGE_NS}">{escape(message)}</dc:message>'
               if message else "")
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
        headers = captured.response_headers
        if _is_wsgidav_page(environ, headers, body):
            return _without_html_page(environ, start_response, captured.status, headers, body)
        start_response(captured.status, headers, captured.exc_info)
        return body


_HTML_MESSAGE = re.compile(rb"<p>(.*?)</p>", re.S)
_WSGIDAV_PAGE_MARK = b"https://github.com/mar10/wsgidav/"


def _is_wsgidav_page(environ, headers, body: list[bytes]) -> bool:
    """WsgiDAV's own HTML status page (never a GET: a plain file in a home may be
    HTML, and GET errors come as exceptions)."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        return False
    if not any(k.lower() == "content-type" and v.lower().startswith("text/html")
               for k, v in headers):
        return False
    return any(_WSGIDAV_PAGE_MARK in part for part in body)


def _without_html_page(environ, start_response, status: str, headers, body: list[bytes]):
    """WsgiDAV renders a few answers itself, past any exception handler: the 201 of
    PUT/MKCOL/COPY/MOVE and errors raised inside DELETE/COPY/MOVE handlers. They come
    as its HTML page (a link to WsgiDAV, a timestamp); send a 2xx without a body and
    an error as the same text/plain as ours (WsgiDAV 4.4's page holds the message in
    its one <p>)."""
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
    if status[:1] == "2":
        start_response(status, kept + [("Content-Length", "0")])
        return [b""]
    found = _HTML_MESSAGE.search(b"".join(body))
    message = html.unescape(found.group(1).decode("utf-8", "replace")) if found else status
    payload = (message + "\n").encode("utf-8")
    start_response(status, kept + [("Content-Type", "text/plain; charset=utf-8"),
                                   ("Content-Length", str(len(payload)))])
    return [payload]


def auth_scheme(header: str) -> str:
    """The lower-cased scheme of an Authorization header ("" if there is none)."""
    parts = header.split(None, 1)
    return parts[0].lower() if parts else ""


def basic_header_ok(header: str) -> bool:
    """True if an Authorization header is well-formed Basic (RFC 7617): the scheme,
    whitespace, then base64 of UTF-8 `user:password`."""
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return ":" in decoded


class BasicAuthenticator(HTTPAuthenticator):
    """WsgiDAV's authenticator, but a malformed Basic header (no token, bad base64,
    no colon, not UTF-8) is a 401, not a 500 (WSGIDAV.md §5), the 401 is plain text
    rather than WsgiDAV's HTML page, a query string mentioning 'logout' is not
    special, and a throttled login (the domain controller says so) is a 429 with
    Retry-After (RFC 6585 §4) rather than a 401 challenge."""

    def __call__(self, environ, start_response):
        header = environ.get("HTTP_AUTHORIZATION", "")
        if auth_scheme(header) == "basic" and not basic_header_ok(header):
            return self.send_basic_auth_response(environ, start_response)
        if "logout" in environ.get("QUERY_STRING", ""):
            environ = dict(environ, QUERY_STRING="")
        return super().__call__(environ, start_response)

    def send_basic_auth_response(self, environ, start_response):
        throttled = environ.get(THROTTLED_KEY)
        if throttled is not None:
            body = f"429 Too Many Requests: {throttled.reason}\n".encode()
            start_response("429 Too Many Requests", [
                ("Retry-After", str(throttled.retry_after)),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body)))])
            return [body]
        realm = self.domain_controller.get_domain_realm(environ["PATH_INFO"], environ)
        body = b"401 Unauthorized: sign in with HTTP Basic credentials\n"
        start_response("401 Unauthorized", [
            ("WWW-Authenticate", f'Basic realm="{realm}"'),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body)))])
        return [body]
