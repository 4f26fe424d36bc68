"""Listing contacts for people (the admin's contacts page, its pickers and exports):
filters, free-text search, sorting and keyset pagination, always inside the ACL
(`records.list_contacts`, i.e. `policy.contact_scope`, in SQL).

A page is one query of `limit + 1` rows after (or before) the last row seen, ordered
by (sort column, display name, id) and compared as a row value, so page 2,000 costs
what page 1 costs: no OFFSET, and no COUNT(*) of the whole table. The indexes that
serve these orders are in model/books.py (schema 5).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from peewee import Tuple

from ..acl import policy
from ..model import AddressBook, Contact, ContactTag, ContactValue, Group, Tag, User
from . import records
from .actor import Actor

PAGE_SIZE = 50
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("display_name",),
    "company": ("org", "display_name"),
    "city": ("city", "display_name"),
}
KINDS = ("person", "company", "group")
MAX_QUERY = 200

Cursor = tuple  # (sort values…, id)


@dataclass(frozen=True)
class ListQuery:
    kind: str = ""  # "", person, company, group
    state: str = "active"
    tag: str = ""
    q: str = ""
    sort: str = "name"
    desc: bool = False
    after: Cursor | None = None
    before: Cursor | None = None
    limit: int = PAGE_SIZE


@dataclass
class Page:
    rows: list[Contact]
    tags: dict[int, list[str]] = field(default_factory=dict)
    next: str | None = None  # cursor tokens for the links
    prev: str | None = None


def encode_cursor(values: Cursor) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str | None, sort: str) -> Cursor | None:
    """A cursor from a link, or None when it is missing or malformed."""
    if not token or len(token) > 4096:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    width = len(SORTS[sort]) + 1
    if (not isinstance(values, list) or len(values) != width
            or not all(isinstance(v, str) for v in values[:-1])
            or not isinstance(values[-1], int) or isinstance(values[-1], bool)):
        return None
    return tuple(values)


def _columns(sort: str) -> list:
    return [getattr(Contact, name) for name in SORTS[sort]] + [Contact.id]


def _cursor_of(row: Contact, sort: str) -> str:
    return encode_cursor(tuple(getattr(row, name) for name in SORTS[sort]) + (row.id,))


def search_condition(text: str, books: list[int] | None = None):
    """Display name or company (columns of Contact), or any email, phone, URL of the
    card (ContactValue, which holds the first email and phone too), case-insensitively,
    within `books` when given (a member's: their rows only are read). One IN over a
    UNION: an OR of the two costs twice as much when few rows match (measured at
    100,000 contacts on SQLite and PostgreSQL). A substring search reads every row in
    scope: no index serves LIKE '%…%'."""
    text = text.strip()[:MAX_QUERY]
    named = Contact.alias()
    by_name = named.select(named.id).where(named.display_name.contains(text)
                                           | named.org.contains(text))
    by_value = (ContactValue.select(ContactValue.contact)
                .where(ContactValue.value.contains(text)))
    if books is not None:
        by_name = by_name.where(named.book.in_(books))
        owner = Contact.alias()
        by_value = (by_value.join(owner, on=(ContactValue.contact == owner.id))
                    .where(owner.book.in_(books)))
    return Contact.id.in_(by_name | by_value)


def _books(actor: Actor) -> list[int] | None:
    """The ids of the books the actor lists (None: every book)."""
    return None if actor.is_system else policy.listed_books(actor.user)


def matching(actor: Actor, query: ListQuery, books: list[int] | None = None):
    """The contacts the actor may see that match the query's filters (state, kind, tag,
    search), as an unordered query: the page and the export each order it. `books`:
    the actor's books when known (`_books`), to narrow the tag lookup to them."""
    base = records.list_contacts(actor, state=query.state,
                                 kind=query.kind if query.kind in KINDS else None)
    if query.tag:
        tags = Tag.select(Tag.id).where(Tag.name == query.tag)
        if books is not None:
            tags = tags.where(Tag.book.in_(books))
        tagged = ContactTag.select(ContactTag.contact).where(ContactTag.tag.in_(tags))
        base = base.where(Contact.id.in_(tagged))
    if query.q.strip():
        base = base.where(search_condition(query.q, books))
    return base.order_by()


