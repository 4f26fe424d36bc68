"""Address books: create in a user's home, change their properties."""

from __future__ import annotations

from ..acl import policy
from ..errors import Conflict, Forbidden, InvalidInput
from ..model import AddressBook, Resource, User
from .actor import Actor
from .records import require

MAX_SEGMENT = 128


def validate_segment(segment: str) -> None:
    if not segment or "/" in segment or segment in (".", "..") or len(segment) > MAX_SEGMENT:
        raise InvalidInput(f"invalid collection name {segment!r}")


def create_book(actor: Actor, owner: User, slug: str, *, display_name: str = "",
                description: str = "") -> AddressBook:
    """Create a book in a user's own home (extended MKCOL, admin)."""
    if not (actor.is_system or policy.may_use_home(actor.user, owner.username)):
        raise Forbidden("address books are created in your own home")
    validate_segment(slug)
    if policy.is_reserved_segment(slug):
        raise Forbidden(f"names starting with 'group-' are reserved for group books: {slug!r}")
    if (AddressBook.get_or_none((AddressBook.owner_user == owner.id) & (AddressBook.slug == slug))
            or Resource.get_or_none((Resource.owner == owner.id) & (Resource.path == slug))):
        raise Conflict(f"{slug!r} already exists")
    return AddressBook.create(owner_user=owner, slug=slug, display_name=display_name or slug,
                              description=description)


def update_book(actor: Actor, book: AddressBook, *, display_name: str | None = None,
                description: str | None = None) -> None:
    """Change a book's displayname / addressbook-description (PROPPATCH, admin)."""
    require(actor, policy.WRITE, book)
    fields = {}
    if display_name is not None:
        fields["display_name"] = display_name[:255]
    if description is not None:
        fields["description"] = description
    if fields:
        AddressBook.update(**fields).where(AddressBook.id == book.id).execute()
        for k, v in fields.items():
            setattr(book, k, v)
