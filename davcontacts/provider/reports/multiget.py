"""addressbook-multiget (RFC 6352 §8.7): any number of hrefs in one query."""

from __future__ import annotations

from collections.abc import Iterator

from .. import xmlns
from ..base import context
from ..books import Book, live_rows_named
from ..multistatus import Multistatus
from . import CardProps, href_to_path, register, requested_props


@register(xmlns.card("addressbook-multiget"), Book)
def addressbook_multiget(book: Book, root, environ):
    """A 404 <response> for each unknown href, and for each href outside this book
    (RFC 6352 §8.7: hrefs name members of the request's collection)."""
    props = requested_props(root)
    hrefs = [h.text or "" for h in root.iterfind("{DAV:}href")]
    prefix = book.path.rstrip("/") + "/"
    return "207 Multi-Status", _responses(book, hrefs, prefix, props, environ)


def _responses(book: Book, hrefs: list[str], prefix: str, props, environ) -> Iterator[bytes]:
    """The answer in pieces: hrefs are looked up 500 at a time, in the client's order."""
    ctx = context(environ)
    cards = CardProps(book, props, environ)
    out = Multistatus()
    for i in range(0, len(hrefs), 500):
        page = hrefs[i:i + 500]
        names = {}
        for href in page:
            path = href_to_path(href, ctx.mount)
            if path and path.startswith(prefix) and "/" not in path[len(prefix):]:
                names[href] = path[len(prefix):]
        rows = live_rows_named(book.vb.book.id, list(names.values()))
        for href in page:
            row = rows.get(names.get(href))
            if row is None:
                out.status(href, 404)
                continue
            cards.respond(out, row)
        yield out.drain()
    yield out.finish()
