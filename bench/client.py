"""A keep-alive WebDAV client on http.client, and a multistatus reader (stdlib only),
so every server is measured through the same client code."""

from __future__ import annotations

import base64
import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

DAV = "{DAV:}"
CARD = "{urn:ietf:params:xml:ns:carddav}"
XML_TYPE = 'application/xml; charset="utf-8"'
VCARD_TYPE = "text/vcard; charset=utf-8"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Conn:
    """One keep-alive connection to a server on loopback. A server that closes the
    connection (Radicale's HTTP/1.0 server does after every answer) is reconnected on
    the next request; `connects` counts how often that happened."""

    def __init__(self, host: str, port: int, auth: tuple[str, str] | None,
                 timeout: float = 900):
        self.host, self.port, self.timeout = host, port, timeout
        self.auth_header = None
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self.auth_header = f"Basic {token}"
        self.conn: http.client.HTTPConnection | None = None
        self.connects = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None or self.conn.sock is None:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            self.connects += 1
        return self.conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        hdrs = dict(headers or {})
        if self.auth_header:
            hdrs["Authorization"] = self.auth_header
        for attempt in (1, 2):
            before = self.connects
            conn = self._connection()
            reused = self.connects == before
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed meanwhile: retry once on a
                # new one. A failure on a brand-new connection is real.
                conn.close()
                self.conn = None
                if attempt == 2 or not reused:
                    raise
                continue
            if resp.will_close:
                conn.close()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Member:
    """One <response> of a multistatus: its decoded href path, the response-level
    status (if any) and each property found with status 200."""

    href: str
    status: int | None
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, tag: str) -> str | None:
        el = self.props.get(tag)
        return None if el is None else (el.text or "")


def href_path(href: str) -> str:
    """The decoded path of an href (servers may send absolute URLs or encoded paths)."""
    return unquote(urlparse(href.strip()).path)


def _status_code(line: str | None) -> int | None:
    if not line:
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def parse_multistatus(body: bytes) -> tuple[list[Member], str | None]:
    """(members, sync-token) of a 207 body."""
    root = ET.fromstring(body)
    members = []
    for resp in root.iter(DAV + "response"):
        href = resp.findtext(DAV + "href") or ""
        member = Member(href_path(href), _status_code(resp.findtext(DAV + "status")))
        for ps in resp.iter(DAV + "propstat"):
            if _status_code(ps.findtext(DAV + "status")) != 200:
                continue
            prop = ps.find(DAV + "prop")
            for el in (prop if prop is not None else ()):
                member.props[el.tag] = el
        members.append(member)
    token = root.findtext(DAV + "sync-token")
    return members, (token.strip() if token else None)


def prop_xml(*names: str) -> str:
    """A <D:prop> with empty elements, names given as 'D:getetag' or 'C:address-data'."""
    return "<D:prop>" + "".join(f"<{n}/>" for n in names) + "</D:prop>"


NSDECL = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"'


def propfind_body(*names: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><D:propfind {NSDECL}>'
            f"{prop_xml(*names)}</D:propfind>").encode()


def sync_body(token: str | None, *names: str) -> bytes:
    tok = f"<D:sync-token>{token}</D:sync-token>" if token else "<D:sync-token/>"
    return (f'<?xml version="1.0" encoding="utf-8"?><D:sync-collection {NSDECL}>{tok}'
            f"<D:sync-level>1</D:sync-level>{prop_xml(*names)}</D:sync-collection>").encode()


def multiget_body(hrefs: list[str], *names: str) -> bytes:
    from xml.sax.saxutils import escape
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (f'<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget {NSDECL}>'
            f"{prop_xml(*names)}{refs}</C:addressbook-multiget>").encode()


def query_fn_contains_body(needle: str, *names: str) -> bytes:
    from xml.sax.saxutils import escape
    return (f'<?xml version="1.0" encoding="utf-8"?><C:addressbook-query {NSDECL}>'
            f'{prop_xml(*names)}<C:filter test="anyof"><C:prop-filter name="FN">'
            f'<C:text-match collation="i;unicode-casemap" match-type="contains">'
            f"{escape(needle)}</C:text-match></C:prop-filter></C:filter>"
            f"</C:addressbook-query>").encode()
