"""Contact groups in the admin: create one, rename it, add and remove members (from
the group's page by name, or from a contact's page by choosing its groups). Each
change is a change of the group's card through contacts.members, which asks the ACL;
errors come back as a message on the page the user came from."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from peewee import fn

from ...contacts import members, records
from ...errors import DomainError, PreconditionFailed
from ...model import Contact
from ...vcard.derive import bare_uid
from .. import editing, scope
from ..context import actor, flash_error, settings, user
from .crm import back_to

bp = Blueprint("members", __name__)
CHANGED = "The group was changed meanwhile (by a client or another user); try again."


def _size() -> int:
    return settings().max_resource_size


@bp.route("/contacts/groups/new", methods=["GET", "POST"])
def new_group():
    books = scope.writable_books(user())
    name, error = request.form.get("name", ""), ""
    if request.method == "POST":
        try:
            book = editing.writable_book(user(), request.form.get("book", ""))
            group = members.create_group(actor(), book, name, max_size=_size())
        except DomainError as exc:
            error = exc.reason
        else:
            flash(f"Contact group {group.display_name} created.", "success")
            return redirect(url_for("contact.show", contact_id=group.id))
    return render_template("contacts/group_new.html", books=books, name=name,
                           book=request.form.get("book", ""), error=error), 400 if error else 200


@bp.route("/contacts/<int:contact_id>/rename", methods=["POST"])
def rename(contact_id: int):
    group = _group(contact_id)
    if group is not None:
        _apply(lambda: members.rename_group(actor(), group, request.form.get("name", ""),
                                            max_size=_size()), "Group renamed.")
    return back_to(contact_id, "members")


@bp.route("/contacts/<int:contact_id>/members/add", methods=["POST"])
def add(contact_id: int):
    """From the group's page: add the contact picked from the suggestions (its id), or
    the one contact of the group's book with the name typed."""
    group = _group(contact_id)
    if group is not None:
        picked = request.form.get("member_id", "")
        member = (scope.visible_contact(user(), int(picked)).contact if picked.isdigit()
                  else _named(group, request.form.get("name", "").strip()))
        if member is not None:
            _add(group, member)
    return back_to(contact_id, "members")


@bp.route("/contacts/<int:contact_id>/members/remove", methods=["POST"])
def remove(contact_id: int):
    """From the group's page: take out the member with this UID (live or not)."""
    group = _group(contact_id)
    if group is not None:
        _remove(group, request.form.get("uid", ""))
    return back_to(contact_id, "members")


@bp.route("/contacts/<int:contact_id>/groups/<any(add, remove):action>", methods=["POST"])
def membership(contact_id: int, action: str):
    """From a contact's page: add it to, or take it out of, a group of its book."""
    member = scope.visible_contact(user(), contact_id).contact
    group = _group(request.form.get("group", ""))
    if group is not None and action == "add":
        _add(group, member)
    elif group is not None:
        _remove(group, bare_uid(member.uid))
    return back_to(contact_id, "groups")


def _group(contact_id: int | str) -> Contact | None:
    if not str(contact_id).isdigit():
        flash("Choose a contact group.", "error")
        return None
    contact = scope.visible_contact(user(), int(contact_id)).contact
    if contact.kind != "group":
        flash("That contact is not a contact group.", "error")
        return None
    return contact


def _named(group: Contact, name: str) -> Contact | None:
    if not name:
        flash("Give the name of the contact to add.", "error")
        return None
    found = list(records.list_contacts(actor(), state="active")
                 .where((Contact.book == group.book_id) & (Contact.id != group.id)
                        & (fn.LOWER(Contact.display_name) == name.lower())).limit(2))
    if len(found) == 1:
        return found[0]
    flash(f"No contact named “{name}” in this group's address book." if not found else
          f"Several contacts are named “{name}”; add the right one from its own page.",
          "error")
    return None


def _add(group: Contact, member: Contact) -> None:
    _apply(lambda: members.add_member(actor(), group, member, max_size=_size()),
           f"{member.display_name or 'The contact'} is in {group.display_name}.")


def _remove(group: Contact, uid: str) -> None:
    _apply(lambda: members.remove_member(actor(), group, uid, max_size=_size()),
           f"Removed from {group.display_name}.")


def _apply(change, done: str) -> None:
    try:
        change()
    except PreconditionFailed:
        flash(CHANGED, "error")
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(done, "success")

