"""Who may do what on which scope or record. The provider, the admin and the CLI ask
here and never decide themselves.

Scopes are address books (owned by a user or a group); records are contacts, each in
one book and in one state (`active`, `archived`, `deleted`). The whole policy:

- A user's *access* to a book is `write`, `read` or nothing: admins and super admins
  write every book; a member writes their own books and reaches a group's books with
  the access of their membership (`_access`). Inactive users reach nothing.
- A record is *visible* when its book is, and, if deleted, only to super admins.
- Invisible → NotFound for every action. Visible: `read` is allowed; `administer` is
  for admins; `write`, `delete`, `archive` and `restore` need write access, and
  restoring a deleted record needs a super admin (the only ones who see it).

`decide` is that rule; `allowed` and `require` ask it; `contact_scope` is the same
rule as a SQL condition for listings (`listed_books` as a list of books). Over DAV a
user still reaches only the books of their own home (`visible_books`), with the
access decided here.

Accounts: admins manage admins and members, super admins alone touch super admins,
nobody changes their own account (`may_manage`); linking an account to a contact
follows the same rule, one's own excepted (`may_link_user`); app passwords are
revoked by their owner or any admin (`may_revoke_app_password`).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import SQL, Expression

from ..errors import DomainError, Forbidden, NotFound
from ..model import AddressBook, Contact, Group, Lookup, Membership, User

# Actions (DESIGN.md "Access control").
READ = "read"
WRITE = "write"
DELETE = "delete"
ARCHIVE = "archive"
RESTORE = "restore"
ADMINISTER = "administer"
ACTIONS = (READ, WRITE, DELETE, ARCHIVE, RESTORE, ADMINISTER)

SUPERADMIN = "superadmin"
ADMIN = "admin"
STAFF = (SUPERADMIN, ADMIN)

# A target: a scope, a record, or None for the installation itself (users, groups).
Target = AddressBook | Contact | None

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


def _signed_in(user: User | None) -> bool:
    return user is not None and bool(user.active)


def _access(user: User | None, *, owns: bool, membership: str | None) -> str | None:
    """The one rule for a user's access to a book: `write`, `read` or None."""
    if not _signed_in(user):
        return None
    if user.role in STAFF or owns:
        return WRITE
    return membership


def _sees_deleted(user: User) -> bool:
    """Deleted contacts exist for super admins only."""
    return user.role == SUPERADMIN


def book_access(user: User | None, book: AddressBook) -> str | None:
    """`write`, `read`, or None for a user on a book (at most one query)."""
    if not _signed_in(user):
        return None
    owns = book.owner_user_id is not None and book.owner_user_id == user.id
    membership = None
    if not owns and user.role not in STAFF and book.owner_group_id is not None:
        m = (Membership.select(Membership.access)
             .where((Membership.user == user.id) & (Membership.group == book.owner_group_id))
             .first())
        membership = m.access if m else None
    return _access(user, owns=owns, membership=membership)


def _contact_access(user: User | None, contact: Contact) -> str | None:
    """`book_access` for a contact's book, loading the book (once: peewee caches it on
    the contact) only when the role alone does not decide."""
    if _signed_in(user) and user.role in STAFF:
        return _access(user, owns=False, membership=None)
    return book_access(user, contact.book)


def decide(user: User | None, action: str, target: Target) -> DomainError | None:
    """None if `user` may do `action` on `target`, else the error to raise: NotFound
    when they cannot even see it, Forbidden when they see it but may not act."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if target is None:
        if _signed_in(user) and user.role in STAFF and action == ADMINISTER:
            return None
        return Forbidden("only admins manage users and groups")
    if isinstance(target, Contact):
        access = _contact_access(user, target)
        if access is None or (target.state == "deleted" and not _sees_deleted(user)):
            return NotFound("no such contact")
    else:
        access = book_access(user, target)
        if access is None:
            return NotFound("no such address book")
    if action == READ:
        return None
    if action == ADMINISTER:
        return None if user.role in STAFF else Forbidden("only admins may administer this")
    if action == RESTORE and isinstance(target, Contact) and target.state == "deleted":
        return None if _sees_deleted(user) else Forbidden(
            "only super admins restore deleted contacts")
    if access != WRITE:
        return Forbidden("read-only access to this address book")
    return None


def allowed(user: User | None, action: str, target: Target) -> bool:
    """May `user` do `action` (READ … ADMINISTER) on a book, a contact, or (None) the
    installation's users and groups?"""
    return decide(user, action, target) is None


def require(user: User | None, action: str, target: Target) -> None:
    """Raise NotFound (cannot see it) or Forbidden (sees it, may not act) unless
    `allowed(user, action, target)`."""
    error = decide(user, action, target)
    if error is not None:
        raise error


def _nothing() -> Expression:
    return SQL("1 = 0")


def _reachable(column, user: User) -> Expression:
    """`column` (a book id) names a member's own book or one of their groups' books."""
    own = AddressBook.select(AddressBook.id).where(AddressBook.owner_user == user.id)
    groups = (AddressBook.select(AddressBook.id)
              .join(Membership, on=(Membership.group == AddressBook.owner_group))
              .where(Membership.user == user.id))
    return column.in_(own) | column.in_(groups)


