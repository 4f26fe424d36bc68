"""The CRM side of a contact page: client and supplier roles (business accounts) and
the link to a system user (link an existing one, create one from the contact, unlink).
Each change goes through contacts.records, which asks the ACL; errors come back as a
message on the contact page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...contacts import records
from ...errors import DomainError
from ...model import BUSINESS_ROLES, ROLES
from .. import scope
from ..context import actor, flash_error, settings, user

bp = Blueprint("crm", __name__)
ROLE_LABELS = {"client": "Client", "supplier": "Supplier"}


def back_to(contact_id: int, anchor: str):
    return redirect(url_for("contact.show", contact_id=contact_id, _anchor=anchor))


@bp.route("/contacts/<int:contact_id>/roles", methods=["POST"])
def save_role(contact_id: int):
    vc = scope.visible_contact(user(), contact_id)
    role = request.form.get("role", "")
    if role not in BUSINESS_ROLES:
        abort(400, description="Choose client or supplier.")
    try:
        records.assign_role(actor(), vc.contact, role,
                            number=request.form.get("number", "")[:100],
                            status=request.form.get("status", "")[:100],
                            details=request.form.get("details", "").strip()[:20_000])
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{vc.contact.display_name} is a {role}.", "success")
    return back_to(contact_id, "roles")


@bp.route("/contacts/<int:contact_id>/roles/<role>/remove", methods=["POST"])
def remove_role(contact_id: int, role: str):
    vc = scope.visible_contact(user(), contact_id)
    try:
        records.remove_role(actor(), vc.contact, role)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{vc.contact.display_name} is no longer a {role}.", "success")
    return back_to(contact_id, "roles")


@bp.route("/contacts/<int:contact_id>/user/link", methods=["POST"])
def link_user(contact_id: int):
    vc = scope.visible_contact(user(), contact_id)
    username = request.form.get("username", "").strip()
    try:
        records.link_user(actor(), vc.contact, username)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{vc.contact.display_name} is linked to the user {username}.", "success")
    return back_to(contact_id, "account")


@bp.route("/contacts/<int:contact_id>/user/create", methods=["POST"])
def create_user(contact_id: int):
    """Create and link in one step. A generated password is shown on this response
    only (never in a redirect's flash, which would carry it in the session cookie)."""
    vc = scope.visible_contact(user(), contact_id)
    username = request.form.get("username", "").strip()
    role = request.form.get("role", "member")
    typed = request.form.get("password", "")
    try:
        created, password = records.create_linked_user(
            actor(), vc.contact, username, role=role if role in ROLES else "",
            password=typed or None, scrypt_n=settings().scrypt_n)
    except DomainError as exc:
        flash_error(exc)
        return back_to(contact_id, "account")
    if typed:
        flash(f"User {created.username} created with the password you chose, and linked.",
              "success")
        return back_to(contact_id, "account")
    return render_template("contacts/user_created.html", vc=vc, created=created,
                           password=password)


@bp.route("/contacts/<int:contact_id>/user/unlink", methods=["POST"])
def unlink_user(contact_id: int):
    vc = scope.visible_contact(user(), contact_id)
    try:
        records.unlink_user(actor(), vc.contact)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{vc.contact.display_name} is no longer linked to a user; the account "
              "stays.", "success")
    return back_to(contact_id, "account")
