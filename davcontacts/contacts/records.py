"""The CRM side of a contact, kept in step by the write path (cards.py) or changed
through these operations: detail rows, tags, group members, the company link, the
linked user, assignee, reports-to and business accounts; and how the model API finds
contacts (one by id, a listing), always through the ACL."""

from __future__ import annotations

from collections.abc import Iterable

from peewee import ModelSelect, fn

from ..acl import policy
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..model import (
    BUSINESS_ROLES,
    CONTACT_STATES,
    AddressBook,
    BusinessAccount,
    Contact,
    ContactAddress,
    ContactGroupMember,
    ContactTag,
    ContactValue,
    Tag,
    User,
    utcnow,
    write_transaction,
)
from ..vcard.derive import CardDetails
from . import users
from .actor import Actor


def require(actor: Actor, action: str, target: policy.Target) -> None:
    """The ACL's answer for an actor (the local command line may do everything)."""
    if not actor.is_system:
        policy.require(actor.user, action, target)


def get_record(actor: Actor, contact_id: int) -> Contact:
    """One contact by id, in any state the actor may see (NotFound otherwise)."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        raise NotFound("no such contact")
    require(actor, policy.READ, contact)
    return contact


def list_contacts(actor: Actor, *, state: str | Iterable[str] | None = "active",
                  book: AddressBook | None = None, kind: str | None = None) -> ModelSelect:
    """The contacts an actor may see, by display name: a query filtered in SQL by the
    ACL (`policy.contact_scope`), a state (or several; None: every state they may
    see), a book and a kind. The caller pages it (`.paginate()`, `.limit()`)."""
    query = Contact.select()
    conds = []
    if not actor.is_system:
        scope = policy.contact_scope(actor.user)
        if scope is not None:
            conds.append(scope)
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        unknown = [s for s in states if s not in CONTACT_STATES]
        if unknown:
            raise InvalidInput(f"unknown state {unknown[0]!r}: choose "
                               + ", ".join(CONTACT_STATES))
        conds.append(Contact.state.in_(states))
    if book is not None:
        conds.append(Contact.book == book.id)
    if kind is not None:
        conds.append(Contact.kind == kind)
    for cond in conds:
        query = query.where(cond)
    return query.order_by(Contact.display_name, Contact.id)


def store_details(contact_id: int, book_id: int, details: CardDetails, *, new: bool) -> None:
    """Replace a card's child rows with what its text now says (in the caller's
    transaction)."""
    if not new:
        for model, column in ((ContactValue, ContactValue.contact),
                              (ContactAddress, ContactAddress.contact),
                              (ContactGroupMember, ContactGroupMember.group),
                              (ContactTag, ContactTag.contact)):
            model.delete().where(column == contact_id).execute()
    if details.values:
        ContactValue.insert_many(
            [{"contact": contact_id, "field": f, "types": t, "value": v, "position": i}
             for i, (f, t, v) in enumerate(details.values)]).execute()
    if details.addresses:
        ContactAddress.insert_many(
            [{"contact": contact_id, "kind": a.kind, "types": a.types, "street": a.street,
              "locality": a.locality, "region": a.region, "postal_code": a.postal_code,
              "country": a.country, "position": i}
             for i, a in enumerate(details.addresses)]).execute()
    if details.members:
        ContactGroupMember.insert_many(
            [{"group": contact_id, "member_uid": uid, "position": i}
             for i, uid in enumerate(details.members)]).execute()
    if details.tags:
        ContactTag.insert_many([{"contact": contact_id, "tag": tag_id}
                                for tag_id in tag_ids(book_id, details.tags)]).execute()


def tag_ids(book_id: int, names: list[str]) -> list[int]:
    """The ids of a book's tags with these names, creating the missing ones (tags are
    shared per scope)."""
    Tag.insert_many([{"book": book_id, "name": n} for n in names]).on_conflict_ignore().execute()
    by_name = {t.name: t.id for t in Tag.select().where((Tag.book == book_id)
                                                        & Tag.name.in_(names))}
    return [by_name[n] for n in names if n in by_name]


def move_tags(contact_id: int, book_id: int) -> None:
    """Link a card that changed book to the same-named tags of its new book (tags are
    per scope; in the caller's transaction)."""
    names = [n for (n,) in Tag.select(Tag.name).join(ContactTag)
             .where(ContactTag.contact == contact_id).tuples()]
    ContactTag.delete().where(ContactTag.contact == contact_id).execute()
    if names:
        ContactTag.insert_many([{"contact": contact_id, "tag": tag_id}
                                for tag_id in tag_ids(book_id, names)]).execute()


def resolve_company(actor: Actor, book_id: int, org: str, current: int | None) -> int | None:
    """The company an incoming ORG links to: the current link while its name still
    matches, else the one visible company of that name; never a guess among several."""
    if not org:
        return None
    name = org.casefold()
    if current is not None:
        linked = Contact.get_or_none(Contact.id == current)
        if linked and linked.state == "active" and linked.display_name.casefold() == name:
            return current
    books = ([vb.book.id for vb in policy.visible_books(actor.user)]
             if actor.user is not None else [book_id])
    # Only the name and kind are indexable here: `book_id + 0` and the state test in
    # Python keep SQLite's planner off the list indexes (book, state, kind, …), which
    # it would otherwise walk over every company of the book (schema 6).
    rows = (Contact.select(Contact.id, Contact.state)
            .where((Contact.kind == "company")
                   & (fn.LOWER(Contact.display_name) == org.lower())
                   & (Contact.book + 0).in_(books)).tuples())
    matches = [row_id for row_id, state in rows if state == "active"]
    return matches[0] if len(matches) == 1 else None


def follow_linked_user(contact: Contact) -> None:
    """A linked user's display name and email follow the contact."""
    if contact.linked_user_id is None:
        return
    fields = {"display_name": contact.display_name[:255], "updated_at": utcnow()}
    if contact.email:
        fields["email"] = contact.email[:255]
    User.update(**fields).where(User.id == contact.linked_user_id).execute()


def company_people(company: Contact) -> list[Contact]:
    """The active people linked to a company, by name."""
    return list(Contact.select().where((Contact.company == company.id)
                                       & (Contact.state == "active"))
                .order_by(Contact.display_name))


# Operations on a contact's CRM fields: each asks the ACL for `write` on the contact.

def _writable(actor: Actor, contact: Contact) -> None:
    require(actor, policy.WRITE, contact)


def set_assignee(actor: Actor, contact: Contact, username: str | None) -> None:
    """Assign the contact to an active user (None: to nobody); needs write on it."""
    _writable(actor, contact)
    user = None
    if username:
        user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
        if user is None:
            raise NotFound(f"no active user named {username!r}")
    Contact.update(assignee=user, updated_at=utcnow()).where(Contact.id == contact.id).execute()
    contact.assignee = user


def set_reports_to(actor: Actor, contact: Contact, manager: Contact | None) -> None:
    _writable(actor, contact)
    if manager is not None:
        if manager.id == contact.id:
            raise InvalidInput("a contact cannot report to itself")
        require(actor, policy.READ, manager)
    Contact.update(reports_to=manager).where(Contact.id == contact.id).execute()
    contact.reports_to = manager


def _linkable(actor: Actor, contact: Contact) -> None:
    """Links between contacts and accounts are for admins (ADMINISTER on the contact),
    on active people."""
    _writable(actor, contact)
    require(actor, policy.ADMINISTER, contact)
    if contact.kind != "person":
        raise InvalidInput("only a person can be linked to a user")
    if contact.state != "active":
        raise InvalidInput(f"{contact.display_name!r} is {contact.state}; restore it first")


def _link(contact: Contact, user: User) -> None:
    """Link in the caller's write transaction (one contact per user and vice versa)."""
    other = Contact.get_or_none((Contact.linked_user == user.id) & (Contact.id != contact.id))
    if other is not None:
        raise Conflict(f"{user.username!r} is already linked to {other.display_name!r}")
    current = Contact.get_by_id(contact.id).linked_user_id
    if current is not None and current != user.id:
        raise Conflict(f"{contact.display_name!r} is already linked to another user; "
                       "unlink it first")
    Contact.update(linked_user=user.id).where(Contact.id == contact.id).execute()
    contact.linked_user = user
    follow_linked_user(contact)


def link_user(actor: Actor, contact: Contact, username: str) -> None:
    """Link a person to an existing system user, whose display name and email then
    follow the contact (admins, for accounts they manage or their own)."""
    _linkable(actor, contact)
    user = User.get_or_none(User.username == username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    if not actor.is_system and not policy.may_link_user(actor.user, user):
        raise Forbidden(f"you may not link the account {username!r}")
    with write_transaction():
        _link(contact, user)


def create_linked_user(actor: Actor, contact: Contact, username: str, *, role: str = "member",
                       password: str | None = None,
                       scrypt_n: int | None = None) -> tuple[User, str]:
    """Create a system user for a person and link them, in one transaction: the
    account takes the contact's display name and email. Without a `password` one is
    generated. Returns the user and the password (to show once; only its hash is
    stored)."""
    _linkable(actor, contact)
    if not actor.is_system and not policy.may_manage(actor.user, None, role):
        raise Forbidden(f"you may not create a user with the role {role!r}")
    password = password or users.new_password()
    with write_transaction():
        user = users.create_user(username, password, role=role,
                                 display_name=contact.display_name[:255],
                                 email=contact.email[:255], scrypt_n=scrypt_n)
        _link(contact, user)
    return user, password


def unlink_user(actor: Actor, contact: Contact) -> None:
    """Remove the link; the account stays as it is."""
    _writable(actor, contact)
    require(actor, policy.ADMINISTER, contact)
    Contact.update(linked_user=None).where(Contact.id == contact.id).execute()
    contact.linked_user = None


def linked_user(contact: Contact) -> User | None:
    if contact.linked_user_id is None:
        return None
    return User.get_or_none(User.id == contact.linked_user_id)


def linked_contact(user: User) -> Contact | None:
    """The contact linked to a user, in any state."""
    return Contact.get_or_none(Contact.linked_user == user.id)


MAX_ACCOUNT_NUMBER = 64
MAX_ACCOUNT_STATUS = 32
MAX_ACCOUNT_DETAILS = 10_000
# What the admin suggests; any short text is a status.
ACCOUNT_STATUSES = ("prospect", "active", "on hold", "closed")


def assign_role(actor: Actor, contact: Contact, role: str, *, number: str = "",
                status: str = "active", details: str = "") -> BusinessAccount:
    """Give a contact the client or supplier role, or change its number, status and
    details. A number names one contact per role (an invoice must find its client)."""
    _writable(actor, contact)
    if contact.kind == "group":
        raise InvalidInput("a contact group has no business roles; give them to its members")
    if role not in BUSINESS_ROLES:
        raise InvalidInput(f"unknown role {role!r}: choose {' or '.join(BUSINESS_ROLES)}")
    number, status = number.strip(), status.strip() or "active"
    if len(number) > MAX_ACCOUNT_NUMBER:
        raise InvalidInput(f"the {role} number is longer than {MAX_ACCOUNT_NUMBER} characters")
    if len(status) > MAX_ACCOUNT_STATUS:
        raise InvalidInput(f"the status is longer than {MAX_ACCOUNT_STATUS} characters")
    if len(details) > MAX_ACCOUNT_DETAILS:
        raise InvalidInput(f"the details are longer than {MAX_ACCOUNT_DETAILS} characters")
    with write_transaction():
        if number and BusinessAccount.select().where(
                (BusinessAccount.role == role) & (BusinessAccount.number == number)
                & (BusinessAccount.contact != contact.id)).exists():
            raise Conflict(f"{role} number {number!r} is already given to another contact")
        account = BusinessAccount.get_or_none((BusinessAccount.contact == contact.id)
                                              & (BusinessAccount.role == role))
        if account is None:
            return BusinessAccount.create(contact=contact.id, role=role, number=number,
                                          status=status, details=details)
        account.number, account.status, account.details = number, status, details
        account.updated_at = utcnow()
        account.save()
        return account


def remove_role(actor: Actor, contact: Contact, role: str) -> None:
    _writable(actor, contact)
    removed = BusinessAccount.delete().where((BusinessAccount.contact == contact.id)
                                             & (BusinessAccount.role == role)).execute()
    if not removed:
        raise NotFound(f"{contact.display_name!r} has no {role} role")


def roles(contact: Contact) -> list[BusinessAccount]:
    return list(BusinessAccount.select().where(BusinessAccount.contact == contact.id)
                .order_by(BusinessAccount.role))
