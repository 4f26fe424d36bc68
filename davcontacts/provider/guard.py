"""A thin WSGI guard in front of WsgiDAV for its measured defects (WSGIDAV.md §8):
paths escaping the root (400 with a body), chunked request bodies (buffered up to
a cap and given a Content-Length, or WsgiDAV reads them as empty and poisons the
keep-alive connection), and bodies over cheroot's limit (413, not 500).

It is also the way out for large answers: WsgiDAV closes the connection after any
2xx without a Content-Length (WSGIDAV.md §7), so a handler that streams puts its
pieces in a box the guard made, answers WsgiDAV with an empty placeholder, and the
guard sends the pieces chunked (cheroot's HTTP/1.1 default without Content-Length)."""

from __future__ import annotations

import io

from cheroot.errors import MaxSizeExceeded

STREAM_BOX = "davcontacts.stream"
_MARK = "X-Davcontacts-Stream"


def stream_through_guard(environ, start_response, status: str, pieces) -> list[bytes]:
    """Called inside WsgiDAV: leave `pieces` for the guard to send."""
    environ[STREAM_BOX]["pieces"] = pieces
    start_response(status, [("Content-Type", "application/xml; charset=utf-8"),
                            ("Content-Length", "0"), (_MARK, "1")])
    return [b""]


def _plain(start_response, status: str, text: str):
    body = (text + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


class Guard:
    def __init__(self, app, *, max_body: int):
        self.app = app
        self.max_body = max_body

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if ".." in path.split("/") or "\x00" in path:
            return _plain(start_response, "400 Bad Request",
                          "paths containing '..' segments or NUL are not accepted")
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            try:
                data = self._read_chunked(environ["wsgi.input"])
            except MaxSizeExceeded:
                return _plain(start_response, "413 Payload Too Large",
                              f"request body larger than {self.max_body} bytes")
            if data is None:
                return _plain(start_response, "413 Payload Too Large",
                              f"request body larger than {self.max_body} bytes")
            environ = dict(environ)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        box: dict = {}
        environ[STREAM_BOX] = box
        started: list = []

        def capture(status, headers, exc_info=None):
            started[:] = [status, headers, exc_info]
            return lambda data: None  # nobody writes through start_response here

        try:
            body = list(self.app(environ, capture))
        except MaxSizeExceeded:
            return _plain(start_response, "413 Payload Too Large",
                          f"request body larger than {self.max_body} bytes")
        status, headers, exc_info = started
        if "pieces" in box:
            headers = [(k, v) for k, v in headers
                       if k not in (_MARK, "Content-Length") and k.lower() != "connection"]
            start_response(status, headers, exc_info)
            return box["pieces"]
        start_response(status, headers, exc_info)
        return body

    def _read_chunked(self, stream) -> bytes | None:
        parts, size = [], 0
        while True:
            block = stream.read(65536)
            if not block:
                return b"".join(parts)
            size += len(block)
            if size > self.max_body:
                return None
            parts.append(block)
