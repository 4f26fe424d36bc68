"""Who may do what on which scope. The provider, the admin and the CLI ask here and
never decide themselves.

Scopes are address books (owned by a user or a group) and a user's home (their
books plus plain WebDAV files). Access to a book is `write`, `read` or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden, NotFound
from ..model import AddressBook, Group, Lookup, Membership, User

READ = "read"
WRITE = "write"

# RFC 3744 privileges reported in current-user-privilege-set, listed explicitly
# (CLIENTS.md: Outlook and Thunderbird do not understand `all` alone).
READ_PRIVILEGES = ("read", "read-current-user-privilege-set")
WRITE_PRIVILEGES = ("write", "write-content", "write-properties", "bind", "unbind")


@dataclass(frozen=True)
class VisibleBook:
    """A book as one user sees it: the row, the URL segment in their home, access."""

    book: AddressBook
    segment: str
    access: str


def group_book_segment(group_name: str, slug: str) -> str:
    """URL segment of a group's book in each member's home."""
    return f"group-{group_name}" if slug == "contacts" else f"group-{group_name}-{slug}"


def is_reserved_segment(segment: str) -> bool:
    """Segments a user may not take for their own books or files."""
    return segment.startswith("group-")


def book_access(user: User | None, book: AddressBook) -> str | None:
    """`write`, `read`, or None for a user on a book."""
    if user is None or not user.active:
        return None
    if book.owner_user_id is not None:
        return WRITE if book.owner_user_id == user.id else None
    m = (Membership.select(Membership.access)
         .where((Membership.user == user.id) & (Membership.group == book.owner_group_id))
         .first())
    return m.access if m else None


def privileges(access: str | None) -> tuple[str, ...]:
    """The DAV privileges that an access level grants."""
    if access == WRITE:
        return READ_PRIVILEGES + WRITE_PRIVILEGES
    if access == READ:
        return READ_PRIVILEGES
    return ()


def require_book(user: User | None, book: AddressBook, action: str) -> None:
    """Raise NotFound if the user cannot see the book, Forbidden if they may see but
    not `action` (read/write) on it."""
    access = book_access(user, book)
    if access is None:
        raise NotFound("no such address book")
    if action == WRITE and access != WRITE:
        raise Forbidden("read-only access to this address book")


def visible_books(user: User) -> list[VisibleBook]:
    """The user's own books and one per group book they are a member of (2 queries)."""
    if not user.active:
        return []
    out = [VisibleBook(b, b.slug, WRITE)
           for b in AddressBook.select().where(AddressBook.owner_user == user.id)
           .order_by(AddressBook.id)]
    rows = (AddressBook.select(AddressBook, Group.name.alias("group_name"),
                               Membership.access.alias("access"))
            .join(Group, on=(AddressBook.owner_group == Group.id))
            .join(Membership, on=(Membership.group == Group.id))
            .where(Membership.user == user.id)
            .order_by(Group.name, AddressBook.id)
            .objects())
    out.extend(VisibleBook(b, group_book_segment(b.group_name, b.slug), b.access) for b in rows)
    return out


_OWN_BOOK = Lookup(AddressBook, '"owner_user_id" = {p} AND "slug" = {p}', limit=1)


def find_visible_book(user: User, segment: str) -> VisibleBook | None:
    """The book a user reaches at `segment` of their home, or None."""
    if not is_reserved_segment(segment):
        b = _OWN_BOOK.first(user.id, segment)
        return VisibleBook(b, segment, WRITE) if b and user.active else None
    for vb in visible_books(user):
        if vb.segment == segment:
            return vb
    return None


def may_use_home(user: User | None, owner_username: str) -> bool:
    """Only the owner reaches a home and a principal over DAV."""
    return user is not None and user.active and user.username == owner_username


def can_manage_users(user: User | None) -> bool:
    return user is not None and user.active and user.role in ("superadmin", "admin")


def can_restore_deleted(user: User | None) -> bool:
    return user is not None and user.active and user.role == "superadmin"
