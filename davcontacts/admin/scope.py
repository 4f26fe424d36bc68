"""Which books and contacts the signed-in user reaches in the admin. Every decision
is acl.policy's (`decide`, `allowed`, `contact_scope`); the helpers marked "model
layer" are thin wrappers kept here until they move to acl/policy.py or contacts/.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..acl import policy
from ..errors import NotFound
from ..model import AddressBook, Contact, Group, User

STATES = ("active", "archived", "deleted")


def may_list_state(user: User, state: str) -> bool:
    """Model layer (acl.policy): deleted contacts are listed for those who may see
    them (super admins); active and archived for everyone."""
    if state == "deleted":
        return policy.can_restore_deleted(user)
    return state in STATES


@dataclass(frozen=True)
class VisibleContact:
    contact: Contact
    book: AddressBook
    writable: bool  # policy: WRITE on the contact (and it is active)


def visible_contact(user: User, contact_id: int) -> VisibleContact:
    """The contact with this id if the user may see it, else NotFound (never
    Forbidden: another member's contact does not exist for them)."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        raise NotFound("no such contact")
    policy.require(user, policy.READ, contact)
    writable = contact.state == "active" and policy.allowed(user, policy.WRITE, contact)
    return VisibleContact(contact, contact.book, writable)


def contact_condition(user: User):
    """policy.contact_scope: the visibility rule as a SQL condition (None: all)."""
    return policy.contact_scope(user)


def book_condition(user: User):
    """The ids of the books the user sees, as a subquery (None: every book)."""
    scope = policy.book_scope(user)
    if scope is None:
        return None
    return AddressBook.select(AddressBook.id).where(scope)


def writable_books(user: User) -> list[policy.VisibleBook]:
    """The books offered for a new contact or a change of owner: those of the user's
    home that they may write (their own, then their groups')."""
    return [vb for vb in policy.visible_books(user) if vb.access == policy.WRITE]


def book_labels(book_ids: set[int] | list[int]) -> dict[int, str]:
    """Model layer: an owner label per book (`alice`, `alice/work`, `group sales`),
    in two queries whatever the number of books."""
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


def may_manage(actor: User, target: User | None, role: str | None = None) -> bool:
    """Model layer (acl.policy): whether `actor` may create (`target` None) or change a
    user, giving them `role`. Admins manage admins and members; super admins alone
    touch super admins; nobody changes their own account here (no self lock-out)."""
    if not policy.can_manage_users(actor):
        return False
    if target is not None and target.id == actor.id:
        return False
    touches_super = role == "superadmin" or (target is not None and target.role == "superadmin")
    return not touches_super or actor.role == "superadmin"
