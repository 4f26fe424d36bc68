"""Groups: create (with the group's address book), delete, memberships with read or
write access. A group's book appears in every member's home (acl.policy)."""

from __future__ import annotations

from ..errors import Conflict, InvalidInput, NotFound
from ..model import ACCESS_LEVELS, AddressBook, Contact, Group, Membership, User, write_transaction
from .users import USERNAME_RE, get_user

GROUP_BOOK_SLUG = "contacts"


def get_group(name: str) -> Group:
    group = Group.get_or_none(Group.name == name)
    if group is None:
        raise NotFound(f"no group named {name!r}")
    return group


def create_group(name: str, *, display_name: str = "", description: str = "") -> Group:
    """A group and its address book."""
    if not USERNAME_RE.match(name):
        raise InvalidInput(f"invalid group name {name!r}: use 1-64 letters, digits, '.', '_', "
                           "'+', '-', starting with a letter or digit")
    with write_transaction():
        if Group.get_or_none(Group.name == name):
            raise Conflict(f"group {name!r} already exists")
        group = Group.create(name=name, display_name=display_name or name,
                             description=description)
        AddressBook.create(owner_group=group, slug=GROUP_BOOK_SLUG,
                           display_name=f"{group.display_name} (group)")
    return group


def delete_group(name: str) -> None:
    """Delete a group whose books hold no contacts (live or deleted): nothing a user
    saved is ever lost by removing a group."""
    with write_transaction():
        group = get_group(name)
        books = AddressBook.select(AddressBook.id).where(AddressBook.owner_group == group.id)
        if Contact.select().where(Contact.book.in_(books)).exists():
            raise Conflict(f"group {name!r} still owns contacts; move them to another owner "
                           "first")
        Membership.delete().where(Membership.group == group.id).execute()
        AddressBook.delete().where(AddressBook.owner_group == group.id).execute()
        group.delete_instance()


def set_membership(group_name: str, username: str, access: str) -> None:
    """Add a user to a group, or change their access (`read` or `write`)."""
    if access not in ACCESS_LEVELS:
        raise InvalidInput(f"unknown access {access!r}: choose read or write")
    with write_transaction():
        group, user = get_group(group_name), get_user(username)
        updated = (Membership.update(access=access)
                   .where((Membership.group == group.id) & (Membership.user == user.id))
                   .execute())
        if not updated:
            Membership.create(group=group.id, user=user.id, access=access)


def remove_membership(group_name: str, username: str) -> None:
    with write_transaction():
        group, user = get_group(group_name), get_user(username)
        removed = (Membership.delete()
                   .where((Membership.group == group.id) & (Membership.user == user.id))
                   .execute())
        if not removed:
            raise NotFound(f"{username!r} is not a member of {group_name!r}")


def list_groups() -> list[tuple[Group, list[tuple[str, str]]]]:
    """Every group with its (username, access) members, in two queries."""
    groups = list(Group.select().order_by(Group.name))
    members: dict[int, list[tuple[str, str]]] = {g.id: [] for g in groups}
    rows = (Membership.select(Membership.group, Membership.access, User.username)
            .join(User).order_by(User.username).tuples())
    for group_id, access, username in rows:
        members.setdefault(group_id, []).append((username, access))
    return [(g, members[g.id]) for g in groups]
