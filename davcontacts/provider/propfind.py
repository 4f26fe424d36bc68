"""PROPFIND Depth 1 on an address book from one query: the book's own response from
its resource, every card's from its row, written as bytes with a Content-Length
(WSGIDAV.md §7: WsgiDAV's own path costs a resource object and a URL quoting per
member, and one lxml tree for the whole answer).

Only named-property requests take this path; allprop and propname go to WsgiDAV."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree
from wsgidav.dav_error import DAVError

from ..model import Contact
from . import xmlns
from .base import context
from .books import CARD_CONTENT_TYPE_XML, LIST_ROWS, SLIM_ROWS, Book, Card, live_rows
from .multistatus import Multistatus, empty_element, getetag_xml, value_xml
from .variants import served_version

_RESOURCETYPE_XML = empty_element(xmlns.RESOURCETYPE)
# Card properties answered from the row alone, as XML.
ROW_PROPERTIES = {
    xmlns.GETETAG: lambda row: getetag_xml(row.etag),
    xmlns.GETCONTENTTYPE: lambda row: CARD_CONTENT_TYPE_XML,
    xmlns.dav("getcontentlength"):
        lambda row: f"<D:getcontentlength>{row.size}</D:getcontentlength>",
    xmlns.RESOURCETYPE: lambda row: _RESOURCETYPE_XML,
}


def named_props(root: etree._Element | None) -> list[str] | None:
    """The property names of a `<D:propfind><D:prop>` body, or None for any other form
    (empty body, allprop, propname)."""
    if root is None or root.tag != xmlns.dav("propfind"):
        return None
    children = list(root)
    if len(children) != 1 or children[0].tag != xmlns.dav("prop"):
        return None
    return [el.tag for el in children[0]]


def render_resource(res, names: list[str]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(found, forbidden, missing) of one resource through its property getters."""
    found, forbidden, missing = [], [], []
    for name, value in res.get_properties("named", name_list=names):
        if isinstance(value, DAVError):
            (forbidden if value.value == 403 else missing).append(name)
        else:
            found.append((name, value_xml(name, value)))
    return found, forbidden, missing


class _CardResponses:
    """Each card's <response> for one PROPFIND: which properties the row answers and
    which need the resource is decided once, and the version rule once per stored
    version (a converted variant has its own ETag and length: the resource knows)."""

    def __init__(self, book: Book, names: list[str], environ: dict):
        self.book, self.names, self.environ = book, names, environ
        self.fast = [(name, ROW_PROPERTIES[name]) for name in names if name in ROW_PROPERTIES]
        self.slow = [name for name in names if name not in ROW_PROPERTIES]
        self.default = context(environ).settings.default_vcard_version
        self._converted: dict[str, bool] = {}

    def converted(self, stored: str) -> bool:
        conv = self._converted.get(stored)
        if conv is None:
            conv = self._converted[stored] = served_version(
                stored, self.environ, self.default) != stored
        return conv

    def write(self, out: Multistatus, row: Contact, href: str) -> None:
        if self.converted(row.version):
            found, slow = [], self.names
        else:
            found, slow = [(name, render(row)) for name, render in self.fast], self.slow
        missing: list[str] = []
        forbidden: list[str] = []
        if slow:  # dead properties, lock discovery, …: through the resource
            card = Card(self.book.card_path(row.name), self.environ, self.book.vb, row)
            more, forbidden, missing = render_resource(card, slow)
            found += more
        out.response(href, found, missing, forbidden)


def book_depth1(book: Book, names: list[str], environ: dict) -> Iterator[bytes]:
    """The multistatus of PROPFIND Depth 1 on a book, in pieces."""
    ctx = context(environ)
    out = Multistatus()
    found, forbidden, missing = render_resource(book, names)
    out.response(book.get_href(), found, missing, forbidden)
    base = ctx.href(book.path.rstrip("/") + "/")
    cards = _CardResponses(book, names, environ)
    # An ETag listing (what clients ask) needs no dates: the slim rows do.
    reader = LIST_ROWS if cards.slow else SLIM_ROWS
    for row in live_rows(book.vb.book.id, reader):
        cards.write(out, row, base + xmlns.href_quote(row.name))
        if out.full:
            yield out.drain()
    yield out.finish()
