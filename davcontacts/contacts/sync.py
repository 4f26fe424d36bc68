"""Sync state of a book from the change log (RFC 6578): tokens, ctag, changes since.

A token is a URI naming the book and the last change id a client has seen; reading
changes since a token touches only the log rows after it (index on book, id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Change, Contact, database

_TOKEN_RE = re.compile(r"^urn:x-davcontacts:sync:(\d+):(\d+)$")


def last_change_id(book_id: int) -> int:
    """The newest change id of a book (0 for a book that never changed)."""
    db = database.obj  # prepared by hand: asked on every ctag, token and sync
    cursor = db.execute_sql(f'SELECT MAX("id") FROM "change" WHERE "book_id" = {db.param}',
                            (book_id,))
    return cursor.fetchone()[0] or 0


def live_count(book_id: int) -> int:
    """How many live cards a book holds."""
    return Contact.select().where((Contact.book == book_id)
                                  & Contact.name_key.is_null(False)).count()


def make_token(book_id: int, change_id: int) -> str:
    return f"urn:x-davcontacts:sync:{book_id}:{change_id}"


def parse_token(token: str, book_id: int) -> int | None:
    """The change id a token carries, or None if it is not one of this book's."""
    m = _TOKEN_RE.match(token.strip())
    if not m or int(m.group(1)) != book_id:
        return None
    return int(m.group(2))


@dataclass(frozen=True)
class ChangedMember:
    name: str
    removed: bool
    change_id: int


def changes_since(book_id: int, since: int, limit: int | None = None) -> list[ChangedMember]:
    """Members changed after change id `since`, one entry per name (its last change),
    oldest first; at most `limit` names (the caller continues from the last id)."""
    rows = (Change.select(Change.name, Change.removed, Change.id)
            .where((Change.book == book_id) & (Change.id > since))
            .order_by(Change.id).tuples())
    latest: dict[str, ChangedMember] = {}
    for name, removed, cid in rows.iterator():
        if name not in latest and limit is not None and len(latest) >= limit:
            break
        latest.pop(name, None)
        latest[name] = ChangedMember(name, bool(removed), cid)
    return sorted(latest.values(), key=lambda c: c.change_id)


def record_change(book_id: int, name: str, *, removed: bool) -> int:
    """Append to the sync log (called only from the write path, in its transaction)."""
    return Change.insert(book=book_id, name=name, removed=removed).execute()
