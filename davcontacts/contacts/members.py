"""Contact groups: a group is a card of its book (``X-ADDRESSBOOKSERVER-KIND:group`` in
vCard 3, ``KIND:group`` in 4) whose members are the UIDs it lists (``MEMBER`` or
``X-ADDRESSBOOKSERVER-MEMBER``, kept in `ContactGroupMember` by the write path).

A change of members, or a new group, is a change of that card: the card text is edited
with vcard.edit (every other line stays as the client wrote it) and stored through
cards.put_card with the ETag it was read at, so the ACL, the history, the sync log and
the ETag move exactly as for a client's PUT. Members are looked up in the group's own
book, where clients keep them; a UID that names no live card there is shown as such and
stays in the group (the card may come back, or be synced later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..acl import policy
from ..errors import InvalidInput, NotFound
from ..model import AddressBook, Contact, ContactGroupMember
from ..vcard.build import build_group
from ..vcard.derive import bare_uid
from ..vcard.edit import members as card_members
from ..vcard.edit import set_members, set_single, set_structured
from . import cards
from .actor import Actor
from .records import require
from .transfer import resource_name

MAX_GROUP_NAME = 255
LOOKUP_BATCH = 400


@dataclass(frozen=True)
class Member:
    uid: str  # bare, as the group lists it
    contact: Contact | None  # the live card of the group's book with this UID


def members_of(group: Contact) -> list[Member]:
    """The group's members in its order, resolved in its book (one query, and one per
    `LOOKUP_BATCH` members: a query's parameters are bounded)."""
    uids = [uid for (uid,) in ContactGroupMember.select(ContactGroupMember.member_uid)
            .where(ContactGroupMember.group == group.id)
            .order_by(ContactGroupMember.position, ContactGroupMember.id).tuples()]
    found: dict[str, Contact] = {}
    for start in range(0, len(uids), LOOKUP_BATCH):
        batch = uids[start:start + LOOKUP_BATCH]
        keys = batch + ["urn:uuid:" + uid for uid in batch]
        found.update((bare_uid(c.uid), c) for c in Contact.select().where(
            (Contact.book == group.book_id) & Contact.uid_key.in_(keys)))
    return [Member(uid, found.get(uid)) for uid in uids]


def groups_of(contact: Contact) -> list[Contact]:
    """The live groups of the contact's book that list it, by name."""
    listing = (ContactGroupMember.select(ContactGroupMember.group)
               .where(ContactGroupMember.member_uid == bare_uid(contact.uid)))
    return list(Contact.select().where(
        (Contact.book == contact.book_id) & (Contact.kind == "group")
        & (Contact.state == "active") & Contact.id.in_(listing))
        .order_by(Contact.display_name, Contact.id))


def groups_in(book_id: int, *, limit: int = 500) -> list[Contact]:
    """The live groups of a book, by name."""
    return list(Contact.select().where(
        (Contact.book == book_id) & (Contact.kind == "group") & (Contact.state == "active"))
        .order_by(Contact.display_name, Contact.id).limit(limit))


def create_group(actor: Actor, book: AddressBook, name: str, *, max_size: int) -> Contact:
    """A new, empty contact group named `name` in `book`."""
    uid = str(uuid.uuid4())
    text = build_group(uid, _group_name(name))
    return cards.put_card(actor, book, resource_name(uid), text.encode("utf-8"),
                          must_not_exist=True, max_size=max_size).contact


def rename_group(actor: Actor, group: Contact, name: str, *, max_size: int) -> Contact:
    _check_group(actor, group)
    name = _group_name(name)
    # vCard 3 requires N, and Apple names a group there too (N:Friends): keep both
    text = set_structured(set_single(group.vcard, "FN", name), "N", [name, "", "", "", ""])
    return _store(actor, group, text, max_size=max_size)


def add_member(actor: Actor, group: Contact, member: Contact, *, max_size: int) -> Contact:
    """List `member` (a live card of the group's book) in the group."""
    _check_group(actor, group)
    require(actor, policy.READ, member)
    if member.book_id != group.book_id or member.state != "active":
        raise InvalidInput("a group lists only live contacts of its own address book")
    if member.id == group.id:
        raise InvalidInput("a group cannot list itself")
    uid = bare_uid(member.uid)
    current = card_members(group.vcard)
    if uid in current:
        return group
    return _store(actor, group, set_members(group.vcard, current + [uid]), max_size=max_size)


def remove_member(actor: Actor, group: Contact, uid: str, *, max_size: int) -> Contact:
    """Take the member with this (bare) UID out of the group."""
    _check_group(actor, group)
    current = card_members(group.vcard)
    if uid not in current:
        raise NotFound("the group does not list that member")
    return _store(actor, group, set_members(group.vcard, [u for u in current if u != uid]),
                  max_size=max_size)


def _check_group(actor: Actor, group: Contact) -> None:
    if group.kind != "group":
        raise InvalidInput("not a contact group")
    require(actor, policy.WRITE, group)
    if group.state != "active":
        raise InvalidInput(f"the group is {group.state}; restore it first")


def _group_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("give the group a name")
    if len(name) > MAX_GROUP_NAME:
        raise InvalidInput(f"a group name has at most {MAX_GROUP_NAME} characters")
    return name


def _store(actor: Actor, group: Contact, text: str, *, max_size: int) -> Contact:
    """Store the group's edited card over the version it was read at (a concurrent
    change answers PreconditionFailed; nothing is written then)."""
    if text == group.vcard:
        return group
    book = AddressBook.get_by_id(group.book_id)
    return cards.put_card(actor, book, group.name, text.encode("utf-8"),
                          expected_etag=group.etag, max_size=max_size).contact
