"""The one write path for cards: create, replace, rename and move, the visibility
states (archive, soft delete, restore) and the change of owner.

Each operation asks the ACL, validates, writes the row, a Revision and a Change in
one transaction, with a compare-and-swap on the ETag (or the state) so that two
processes cannot both win a precondition (WSGIDAV.md §4). A card that leaves DAV
(archived, deleted, moved away) is logged as removed, one that comes back as new.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import IntegrityError

from ..acl import policy
from ..errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    TooLarge,
    UidConflict,
)
from ..model import AddressBook, Contact, Lookup, Revision, utcnow, write_transaction
from ..vcard import parse_card
from ..vcard.derive import card_etag, derive_columns, derive_details, photo_size
from ..vcard.parse import ParsedCard
from .actor import Actor
from .records import (
    company_people,
    follow_linked_user,
    move_tags,
    require,
    resolve_company,
    store_details,
)
from .sync import record_change

MAX_NAME = 512
MAX_UID = 512  # Contact.uid is a VARCHAR(512): PostgreSQL refuses longer values


class CardTaken(Conflict):
    """A live card of the book already holds the name or UID a restore or an owner
    change needs. Neither card is touched; `existing` is the live one."""

    def __init__(self, reason: str, *, existing: Contact):
        super().__init__(reason)
        self.existing = existing


@dataclass(frozen=True)
class PutResult:
    contact: Contact
    created: bool
    changed: bool


def validate_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or len(name) > MAX_NAME:
        raise InvalidInput(f"invalid resource name {name!r}")


_LIVE_CARD = Lookup(Contact, '"book_id" = {p} AND "name_key" = {p}', limit=1)
_UID_HOLDER = Lookup(Contact, '"book_id" = {p} AND "uid_key" = {p}', limit=1)


def live_card(book_id: int, name: str) -> Contact | None:
    """The active card at `name` in a book, or None."""
    return _LIVE_CARD.first(book_id, name)


def _uid_owner(book_id: int, uid: str, exclude_id: int | None) -> Contact | None:
    holder = _UID_HOLDER.first(book_id, uid)
    return None if holder is None or holder.id == exclude_id else holder


def put_card(actor: Actor, book: AddressBook, name: str, data: bytes, *,
             max_size: int, expected_etag: str | None = None,
             must_not_exist: bool = False, max_photo: int | None = None) -> PutResult:
    """Create or replace the card at `name`.

    `expected_etag`: the card must exist with this ETag (If-Match); `must_not_exist`:
    it must not exist (If-None-Match: *). Storing the same bytes again is a no-op, so
    a client's retried create does not duplicate anything.
    """
    require(actor, policy.WRITE, book)
    validate_name(name)
    card = parse_card(data, max_size=max_size)
    if len(card.uid) > MAX_UID:
        raise InvalidInput(f"the UID is longer than {MAX_UID} characters")
    if max_photo is not None and photo_size(card) > max_photo:
        raise TooLarge(f"the PHOTO is larger than {max_photo} bytes")
    with write_transaction():
        return _store(actor, book, name, data, card, expected_etag=expected_etag,
                      must_not_exist=must_not_exist)


def _store(actor: Actor, book: AddressBook, name: str, data: bytes, card: ParsedCard, *,
           expected_etag: str | None, must_not_exist: bool) -> PutResult:
    """Write a validated card (the caller checked the ACL and holds the transaction):
    the row, its derived rows, a Revision and a Change."""
    text = data.decode("utf-8")
    etag = card_etag(data)
    details = derive_details(card)
    columns = derive_columns(card, details)
    author = actor.user.id if actor.user else None
    now = utcnow()
    existing = live_card(book.id, name)
    if existing is None:
        if expected_etag is not None:
            raise PreconditionFailed(f"{name} does not exist")
        clash = _uid_owner(book.id, card.uid, None)
        if clash:
            raise UidConflict(f"UID {card.uid!r} is already used by {clash.name}",
                              existing_name=clash.name, book_id=book.id)
        company = (resolve_company(actor, book.id, columns["org"], None)
                   if card.kind == "person" else None)
        try:
            with write_transaction():
                contact = Contact.create(
                    book=book.id, name=name, name_key=name, uid=card.uid, uid_key=card.uid,
                    kind=card.kind, vcard=text, etag=etag, version=card.version,
                    size=len(data), created_by=author, created_at=now, updated_at=now,
                    company=company, **columns)
        except IntegrityError as exc:  # a concurrent create won the race
            raise PreconditionFailed(f"{name} was created concurrently") from exc
        store_details(contact.id, book.id, details, new=True)
        Revision.create(contact=contact.id, vcard=text, etag=etag, action="create",
                        door=actor.door, author=author, created_at=now)
        record_change(book.id, name, removed=False)
        return PutResult(contact, created=True, changed=True)

    if must_not_exist:
        raise PreconditionFailed(f"{name} already exists")
    if expected_etag is not None and expected_etag != existing.etag:
        raise PreconditionFailed(f"{name} has changed")
    if existing.etag == etag:
        return PutResult(existing, created=False, changed=False)
    clash = _uid_owner(book.id, card.uid, existing.id)
    if clash:
        raise UidConflict(f"UID {card.uid!r} is already used by {clash.name}",
                          existing_name=clash.name, book_id=book.id)
    company = (resolve_company(actor, book.id, columns["org"], existing.company_id)
               if card.kind == "person" else None)
    fields = dict(uid=card.uid, uid_key=card.uid, kind=card.kind, vcard=text, etag=etag,
                  version=card.version, size=len(data), updated_at=now, company=company,
                  **columns)
    try:
        with write_transaction():
            updated = (Contact.update(**fields)
                       .where((Contact.id == existing.id) & (Contact.etag == existing.etag)
                              & (Contact.name_key == name))
                       .execute())
    except IntegrityError as exc:
        raise PreconditionFailed(f"{name}: UID taken concurrently") from exc
    if updated != 1:
        raise PreconditionFailed(f"{name} was changed concurrently")
    store_details(existing.id, book.id, details, new=False)
    Revision.create(contact=existing.id, vcard=text, etag=etag, action="update",
                    door=actor.door, author=author, created_at=now)
    record_change(book.id, name, removed=False)
    old_name = existing.display_name
    for key, value in fields.items():
        setattr(existing, key, value)
    follow_linked_user(existing)
    if existing.kind == "company" and old_name != existing.display_name:
        _rename_company(actor, existing)
    return PutResult(existing, created=False, changed=True)


def _rename_company(actor: Actor, company: Contact) -> None:
    """Rewrite ORG on every person linked to a renamed company, through this same
    path, so their clients receive it on the next sync (DESIGN.md)."""
    people = company_people(company)
    if not people:
        return
    from ..vcard.edit import set_org_name
    for person in people:
        text = set_org_name(person.vcard, company.display_name)
        if text == person.vcard:
            continue
        data = text.encode("utf-8")
        book = AddressBook.get_by_id(person.book_id)
        _store(actor, book, person.name, data, parse_card(data), expected_etag=person.etag,
               must_not_exist=False)


def delete_card(actor: Actor, contact: Contact, *, expected_etag: str | None = None) -> None:
    """Soft delete an active or archived card: it leaves DAV (404, reported removed by
    sync); its row and revisions stay for a super admin to restore."""
    require(actor, policy.DELETE, contact)
    if contact.state == "deleted":
        raise Conflict(f"{contact.name} is already deleted")
    _hide(actor, contact, state="deleted", action="delete", expected_etag=expected_etag)


def archive_card(actor: Actor, contact: Contact) -> None:
    """Archive an active card: it leaves DAV like a deleted one, but anyone who may
    write its book sees it in the admin and may restore it."""
    require(actor, policy.ARCHIVE, contact)
    if contact.state != "active":
        raise Conflict(f"{contact.name} is {contact.state}; only an active card is archived")
    _hide(actor, contact, state="archived", action="archive", expected_etag=None)


def _hide(actor: Actor, contact: Contact, *, state: str, action: str,
          expected_etag: str | None) -> None:
    """Move a card from its current state to a hidden one (compare-and-swap on the
    state). Only a card that was live is reported removed: a hidden card's name may
    already belong to a new live card, which must not vanish from clients."""
    author = actor.user.id if actor.user else None
    now = utcnow()
    was_live = contact.state == "active"
    with write_transaction():
        cond = (Contact.id == contact.id) & (Contact.state == contact.state)
        if expected_etag is not None:
            cond &= Contact.etag == expected_etag
        updated = (Contact.update(state=state, name_key=None, uid_key=None,
                                  state_changed_by=author, state_changed_at=now, updated_at=now)
                   .where(cond).execute())
        if updated != 1:
            raise PreconditionFailed(f"{contact.name} was changed concurrently")
        Revision.create(contact=contact.id, vcard=contact.vcard, etag=contact.etag,
                        action=action, door=actor.door, author=author, created_at=now)
        if was_live:
            record_change(contact.book_id, contact.name, removed=True)
    contact.state, contact.name_key, contact.uid_key = state, None, None
    contact.state_changed_by, contact.state_changed_at = author, now


def restore_card(actor: Actor, contact: Contact) -> None:
    """Bring an archived or deleted card back to active in its book, under its name,
    with the same bytes and ETag; sync clients see it as new. Archived cards: anyone
    who may write the book; deleted ones: super admins. If a live card now holds its
    name or UID, CardTaken names that card and nothing changes."""
    require(actor, policy.RESTORE, contact)
    if contact.state == "active":
        raise Conflict(f"{contact.name} is active; there is nothing to restore")
    author = actor.user.id if actor.user else None
    now = utcnow()
    with write_transaction():
        _ensure_free(contact.book_id, contact, "restore")
        try:
            with write_transaction():
                updated = (Contact.update(state="active", name_key=contact.name,
                                          uid_key=contact.uid, state_changed_by=author,
                                          state_changed_at=now, updated_at=now)
                           .where((Contact.id == contact.id)
                                  & (Contact.state == contact.state)).execute())
        except IntegrityError as exc:  # a concurrent create took the name or UID
            raise Conflict(f"{contact.name}: its name or UID was taken concurrently") from exc
        if updated != 1:
            raise PreconditionFailed(f"{contact.name} was changed concurrently")
        Revision.create(contact=contact.id, vcard=contact.vcard, etag=contact.etag,
                        action="restore", door=actor.door, author=author, created_at=now)
        record_change(contact.book_id, contact.name, removed=False)
    contact.state, contact.name_key, contact.uid_key = "active", contact.name, contact.uid
    contact.state_changed_by, contact.state_changed_at = author, now


def _ensure_free(book_id: int, contact: Contact, verb: str) -> None:
    """Raise CardTaken if another live card of the book has the card's name or UID."""
    for what, value, holder in (("name", contact.name, live_card(book_id, contact.name)),
                                ("UID", contact.uid, _UID_HOLDER.first(book_id, contact.uid))):
        if holder is not None and holder.id != contact.id:
            raise CardTaken(f"cannot {verb} {contact.name}: its {what} {value!r} is now used "
                            f"by the live card {holder.name} ({holder.display_name!r}) "
                            f"[contact {holder.id}]", existing=holder)


