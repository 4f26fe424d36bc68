"""addressbook-multiget (RFC 6352 §8.7): any number of hrefs in one query."""

from __future__ import annotations

from ...model import Contact
from .. import xmlns
from ..base import context
from ..books import Book
from ..multistatus import Multistatus
from . import href_to_path, register, render_card_props, requested_props


@register(xmlns.card("addressbook-multiget"), Book)
def addressbook_multiget(book: Book, root, environ):
    ctx = context(environ)
    props = requested_props(root)
    hrefs = [h.text or "" for h in root.iterfind("{DAV:}href")]
    prefix = book.path.rstrip("/") + "/"
    wanted: dict[str, str] = {}
    for href in hrefs:
        path = href_to_path(href, ctx.mount)
        if path and path.startswith(prefix) and "/" not in path[len(prefix):]:
            wanted[path[len(prefix):]] = href
    rows = {}
    names = list(wanted)
    for i in range(0, len(names), 500):
        chunk = names[i:i + 500]
        for row in Contact.select().where((Contact.book == book.vb.book.id)
                                          & Contact.name_key.in_(chunk)):
            rows[row.name] = row
    out = Multistatus()
    for href in hrefs:
        path = href_to_path(href, ctx.mount)
        name = path[len(prefix):] if path and path.startswith(prefix) else None
        row = rows.get(name) if name else None
        if row is None:
            out.status(href, 404)
            continue
        found, missing = render_card_props(book, row, props, environ)
        out.response(ctx.href(book.card_path(row.name)), found, missing)
    return "207 Multi-Status", out.finish()
