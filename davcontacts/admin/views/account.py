"""The signed-in user's own account: who they are, and their app passwords (one per
device: create with a label, shown once; list with last use; revoke)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ...contacts import records
from ...contacts import users as user_ops
from ...errors import DomainError
from ..context import flash_error, settings, user

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(new_password: str = "", new_label: str = "", error: str = "", status: int = 200):
    me = user()
    return render_template(
        "account.html", me=me, linked=records.linked_contact(me),
        app_passwords=user_ops.list_app_passwords(me.username),
        new_password=new_password, new_label=new_label, error=error,
        max_label=user_ops.MAX_LABEL), status


@bp.route("/")
def index():
    return _page()


@bp.route("/app-passwords", methods=["POST"])
def create_app_password():
    """The new password is in this response only (not in a flash, which would keep
    it in the session cookie)."""
    label = request.form.get("label", "")
    try:
        row, password = user_ops.create_app_password(user().username, label,
                                                     scrypt_n=settings().scrypt_n)
    except DomainError as exc:
        return _page(error=exc.reason, status=400)
    return _page(new_password=password, new_label=row.label)


@bp.route("/app-passwords/<public_id>/revoke", methods=["POST"])
def revoke_app_password(public_id: str):
    try:
        row = user_ops.revoke_app_password(user().username, public_id)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"App password “{row.label}” revoked: the device using it is refused from "
              "its next request.", "success")
    return redirect(url_for("account.index"))