def move_card(actor: Actor, contact: Contact, dest_book: AddressBook, dest_name: str, *,
              overwrite: bool) -> bool:
    """Rename a card or move it to another book (MOVE). As sync clients must see it:
    removed at the old name, created at the new one; its history goes with it.
    Returns True if the destination existed (and was replaced)."""
    require(actor, policy.WRITE, contact)
    require(actor, policy.WRITE, dest_book)
    validate_name(dest_name)
    with write_transaction():
        target = live_card(dest_book.id, dest_name)
        if target is not None and target.id == contact.id:
            return True
        if target is not None:
            if not overwrite:
                raise PreconditionFailed(f"{dest_name} exists and Overwrite is F")
            _hide(actor, target, state="deleted", action="delete", expected_etag=None)
        clash = _uid_owner(dest_book.id, contact.uid, contact.id)
        if clash:
            raise UidConflict(f"UID {contact.uid!r} is already used by {clash.name}",
                              existing_name=clash.name, book_id=dest_book.id)
        _relocate(actor, contact, dest_book, dest_name, action="move")
        return target is not None


def change_owner(actor: Actor, contact: Contact, dest_book: AddressBook) -> None:
    """Give a card to another owner scope, under the same name. Sync clients of the
    old book see it removed, those of the new one see it created; its revisions stay
    with it. Needs write on both books; a live card of the destination with the same
    name or UID raises CardTaken (nothing is replaced). A hidden (archived, deleted)
    card moves quietly and is checked when it is restored."""
    require(actor, policy.WRITE, contact)
    require(actor, policy.WRITE, dest_book)
    if contact.book_id == dest_book.id:
        return
    with write_transaction():
        if contact.state == "active":
            _ensure_free(dest_book.id, contact, "move")
        _relocate(actor, contact, dest_book, contact.name, action="owner")