def book_scope(user: User | None) -> Expression | None:
    """`decide`'s visibility of books as a SQL condition on AddressBook (None: every
    book)."""
    if not _signed_in(user):
        return _nothing()
    if user.role in STAFF:
        return None
    return _reachable(AddressBook.id, user)


def listed_books(user: User | None) -> list[int] | None:
    """`book_scope` as the ids of the books (None: every book), for listings that read
    each of a member's books through its own index (contacts/listing.py)."""
    if not _signed_in(user):
        return []
    if user.role in STAFF:
        return None
    return [vb.book.id for vb in visible_books(user)]


def contact_scope(user: User | None) -> Expression | None:
    """`decide`'s visibility of contacts as a SQL condition on Contact (None: every
    contact), so a listing is filtered by the database, not row by row."""
    if not _signed_in(user):
        return _nothing()
    books = None if user.role in STAFF else _reachable(Contact.book, user)
    if _sees_deleted(user):
        return books
    not_deleted = Contact.state != "deleted"
    return not_deleted if books is None else books & not_deleted


def privileges(access: str | None) -> tuple[str, ...]:
    """The DAV privileges that an access level grants."""
    if access == WRITE:
        return READ_PRIVILEGES + WRITE_PRIVILEGES
    if access == READ:
        return READ_PRIVILEGES
    return ()


def require_book(user: User | None, book: AddressBook, action: str) -> None:
    """Raise NotFound if the user cannot see the book, Forbidden if they may see but
    not `action` on it (thin wrapper of `require`)."""
    require(user, action, book)


def visible_books(user: User) -> list[VisibleBook]:
    """The books of a user's DAV home: their own and one per group book they are a
    member of (2 queries), each with the access `_access` gives."""
    if not _signed_in(user):
        return []
    own = _access(user, owns=True, membership=None)
    out = [VisibleBook(b, b.slug, own)
           for b in AddressBook.select().where(AddressBook.owner_user == user.id)
           .order_by(AddressBook.id)]
    rows = (AddressBook.select(AddressBook, Group.name.alias("group_name"),
                               Membership.access.alias("access"))
            .join(Group, on=(AddressBook.owner_group == Group.id))
            .join(Membership, on=(Membership.group == Group.id))
            .where(Membership.user == user.id)
            .order_by(Group.name, AddressBook.id)
            .objects())
    out.extend(VisibleBook(b, group_book_segment(b.group_name, b.slug),
                           _access(user, owns=False, membership=b.access)) for b in rows)
    return out


_OWN_BOOK = Lookup(AddressBook, '"owner_user_id" = {p} AND "slug" = {p}', limit=1)


def find_visible_book(user: User, segment: str) -> VisibleBook | None:
    """The book a user reaches at `segment` of their home, or None."""
    if not _signed_in(user):
        return None
    if not is_reserved_segment(segment):
        b = _OWN_BOOK.first(user.id, segment)
        return VisibleBook(b, segment, _access(user, owns=True, membership=None)) if b else None
    for vb in visible_books(user):
        if vb.segment == segment:
            return vb
    return None


def may_use_home(user: User | None, owner_username: str) -> bool:
    """Only the owner reaches a home and a principal over DAV."""
    return _signed_in(user) and user.username == owner_username


def can_manage_users(user: User | None) -> bool:
    return allowed(user, ADMINISTER, None)


def can_restore_deleted(user: User | None) -> bool:
    """May this user see and restore deleted contacts?"""
    return _signed_in(user) and _sees_deleted(user)


def may_list_state(user: User | None, state: str) -> bool:
    """May the user list contacts in this state? Active and archived ones: everyone
    (within the books they see); deleted ones: those who see them (super admins)."""
    if state == "deleted":
        return can_restore_deleted(user)
    return state in ("active", "archived")


def may_manage(actor: User | None, target: User | None, role: str | None = None) -> bool:
    """May `actor` create (`target` None) or change a user account, giving it `role`?
    Admins manage admins and members; super admins alone touch super admins; nobody
    changes their own account this way (no lock-out of oneself)."""
    if not can_manage_users(actor):
        return False
    if target is not None and target.id == actor.id:
        return False
    touches_super = role == SUPERADMIN or (target is not None and target.role == SUPERADMIN)
    return not touches_super or actor.role == SUPERADMIN


def may_link_user(actor: User | None, target: User) -> bool:
    """May `actor` link a contact to the account `target` (its display name and email
    then follow the contact)? Admins, for an account they manage or their own."""
    return can_manage_users(actor) and (target.id == actor.id or may_manage(actor, target))


def may_revoke_app_password(actor: User | None, owner: User) -> bool:
    """Users revoke their own app passwords; admins anyone's (cutting off a lost device
    grants nothing, so the super-admin rule of `may_manage` does not apply)."""
    return _signed_in(actor) and (actor.id == owner.id or can_manage_users(actor))
