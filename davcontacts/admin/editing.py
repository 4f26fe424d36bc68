"""Saving the contact form: the form's values become a card through vcard.build
(build_card for a new contact, update_card for a stored one, so every line the form
does not show stays as it was), stored with contacts.cards.put_card and the ETag the
form was loaded with. A concurrent change is a conflict the form explains; the
user's input is kept on the page, and the other version is in the history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from peewee import fn
from werkzeug.datastructures import FileStorage

from ..contacts import cards, records
from ..contacts.actor import Actor
from ..contacts.records import set_assignee, set_reports_to
from ..contacts.transfer import resource_name
from ..errors import DomainError, InvalidInput, NotFound, PreconditionFailed
from ..model import AddressBook, Contact, Revision, User
from ..vcard.build import KINDS, PROPERTIES, CardRecord, build_card, record_from_card, update_card
from ..vcard.edit import image_type, set_photo
from . import scope
from .context import settings
from .forms import ContactForm

PROPERTY_LABELS = {
    "KIND": "kind", "FN": "display name", "N": "name", "NICKNAME": "nickname",
    "ORG": "company", "TITLE": "title", "EMAIL": "emails", "TEL": "phones",
    "ADR": "addresses", "URL": "websites", "BDAY": "birthday", "NOTE": "note",
    "CATEGORIES": "tags",
}


@dataclass
class ConflictInfo:
    """What changed since the form was loaded, by whom."""

    fields: list[str]
    author: str
    door: str
    when: object


@dataclass
class SaveResult:
    contact: Contact | None = None
    conflict: ConflictInfo | None = None
    notes: list[str] | None = None  # saved, but worth saying (e.g. company not linked)


def add_tag(actor: Actor, vc: scope.VisibleContact, tag: str) -> None:
    """Add one tag (CATEGORIES) to a contact, through the write path."""
    contact = vc.contact
    record = record_from_card(contact.vcard)
    if any(t.casefold() == tag.casefold() for t in record.tags):
        return
    if record.kind not in KINDS:
        raise InvalidInput("contact groups are not edited in the admin yet")
    text = update_card(contact.vcard, replace(record, tags=[*record.tags, tag]))
    cards.put_card(actor, vc.book, contact.name, text.encode("utf-8"),
                   max_size=settings().max_resource_size, expected_etag=contact.etag)


def taken_message(contact: Contact, exc: cards.CardTaken) -> str:
    """A restore refused because a live card of the book now holds the name or UID,
    said so that the admin knows what to do."""
    held = exc.existing
    what = "file name" if held.name == contact.name else "UID"
    return (f"“{contact.display_name or contact.name}” cannot be restored: the contact "
            f"“{held.display_name or held.name}” now uses its {what} in the same address "
            "book. Archive or delete that contact first (or change its UID), then restore "
            "this one.")


def read_photo(form: ContactForm, upload: FileStorage | None) -> bytes | None:
    """The uploaded image, or None; a message on the form when it cannot be used."""
    if upload is None or not upload.filename:
        return None
    limit = settings().max_photo_size
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        form.errors["photo"] = f"The photo is larger than {limit // 1024} KiB."
        return None
    if not data:
        return None
    if image_type(data) is None:
        form.errors["photo"] = "Upload a JPEG, PNG, GIF or WebP image."
        return None
    return data


def _visible_match(actor: Actor, kind: str, name: str) -> list[Contact]:
    """Up to two active contacts of a kind the actor sees with exactly this name."""
    return list(records.list_contacts(actor, state="active", kind=kind)
                .where(fn.LOWER(Contact.display_name) == name.lower()).limit(2))


def resolve_reports_to(actor: Actor, form: ContactForm) -> Contact | None:
    """The person the form names as manager (picked by id, or typed by name)."""
    if not form.reports_to:
        return None
    if form.reports_to_id.isdigit():
        try:
            picked = scope.visible_contact(actor.user, int(form.reports_to_id)).contact
        except NotFound:
            picked = None
        if picked is not None and picked.display_name == form.reports_to:
            return picked
    matches = _visible_match(actor, "person", form.reports_to)
    if len(matches) != 1:
        form.errors["reports_to"] = ("No person of that name in your books." if not matches
                                     else "Several people have that name: pick one from "
                                          "the list.")
        return None
    return matches[0]


def _check_assignee(form: ContactForm) -> None:
    if form.assignee and not User.get_or_none((User.username == form.assignee)
                                              & (User.active == True)):  # noqa: E712
        form.errors["assignee"] = "No active user has that name."


def _conflict(contact: Contact, loaded_etag: str) -> ConflictInfo:
    """What differs between the version the form was loaded from and the stored one."""
    base = (Revision.select().where((Revision.contact == contact.id)
                                    & (Revision.etag == loaded_etag))
            .order_by(Revision.id.desc()).first())
    latest = (Revision.select().where(Revision.contact == contact.id)
              .order_by(Revision.id.desc()).first())
    fields: list[str] = []
    if base is not None:
        old, new = record_from_card(base.vcard), record_from_card(contact.vcard)
        fields = [label for prop, label in PROPERTY_LABELS.items()
                  if any(getattr(old, n) != getattr(new, n) for n in PROPERTIES[prop])]
    author = ""
    if latest is not None and latest.author_id is not None:
        author = User.get_by_id(latest.author_id).username
    return ConflictInfo(fields, author or "someone",
                        latest.door if latest else "", latest.created_at if latest else None)


def save(actor: Actor, form: ContactForm, upload: FileStorage | None, *,
         existing: scope.VisibleContact | None, book: AddressBook) -> SaveResult:
    """Create (existing None, in `book`) or update a contact from a submitted form.
    Messages land in form.errors; nothing is written unless all of it can be."""
    form.validate()
    photo = read_photo(form, upload)
    manager = resolve_reports_to(actor, form)
    _check_assignee(form)
    if form.errors:
        return SaveResult()
    limits = {"max_size": settings().max_resource_size, "max_photo": settings().max_photo_size}
    try:
        if existing is None:
            record = form.record(CardRecord(uid=str(uuid.uuid4())))
            text = build_card(record)
        else:
            current = existing.contact
            if form.etag != current.etag:
                return SaveResult(conflict=_conflict(current, form.etag))
            text = update_card(current.vcard, form.record(record_from_card(current.vcard)))
        if photo is not None:
            text = set_photo(text, photo)
        elif form.remove_photo:
            text = set_photo(text, None)
        if existing is None:
            result = cards.put_card(actor, book, resource_name(record.uid),
                                    text.encode("utf-8"), must_not_exist=True, **limits)
        else:
            result = cards.put_card(actor, existing.book, existing.contact.name,
                                    text.encode("utf-8"), expected_etag=form.etag, **limits)
    except PreconditionFailed:
        if existing is None:
            raise
        fresh = Contact.get_by_id(existing.contact.id)
        return SaveResult(conflict=_conflict(fresh, form.etag))
    except DomainError as exc:
        form.errors["form"] = exc.reason
        return SaveResult()
    contact = result.contact
    notes = _after_save(actor, contact, form, manager, book if existing else None)
    return SaveResult(contact=contact, notes=notes)


def _after_save(actor: Actor, contact: Contact, form: ContactForm, manager: Contact | None,
                dest_book: AddressBook | None) -> list[str]:
    """The CRM fields beside the card (assignee, reports-to) and the owner, each through
    its own operation; what fails is said, what was saved stays."""
    notes: list[str] = []
    try:
        if (contact.assignee.username if contact.assignee_id else "") != form.assignee:
            set_assignee(actor, contact, form.assignee or None)
        if contact.reports_to_id != (manager.id if manager else None):
            set_reports_to(actor, contact, manager)
        if dest_book is not None and dest_book.id != contact.book_id:
            cards.change_owner(actor, contact, dest_book)
    except DomainError as exc:
        notes.append(f"Saved, but: {exc.reason}")
    if contact.kind == "person" and form.company and contact.company_id is None:
        notes.append(f"“{form.company}” is saved as the company name; it is not linked, "
                     "because your books hold no single company of that name.")
    return notes


def writable_book(user: User, book_id: str) -> AddressBook:
    """A book the user may write, chosen on the form (default: their first)."""
    choices = scope.writable_books(user)
    for vb in choices:
        if str(vb.book.id) == book_id:
            return vb.book
    if not choices:
        raise NotFound("you may not create contacts in any address book")
    if book_id:
        raise NotFound("no such address book")
    return choices[0].book