def _relocate(actor: Actor, contact: Contact, dest_book: AddressBook, dest_name: str, *,
              action: str) -> None:
    """Put a card at `dest_name` of `dest_book` (the caller checked the destination is
    free and holds the transaction): the row, its tags, a Revision, and for a live card
    a removal in the old place and a creation in the new one."""
    author = actor.user.id if actor.user else None
    now = utcnow()
    live = contact.state == "active"
    src_book_id, src_name = contact.book_id, contact.name
    this = (Contact.id == contact.id) & (Contact.state == contact.state)
    # Free the source keys first: the unique (book, uid_key) index would otherwise
    # see the card twice within one book. The state is compared and swapped, so a
    # card hidden meanwhile is not brought back to life by a stale caller.
    if Contact.update(name_key=None, uid_key=None).where(this).execute() != 1:
        raise PreconditionFailed(f"{contact.name} was changed concurrently")
    try:
        with write_transaction():
            Contact.update(book=dest_book.id, name=dest_name,
                           name_key=dest_name if live else None,
                           uid_key=contact.uid if live else None, updated_at=now).where(
                this).execute()
    except IntegrityError as exc:  # a concurrent create took the name or UID
        raise Conflict(f"{dest_name}: its name or UID was taken concurrently") from exc
    if dest_book.id != src_book_id:
        move_tags(contact.id, dest_book.id)
    Revision.create(contact=contact.id, vcard=contact.vcard, etag=contact.etag,
                    action=action, door=actor.door, author=author, created_at=now)
    if live:
        record_change(src_book_id, src_name, removed=True)
        record_change(dest_book.id, dest_name, removed=False)
    contact.book, contact.name = dest_book, dest_name
    contact.name_key = dest_name if live else None
    contact.uid_key = contact.uid if live else None


def copy_card(actor: Actor, contact: Contact, dest_book: AddressBook, dest_name: str, *,
              overwrite: bool, max_size: int) -> PutResult:
    """COPY: a new card with the same bytes (a UID clash in one book is a 409)."""
    existing = live_card(dest_book.id, dest_name)
    if existing is not None and not overwrite:
        raise PreconditionFailed(f"{dest_name} exists and Overwrite is F")
    return put_card(actor, dest_book, dest_name, contact.vcard.encode("utf-8"), max_size=max_size)


def get_contact(book_id: int, name: str) -> Contact:
    contact = live_card(book_id, name)
    if contact is None:
        raise NotFound(name)
    return contact
