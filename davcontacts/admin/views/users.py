"""Users (admins and super admins): list, create, role, password reset, deactivate."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...acl import policy
from ...contacts import records
from ...contacts import users as user_ops
from ...errors import DomainError
from ...model import ROLES, Group, Membership, User
from ..context import flash_error, settings, user

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.before_request
def admins_only():
    if not policy.can_manage_users(user()):
        abort(403, description="Only admins manage users.")


def _roles_for(target: User | None) -> list[str]:
    return [r for r in ROLES if policy.may_manage(user(), target, r)]


@bp.route("/", methods=["GET", "POST"])
def index():
    values = {"username": "", "display_name": "", "email": "", "role": "member"}
    error = ""
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip()[:255] for k in values}
        password = request.form.get("password", "")
        if not policy.may_manage(user(), None, values["role"]):
            error = "You may not create a user with that role."
        else:
            try:
                created = user_ops.create_user(
                    values["username"], password, role=values["role"],
                    display_name=values["display_name"], email=values["email"],
                    scrypt_n=settings().scrypt_n)
            except DomainError as exc:
                error = exc.reason
            else:
                flash(f"User {created.username} created.", "success")
                return redirect(url_for("users.detail", username=created.username))
    users = list(User.select().order_by(User.active.desc(), User.username))
    return render_template("users/list.html", users=users, values=values, error=error,
                           roles=_roles_for(None)), 400 if error else 200


@bp.route("/<username>")
def detail(username: str):
    target = user_ops.get_user(username)
    memberships = (Membership.select(Membership.access, Group.name, Group.display_name)
                   .join(Group).where(Membership.user == target.id)
                   .order_by(Group.name).dicts())
    return render_template("users/detail.html", target=target, memberships=list(memberships),
                           roles=_roles_for(target),
                           may_manage=policy.may_manage(user(), target),
                           linked=records.linked_contact(target),
                           app_passwords=user_ops.list_app_passwords(target.username),
                           may_revoke=policy.may_revoke_app_password(user(), target))


@bp.route("/<username>/app-passwords/<public_id>/revoke", methods=["POST"])
def revoke_app_password(username: str, public_id: str):
    target = user_ops.get_user(username)
    if not policy.may_revoke_app_password(user(), target):
        abort(403, description="You may not revoke this user's app passwords.")
    try:
        row = user_ops.revoke_app_password(username, public_id)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"App password “{row.label}” of {username} revoked.", "success")
    return redirect(url_for("users.detail", username=username, _anchor="app-passwords"))


@bp.route("/<username>/<any(role, password, deactivate, reactivate):action>",
          methods=["POST"])
def change(username: str, action: str):
    target = user_ops.get_user(username)
    role = request.form.get("role", target.role)
    if not policy.may_manage(user(), target, role):
        abort(403, description="You may not change this user.")
    try:
        if action == "role":
            user_ops.set_role(username, role)
            message = f"{username} is now {role}."
        elif action == "password":
            user_ops.set_password(username, request.form.get("password", ""),
                                  scrypt_n=settings().scrypt_n)
            message = f"Password of {username} reset."
        elif action == "deactivate":
            user_ops.deactivate_user(username)
            message = f"{username} can no longer sign in; their data stays."
        else:
            user_ops.reactivate_user(username)
            message = f"{username} can sign in again."
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(message, "success")
    return redirect(url_for("users.detail", username=username))