def contacts_page(actor: Actor, query: ListQuery) -> Page:
    """One page of the contacts the actor may see matching `query`."""
    columns = _columns(query.sort)
    books = _books(actor)
    base = matching(actor, query, books)
    backwards = query.before is not None
    ascending = query.desc == backwards
    mark = query.before if backwards else query.after
    if mark is not None:
        after_mark = (not query.desc) != backwards
        key, values = Tuple(*columns), Tuple(*mark)
        base = base.where(key > values if after_mark else key < values)
    order = [c.asc() if ascending else c.desc() for c in columns]
    base = _by_book(books, base, order, query.limit + 1)
    rows = list(base.select(Contact.id, Contact.book, Contact.kind, Contact.state,
                            Contact.display_name, Contact.org, Contact.company, Contact.city,
                            Contact.email, Contact.phone, Contact.title, Contact.has_photo,
                            Contact.updated_at)
                .order_by(*order).limit(query.limit + 1))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    if backwards:
        rows.reverse()
    page = Page(rows, tags=tags_of([r.id for r in rows]))
    if rows:
        if more or backwards:
            page.next = _cursor_of(rows[-1], query.sort)
        if (more and backwards) or (not backwards and query.after is not None):
            page.prev = _cursor_of(rows[0], query.sort)
    return page


def _by_book(books: list[int] | None, base, order: list, limit: int):
    """A member's listing read book by book. The ACL's condition (`book IN (their
    books)`) lets the database walk one index over every book of the installation
    (170 ms for a member's 30 contacts among 100,000); `book = ?` reads their rows in
    order from the (book, state, sort…) indexes. Several books: each gives its first
    rows, and the database orders those few (its collation, not Python's, decides)."""
    if books is None or not books:
        return base
    if len(books) == 1:
        return base.where(Contact.book == books[0])
    ids = [row_id for book_id in books
           for (row_id,) in base.where(Contact.book == book_id).select(Contact.id)
           .order_by(*order).limit(limit).tuples()]
    return Contact.select().where(Contact.id.in_(ids))


def each_matching(actor: Actor, query: ListQuery, *, batch: int = 500) -> Iterator[Contact]:
    """Every contact matching the query (card text included), by id, read in keyset
    batches: an export of 100,000 contacts holds one batch in memory at a time."""
    last, books = 0, _books(actor)
    while True:
        rows = list(matching(actor, query, books)
                    .select(Contact.id, Contact.book, Contact.name, Contact.kind,
                            Contact.state, Contact.vcard, Contact.assignee)
                    .where(Contact.id > last).order_by(Contact.id).limit(batch))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id


def tags_of(contact_ids: list[int]) -> dict[int, list[str]]:
    """The tags of these contacts, by contact id (one query)."""
    if not contact_ids:
        return {}
    out: dict[int, list[str]] = {}
    rows = (ContactTag.select(ContactTag.contact, Tag.name).join(Tag)
            .where(ContactTag.contact.in_(contact_ids)).order_by(Tag.name).tuples())
    for contact_id, name in rows:
        out.setdefault(contact_id, []).append(name)
    return out


def tag_names(actor: Actor, limit: int = 200) -> list[str]:
    """The distinct tag names of the books the actor sees (the filter sidebar)."""
    query = Tag.select(Tag.name).distinct().order_by(Tag.name).limit(limit)
    scope = None if actor.is_system else policy.book_scope(actor.user)
    if scope is not None:
        query = query.where(Tag.book.in_(AddressBook.select(AddressBook.id).where(scope)))
    return [name for (name,) in query.tuples()]


def suggest(actor: Actor, kind: str, text: str, limit: int = 20, *,
            book_id: int | None = None) -> list[Contact]:
    """Active contacts of a kind the actor sees whose name contains `text` (pickers),
    in one book if `book_id` is given."""
    query = records.list_contacts(actor, state="active", kind=kind)
    if book_id is not None:
        query = query.where(Contact.book == book_id)
    if text.strip():
        query = query.where(Contact.display_name.contains(text.strip()[:MAX_QUERY]))
    return list(query.select(Contact.id, Contact.display_name, Contact.org, Contact.book)
                .limit(limit))


def book_labels(book_ids: Iterable[int]) -> dict[int, str]:
    """An owner label per book (`alice`, `alice/work`, `group sales`), in two queries
    whatever the number of books."""
    ids = list(set(book_ids))
    if not ids:
        return {}
    labels: dict[int, str] = {}
    rows = (AddressBook.select(AddressBook.id, AddressBook.slug, User.username)
            .join(User, on=(AddressBook.owner_user == User.id))
            .where(AddressBook.id.in_(ids)).tuples())
    for book_id, slug, username in rows:
        labels[book_id] = username if slug == "personal" else f"{username}/{slug}"
    rows = (AddressBook.select(AddressBook.id, AddressBook.slug, Group.name)
            .join(Group, on=(AddressBook.owner_group == Group.id))
            .where(AddressBook.id.in_(ids)).tuples())
    for book_id, slug, name in rows:
        labels[book_id] = f"group {name}" if slug == "contacts" else f"group {name}/{slug}"
    return labels
