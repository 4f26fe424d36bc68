"""sync-collection (RFC 6578): an empty token lists every member; a token lists only
the changes after it, read from the change log. An unknown token answers 400 with
DAV:valid-sync-token: DAVx5 and Apple act on the body, Thunderbird only on a 400
(CLIENTS.md), so 400 recovers all of them where RFC 6578's 403 would not."""

from __future__ import annotations

from collections.abc import Iterator

from wsgidav.dav_error import DAVError

from ...contacts.sync import changes_since, last_change_id, live_count, make_token, parse_token
from .. import xmlns
from ..base import context
from ..books import Book, live_rows, live_rows_named
from ..multistatus import Multistatus, text_element
from . import CardProps, parse_limit, register, requested_props


@register(xmlns.dav("sync-collection"), Book)
def sync_collection(book: Book, root, environ):
    level = (root.findtext("{DAV:}sync-level") or "1").strip()
    if level not in ("1", "infinite", "infinity"):
        raise DAVError(400, f"unknown sync-level {level!r}")
    token = (root.findtext("{DAV:}sync-token") or "").strip()
    props = requested_props(root)
    limit = parse_limit(root)
    book_id = book.vb.book.id
    if not token:
        new_id = last_change_id(book_id)
        if limit is not None and live_count(book_id) > limit:
            # A truncated initial listing cannot name a token that continues it
            # (RFC 6578 §3.6 lets a server refuse the limit instead).
            raise DAVError(507, err_condition="{DAV:}number-of-matches-within-limits")
        return "207 Multi-Status", _initial(book, props, environ, make_token(book_id, new_id))
    since = parse_token(token, book_id)
    current = last_change_id(book_id)
    if since is None or since > current:
        raise DAVError(400, "unknown sync token", err_condition="{DAV:}valid-sync-token")
    changed = changes_since(book_id, since, limit)
    new_id = changed[-1].change_id if changed else current
    truncated = limit is not None and bool(changed) and new_id < current and \
        bool(changes_since(book_id, new_id, 1))
    return "207 Multi-Status", _incremental(book, props, environ, changed, truncated,
                                            make_token(book_id, new_id))


def _initial(book: Book, props, environ, token: str) -> Iterator[bytes]:
    """Every live member, read in pages and sent in pieces."""
    cards = CardProps(book, props, environ)
    out = Multistatus()
    for row in live_rows(book.vb.book.id, cards.reader):
        cards.respond(out, row)
        if out.full:
            yield out.drain()
    out.raw(text_element(xmlns.SYNC_TOKEN, token))
    yield out.finish()


def _incremental(book: Book, props, environ, changed, truncated: bool,
                 token: str) -> Iterator[bytes]:
    """The members changed since the token: the live ones with their properties, the
    removed ones as a bare 404; a 507 for the collection when truncated."""
    cards = CardProps(book, props, environ)
    out = Multistatus()
    book_id = book.vb.book.id
    for i in range(0, len(changed), 500):
        page = changed[i:i + 500]
        live = [c.name for c in page if not c.removed]
        rows = live_rows_named(book_id, live)
        for c in page:
            row = rows.get(c.name)
            if row is None:
                out.status(cards.href(c.name), 404)
            else:
                cards.respond(out, row)
        yield out.drain()
    if truncated:
        out.status(context(environ).href(book.path), 507, "{DAV:}number-of-matches-within-limits")
    out.raw(text_element(xmlns.SYNC_TOKEN, token))
    yield out.finish()
