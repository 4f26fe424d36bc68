"""Groups (admins and super admins): list, create, delete, members with read or write
access. A group's address book appears in every member's DAV home."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...acl import policy
from ...contacts import groups as group_ops
from ...errors import DomainError
from ...model import ACCESS_LEVELS, Membership, User
from ..context import flash_error, user

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.before_request
def admins_only():
    if not policy.can_manage_users(user()):
        abort(403, description="Only admins manage groups.")


@bp.route("/", methods=["GET", "POST"])
def index():
    values = {"name": "", "display_name": "", "description": ""}
    error = ""
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip()[:1024] for k in values}
        try:
            group = group_ops.create_group(values["name"], display_name=values["display_name"],
                                           description=values["description"])
        except DomainError as exc:
            error = exc.reason
        else:
            flash(f"Group {group.name} created.", "success")
            return redirect(url_for("groups.detail", name=group.name))
    return render_template("groups/list.html", groups=group_ops.list_groups(), values=values,
                           error=error), 400 if error else 200


@bp.route("/<name>")
def detail(name: str):
    group = group_ops.get_group(name)
    members = (Membership.select(Membership.access, User.username, User.display_name,
                                 User.active)
               .join(User).where(Membership.group == group.id).order_by(User.username).dicts())
    candidates = (User.select(User.username, User.display_name)
                  .where(User.active == True).order_by(User.username).limit(500))  # noqa: E712
    return render_template("groups/detail.html", group=group, members=list(members),
                           candidates=candidates, access_levels=ACCESS_LEVELS)


@bp.route("/<name>/members", methods=["POST"])
def set_member(name: str):
    username = request.form.get("username", "").strip()
    access = request.form.get("access", "write")
    try:
        group_ops.set_membership(name, username, access)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{username} has {access} access to {name}.", "success")
    return redirect(url_for("groups.detail", name=name))


@bp.route("/<name>/members/<username>/remove", methods=["POST"])
def remove_member(name: str, username: str):
    try:
        group_ops.remove_membership(name, username)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(f"{username} removed from {name}.", "success")
    return redirect(url_for("groups.detail", name=name))


@bp.route("/<name>/delete", methods=["POST"])
def delete(name: str):
    try:
        group_ops.delete_group(name)
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("groups.detail", name=name))
    flash(f"Group {name} deleted.", "success")
    return redirect(url_for("groups.index"))
