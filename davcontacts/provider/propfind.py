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
from .books import CARD_CONTENT_TYPE, LIST_ROWS, Book, Card, live_rows
from .multistatus import Multistatus, empty_element, text_element, value_xml
from .variants import served_version

# Card properties answered from the row alone.
ROW_PROPERTIES = {
    xmlns.GETETAG: lambda row: f'"{row.etag}"',
    xmlns.GETCONTENTTYPE: lambda row: CARD_CONTENT_TYPE,
    xmlns.dav("getcontentlength"): lambda row: str(row.size),
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


def _card_response(book: Book, row: Contact, names: list[str], environ: dict, out: Multistatus,
                   href: str) -> None:
    found, missing = [], []
    slow = []
    # A converted variant (variants.py) has its own ETag and length: the resource knows.
    converted = served_version(row.version, environ,
                               context(environ).settings.default_vcard_version) != row.version
    for name in names:
        fast = None if converted else ROW_PROPERTIES.get(name)
        if fast is not None:
            found.append((name, text_element(name, fast(row))))
        elif name == xmlns.RESOURCETYPE:
            found.append((name, empty_element(name)))
        else:
            slow.append(name)
    forbidden: list[str] = []
    if slow:  # dead properties, lock discovery, …: through the resource
        card = Card(book.card_path(row.name), environ, book.vb, row)
        more, forbidden, absent = render_resource(card, slow)
        found += more
        missing += absent
    out.response(href, found, missing, forbidden)


def book_depth1(book: Book, names: list[str], environ: dict) -> Iterator[bytes]:
    """The multistatus of PROPFIND Depth 1 on a book, in pieces."""
    ctx = context(environ)
    out = Multistatus()
    found, forbidden, missing = render_resource(book, names)
    out.response(book.get_href(), found, missing, forbidden)
    base = ctx.href(book.path.rstrip("/") + "/")
    for row in live_rows(book.vb.book.id, LIST_ROWS):
        _card_response(book, row, names, environ, out, base + xmlns.href_quote(row.name))
        if out.full:
            yield out.drain()
    yield out.finish()
