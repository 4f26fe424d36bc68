"""A small keep-alive HTTP client for the tests, with WebDAV helpers."""

from __future__ import annotations

import base64
import http.client
from dataclasses import dataclass
from urllib.parse import unquote

from lxml import etree

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:carddav", "CS": "http://calendarserver.org/ns/"}


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)

    def responses(self) -> dict[str, etree._Element]:
        """Multistatus <response> elements by decoded href."""
        return {unquote(r.findtext("D:href", namespaces=NS)): r
                for r in self.xml().iterfind("D:response", NS)}

    def prop(self, href: str, name: str) -> etree._Element | None:
        """The first 200 value of a property in a multistatus (name like 'D:getetag')."""
        r = self.responses()[href]
        for ps in r.iterfind("D:propstat", NS):
            if " 200 " in ps.findtext("D:status", namespaces=NS):
                el = ps.find(f"D:prop/{name}", NS)
                if el is not None:
                    return el
        return None

    def condition(self) -> str | None:
        """The Clark name of the precondition element in a DAV:error body."""
        try:
            root = self.xml()
        except etree.XMLSyntaxError:
            return None
        if root.tag != "{DAV:}error" or not len(root):
            return None
        return root[0].tag


class DavClient:
    def __init__(self, host: str, port: int, user: str | None, password: str):
        self.host, self.port = host, port
        self.auth = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = f"Basic {token}"
        self.user = user
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, *, auth: bool = True) -> Response:
        hdrs = dict(headers or {})
        if auth and self.auth and "Authorization" not in hdrs:
            hdrs["Authorization"] = self.auth
        if isinstance(body, str):
            body = body.encode("utf-8")
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return Response(resp.status, resp.headers, data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # WebDAV helpers -------------------------------------------------------------
    def propfind(self, path: str, props: list[str], depth: str = "0") -> Response:
        prop_xml = "".join(f"<{p}/>" for p in props)
        body = (f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
                f'xmlns:C="urn:ietf:params:xml:ns:carddav" '
                f'xmlns:CS="http://calendarserver.org/ns/"><D:prop>{prop_xml}</D:prop></D:propfind>')
        return self.request("PROPFIND", path, body, {"Depth": depth,
                                                     "Content-Type": "application/xml"})

    def put_card(self, path: str, card: str | bytes, headers: dict[str, str] | None = None,
                 ) -> Response:
        hdrs = {"Content-Type": "text/vcard; charset=utf-8"}
        hdrs.update(headers or {})
        return self.request("PUT", path, card, hdrs)

    def report(self, path: str, body: str, depth: str | None = None) -> Response:
        hdrs = {"Content-Type": "application/xml"}
        if depth is not None:
            hdrs["Depth"] = depth
        return self.request("REPORT", path, body, hdrs)


def make_card(uid: str, fn: str = "Test Person", *, version: str = "3.0", extra: str = "") -> str:
    """A minimal valid vCard (CRLF line ends)."""
    family, _, given = fn.partition(" ")
    lines = ["BEGIN:VCARD", f"VERSION:{version}", f"UID:{uid}", f"FN:{fn}",
             f"N:{given};{family};;;", f"EMAIL;TYPE=work:{uid}@example.com"]
    if extra:
        lines += extra.strip("\r\n").replace("\r\n", "\n").split("\n")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"
