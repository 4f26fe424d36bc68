"""Which books and contacts the signed-in user reaches in the admin. Every decision
is acl.policy's (`require`, `allowed`, `visible_books`); this module only shapes its
answers for the views."""

from __future__ import annotations

from dataclasses import dataclass

from ..acl import policy
from ..contacts import records
from ..contacts.actor import Actor
from ..model import CONTACT_STATES, AddressBook, Contact, User

STATES = CONTACT_STATES


@dataclass(frozen=True)
class VisibleContact:
    contact: Contact
    book: AddressBook
    writable: bool  # policy: WRITE on the contact (and it is active)


def visible_contact(user: User, contact_id: int) -> VisibleContact:
    """The contact with this id if the user may see it, else NotFound (never
    Forbidden: another member's contact does not exist for them)."""
    contact = records.get_record(Actor(user, "admin"), contact_id)
    writable = contact.state == "active" and policy.allowed(user, policy.WRITE, contact)
    return VisibleContact(contact, contact.book, writable)


def writable_books(user: User) -> list[policy.VisibleBook]:
    """The books offered for a new contact, an import or a change of owner: those of
    the user's home that they may write (their own, then their groups')."""
    return [vb for vb in policy.visible_books(user) if vb.access == policy.WRITE]
