"""A 207 multistatus written as bytes from rows (no lxml tree per member), sent with a
Content-Length so keep-alive holds (WSGIDAV.md §7). The 200 propstat comes first and
statuses read `HTTP/1.1 …` (Thunderbird compares the first status string).

Text is escaped by hand, so a CR is written as `&#13;`: an XML parser turns a literal
CR (or CR LF) into LF (XML 1.0 §2.11), and address-data must reach the client with the
card's own line ends, byte for byte (vdirsyncer stores what it receives). The few
characters XML 1.0 cannot carry at all (C0 controls but tab, LF and CR; U+FFFE, U+FFFF)
are left out rather than making the whole multistatus unparseable for every client."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from lxml import etree

from . import xmlns

PREFIXES = {xmlns.DAV: "D", xmlns.CARDDAV: "C", xmlns.CS: "CS"}
OPEN = (b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" '
        b'xmlns:CS="http://calendarserver.org/ns/">')
STATUS_TEXT = {200: "OK", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
               507: "Insufficient Storage", 424: "Failed Dependency"}


# saxutils.escape handles & < >; CR must survive the parser's line-end normalisation.
_TEXT_ENTITIES = {"\r": "&#13;"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape_text(text: str) -> str:
    """`text` as XML character data that parses back to exactly `text` (less the
    characters XML 1.0 cannot hold, see above)."""
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("", text)
    return escape(text, _TEXT_ENTITIES)


def status_line(code: int) -> str:
    return f"HTTP/1.1 {code} {STATUS_TEXT.get(code, 'Status')}"


_OK = status_line(200)


def qname(name: str) -> tuple[str, str]:
    """(tag text, namespace declaration) for a Clark name."""
    ns, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    prefix = PREFIXES.get(ns)
    if prefix:
        return f"{prefix}:{local}", ""
    return f"X:{local}", f' xmlns:X="{escape(ns, {chr(34): "&quot;"})}"'


def text_element(name: str, text: str) -> str:
    tag, decl = qname(name)
    return f"<{tag}{decl}>{escape_text(text)}</{tag}>"


def getetag_xml(etag: str) -> str:
    """A card's or file's DAV:getetag (the quoted entity tag) as XML text."""
    return f'<D:getetag>"{escape(etag)}"</D:getetag>'


def empty_element(name: str) -> str:
    tag, decl = qname(name)
    return f"<{tag}{decl}/>"


def value_xml(name: str, value) -> str:
    """A property value (str or lxml element named `name`) as XML text."""
    if value is None or value == "":
        return empty_element(name)
    if isinstance(value, str):
        return text_element(name, value)
    return etree.tostring(value, encoding="unicode")


# A streamed answer hands its bytes on in pieces of about this size.
PIECE = 256 * 1024


class Multistatus:
    """Collects <response> elements as bytes. A streaming report yields `drain()`
    whenever `full` says so, and `finish()` at the end, so its memory does not grow
    with the book."""

    def __init__(self) -> None:
        self._parts: list[bytes] = [OPEN]
        self._size = len(OPEN)

    def _add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)

    @property
    def full(self) -> bool:
        return self._size >= PIECE

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts, self._size = [], 0
        return data

    def response(self, href: str, found: list[tuple[str, str]], missing: list[str],
                 forbidden: list[str] = ()) -> None:
        """One <response>: `found` holds (name, rendered XML) pairs."""
        if found and not missing and not forbidden:  # the usual case, in one piece
            self._add(f"<D:response><D:href>{escape(href)}</D:href><D:propstat><D:prop>"
                      f"{''.join(x for _, x in found)}</D:prop><D:status>{_OK}</D:status>"
                      "</D:propstat></D:response>".encode("utf-8"))
            return
        out = [f"<D:response><D:href>{escape(href)}</D:href>"]
        for names_xml, code in (("".join(x for _, x in found), 200),
                                ("".join(empty_element(n) for n in forbidden), 403),
                                ("".join(empty_element(n) for n in missing), 404)):
            if names_xml:
                out.append(f"<D:propstat><D:prop>{names_xml}</D:prop>"
                           f"<D:status>{status_line(code)}</D:status></D:propstat>")
        if not found and not missing and not forbidden:
            out.append(f"<D:propstat><D:prop/><D:status>{status_line(200)}</D:status></D:propstat>")
        out.append("</D:response>")
        self._add("".join(out).encode("utf-8"))

    def status(self, href: str, code: int, error: str | None = None) -> None:
        """A <response> with only a status (404 for a removed member, 507 for a
        truncated answer), optionally with a DAV:error condition (Clark name)."""
        err = f"<D:error>{empty_element(error)}</D:error>" if error else ""
        self._add(f"<D:response><D:href>{escape(href)}</D:href>"
                  f"<D:status>{status_line(code)}</D:status>{err}</D:response>".encode())

    def raw(self, xml: str) -> None:
        self._add(xml.encode("utf-8"))

    def finish(self) -> bytes:
        self._add(b"</D:multistatus>")
        return self.drain()
