"""GET and HEAD of a card, answered without WsgiDAV's generic resource path.

Fetching single cards is what a client does most after a sync, and WsgiDAV's
`_send_resource` spends more time than our lookup does: it builds a RequestServer,
asks the resource for its ETag, version and dates several times, and parses the
RFC 4918 `If` header even when there is none. This path runs inside the same
middleware stack (authentication and error rendering are unchanged) and answers
exactly what WsgiDAV would: the same headers, the HTTP conditionals evaluated by
WsgiDAV's own function. Anything unusual (a Range, an `If` header, a body, a Depth,
a resource that is not a card) goes the generic way."""

from __future__ import annotations

from wsgidav import util

from .books import CARD_CONTENT_TYPE, Card

_CONDITIONALS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
                 "HTTP_IF_UNMODIFIED_SINCE")


def send_card(provider, environ: dict, start_response) -> list[bytes] | None:
    """The answer to a GET/HEAD of a card, or None to let WsgiDAV answer."""
    if ("HTTP_RANGE" in environ or "HTTP_IF" in environ
            or environ.get("HTTP_DEPTH", "0") != "0"
            or environ.get("CONTENT_LENGTH", "") not in ("", "0")
            or "HTTP_TRANSFER_ENCODING" in environ):
        return None
    res = provider.get_resource_inst(environ["PATH_INFO"], environ)
    if type(res) is not Card or res.row is None:
        return None
    etag = res.get_etag()
    modified = res.get_last_modified()
    if any(name in environ for name in _CONDITIONALS):
        # Raises DAVError 304 or 412, rendered by ErrorRenderer as for any request.
        util.evaluate_http_conditionals(res, int(modified), etag, environ)
    head = environ["REQUEST_METHOD"] == "HEAD"
    body = b"" if head else res.card_bytes()
    length = res.get_content_length() if head else len(body)
    start_response("200 OK", [
        ("Content-Length", str(length)),
        ("Last-Modified", util.get_rfc1123_time(modified)),
        ("Content-Type", CARD_CONTENT_TYPE),
        ("Date", util.get_rfc1123_time()),
        ("ETag", f'"{etag}"'),
        ("Vary", "Accept, User-Agent"),
    ])
    return [body]
