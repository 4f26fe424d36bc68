"""cheroot, tuned for what address-book clients do: many small requests in a row on
one keep-alive connection.

cheroot answers each request on a worker thread and then hands the connection back
to its selector thread, which hands it to a worker again when the next request
arrives: two thread wake-ups and two epoll changes per request, more than our own
work on a card GET. Two changes, both measured in docs/design-notes.md:

- *Linger.* A worker that has answered waits a moment (LINGER_SECONDS) on the same
  connection for the next request, and answers it at once; only a connection that
  stays quiet goes back to the selector. It lingers only while other workers are
  idle, so a busy server never keeps a new connection waiting for a quiet one.
- *One write per small answer.* The status line, headers and a body already in
  memory go out in one send instead of two, so the client wakes once.
"""

from __future__ import annotations

import io
import logging
import select

from cheroot import wsgi

LINGER_SECONDS = 0.002
# Answers up to this size (headers apart) are sent with their headers in one write.
COALESCE_BYTES = 64 * 1024

log = logging.getLogger(__name__)


class _Capture(io.RawIOBase):
    """Stands in for a connection's writer while cheroot renders the headers."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)


class Gateway(wsgi.Gateway_10):
    def respond(self):
        response = self.req.server.wsgi_app(self.env, self.start_response)
        try:
            if isinstance(response, list) and self._send_whole(response):
                return
            for chunk in filter(None, response):
                if not isinstance(chunk, bytes):
                    raise ValueError("WSGI applications must yield bytes")
                self.write(chunk)
        finally:
            self.req.ensure_headers_sent()
            if hasattr(response, "close"):
                response.close()

    def _send_whole(self, response: list) -> bool:
        """Send headers and a small, complete body in one write; False to leave the
        answer to cheroot's usual path (headers sent, a big or odd-sized body)."""
        req = self.req
        if req.sent_headers or not self.started_response:
            return False
        body = b"".join(response)
        if not body or len(body) > COALESCE_BYTES or self.remaining_bytes_out != len(body):
            return False
        conn = req.conn
        writer, capture = conn.wfile, _Capture()
        conn.wfile = capture
        try:
            req.ensure_headers_sent()
        finally:
            conn.wfile = writer
        writer.write(b"".join(capture.parts) + body)  # a Content-Length: never chunked
        return True


class Server(wsgi.Server):
    """cheroot's WSGI server with the keep-alive linger and the one-write gateway."""

    def __init__(self, *args, linger: float = LINGER_SECONDS, **kwargs):
        super().__init__(*args, **kwargs)
        self.gateway = Gateway
        self.linger = linger

    def put_conn(self, conn):
        """Called by the worker that has just answered on a keep-alive `conn`."""
        while self.linger > 0 and self.ready and self.requests.idle:
            if not conn.rfile.has_data() and not _readable(conn.socket, self.linger):
                break
            try:
                keep_open = conn.communicate()
            except Exception:  # what cheroot's worker does: drop the connection
                log.debug("error on a lingering connection", exc_info=True)
                keep_open = False
            if not keep_open:
                conn.close()
                return
        super().put_conn(conn)


def _readable(sock, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))
