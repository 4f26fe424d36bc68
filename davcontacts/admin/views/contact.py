"""One contact: its page (details, company and people, history), the form to create
or edit it, its photo, an old revision, and delete / archive / restore."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from peewee import JOIN

from ...acl import policy
from ...contacts import cards, listing, members, records
from ...contacts.users import suggest_username
from ...errors import DomainError, NotFound
from ...model import BUSINESS_ROLES, ROLES, Contact, Revision, User
from ...vcard.build import record_from_card
from ...vcard.edit import card_photo
from .. import editing, forms, scope
from ..context import actor, flash_error, settings, user

bp = Blueprint("contact", __name__)
HISTORY = 50


def _visible(contact_id: int) -> scope.VisibleContact:
    return scope.visible_contact(user(), contact_id)


def _linked(contact_id: int | None) -> Contact | None:
    """A linked contact (company, manager) if the user may see it."""
    if contact_id is None:
        return None
    try:
        return _visible(contact_id).contact
    except NotFound:
        return None


def _form_page(form: forms.ContactForm, *, vc: scope.VisibleContact | None, status: int = 200,
               conflict: editing.ConflictInfo | None = None):
    books = [(vb.book.id, f"{vb.book.display_name} ({vb.segment})")
             for vb in scope.writable_books(user())]
    if vc is not None and vc.book.id not in {book_id for book_id, _ in books}:
        label = listing.book_labels([vc.book.id]).get(vc.book.id, "")
        books.insert(0, (vc.book.id, f"{vc.book.display_name} ({label})"))
    users = (User.select(User.username, User.display_name)
             .where(User.active == True).order_by(User.username).limit(500))  # noqa: E712
    return render_template(
        "contacts/form.html", form=form, vc=vc, conflict=conflict, books=books, users=users,
        email_types=forms.EMAIL_TYPES, phone_types=forms.PHONE_TYPES,
        address_types=forms.ADDRESS_TYPES, type_choices=forms.type_choices,
        max_photo_kib=settings().max_photo_size // 1024), status


@bp.route("/contacts/new", methods=["GET", "POST"])
def new():
    kind = request.values.get("kind", "person")
    if kind not in ("person", "company"):
        abort(400, description="Choose a person or a company.")
    if request.method == "GET":
        form = forms.ContactForm(kind=kind)
        company = _linked(int(request.args["company"])) if request.args.get(
            "company", "").isdigit() else None
        if company is not None and company.kind == "company":
            form.company = company.display_name
        return _form_page(form, vc=None)
    form = forms.ContactForm.from_request(request.form, kind)
    book = editing.writable_book(user(), form.book)
    result = editing.save(actor(), form, request.files.get("photo"), existing=None, book=book)
    if result.contact is None:
        return _form_page(form, vc=None, status=400)
    _flash_saved(result, "created")
    return redirect(url_for("contact.show", contact_id=result.contact.id))


@bp.route("/contacts/<int:contact_id>")
def show(contact_id: int):
    vc = _visible(contact_id)
    contact = vc.contact
    record = record_from_card(contact.vcard)
    people = []
    if contact.kind == "company":
        people = list(records.list_contacts(actor(), kind="person")
                      .where(Contact.company == contact.id).limit(500))
    reports = list(records.list_contacts(actor(), kind="person")
                   .where(Contact.reports_to == contact.id).limit(200))
    revisions = (Revision.select(Revision, User.username.alias("author_name"))
                 .join(User, JOIN.LEFT_OUTER, on=(Revision.author == User.id))
                 .where(Revision.contact == contact.id).order_by(Revision.id.desc())
                 .limit(HISTORY).objects())
    assignee = User.get_or_none(User.id == contact.assignee_id) if contact.assignee_id else None
    return render_template(
        "contacts/show.html", vc=vc, contact=contact, record=record,
        owner=listing.book_labels([vc.book.id]).get(vc.book.id, ""), people=people,
        reports=reports,
        company=_linked(contact.company_id), manager=_linked(contact.reports_to_id),
        assignee=assignee, revisions=list(revisions), **_crm(vc), **_groups(vc),
        taken=_linked(int(request.args["taken"])) if request.args.get("taken", "").isdigit()
        else None,
        can_archive=vc.writable,
        can_delete=contact.state != "deleted" and policy.allowed(user(), policy.DELETE, contact),
        can_restore=contact.state != "active"
        and policy.allowed(user(), policy.RESTORE, contact))


def _crm(vc: scope.VisibleContact) -> dict:
    """What the roles and user-account panels show and offer."""
    contact = vc.contact
    accounts = records.roles(contact)
    linked = records.linked_user(contact)
    may_link = (contact.kind == "person" and contact.state == "active"
                and policy.allowed(user(), policy.ADMINISTER, contact))
    candidates, new_user = [], {}
    if may_link and linked is None:
        taken = Contact.select(Contact.linked_user).where(Contact.linked_user.is_null(False))
        free = (User.select(User.id, User.username, User.display_name, User.role, User.active)
                .where((User.active == True) & User.id.not_in(taken))  # noqa: E712
                .order_by(User.username).limit(500))
        candidates = [u for u in free if policy.may_link_user(user(), u)]
        new_user = {"username": suggest_username(contact.display_name, contact.email),
                    "roles": [r for r in ROLES if policy.may_manage(user(), None, r)]}
    held = {a.role for a in accounts}
    return {"accounts": accounts, "free_roles": [r for r in BUSINESS_ROLES if r not in held],
            "account_statuses": records.ACCOUNT_STATUSES, "linked": linked,
            "may_link": may_link, "link_candidates": candidates, "new_user": new_user}


def _groups(vc: scope.VisibleContact) -> dict:
    """A group's members; the groups a person or company is in, and those it could join."""
    contact = vc.contact
    if contact.kind == "group":
        return {"group_members": members.members_of(contact)}
    member_of = members.groups_of(contact)
    joinable = []
    if vc.writable:
        listed = {g.id for g in member_of}
        joinable = [g for g in members.groups_in(contact.book_id) if g.id not in listed]
    return {"member_of": member_of, "joinable_groups": joinable}


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    vc = _visible(contact_id)
    if not vc.writable:
        flash("You may read this contact but not change it.", "error")
        return redirect(url_for("contact.show", contact_id=contact_id))
    if vc.contact.kind not in ("person", "company"):
        flash("Rename a contact group and change its members on its page.", "info")
        return redirect(url_for("contact.show", contact_id=contact_id, _anchor="members"))
    if request.method == "GET":
        form = forms.ContactForm.from_record(record_from_card(vc.contact.vcard))
        _crm_fields(form, vc.contact)
        return _form_page(form, vc=vc)
    form = forms.ContactForm.from_request(request.form, vc.contact.kind)
    book = vc.book
    if form.book and form.book != str(vc.book.id):
        book = editing.writable_book(user(), form.book)
    result = editing.save(actor(), form, request.files.get("photo"), existing=vc, book=book)
    if result.conflict is not None:
        fresh = Contact.get_by_id(contact_id)
        form.etag = fresh.etag  # saving again now stores the user's values over it
        return _form_page(form, vc=scope.VisibleContact(fresh, vc.book, vc.writable),
                          status=409, conflict=result.conflict)
    if result.contact is None:
        return _form_page(form, vc=vc, status=400)
    _flash_saved(result, "saved")
    return redirect(url_for("contact.show", contact_id=contact_id))


def _crm_fields(form: forms.ContactForm, contact: Contact) -> None:
    form.etag = contact.etag
    form.book = str(contact.book_id)
    if contact.assignee_id:
        form.assignee = User.get_by_id(contact.assignee_id).username
    manager = _linked(contact.reports_to_id)
    if manager is not None:
        form.reports_to, form.reports_to_id = manager.display_name, str(manager.id)


def _flash_saved(result: editing.SaveResult, verb: str) -> None:
    flash(f"{result.contact.display_name or 'Contact'} {verb}.", "success")
    for note in result.notes or []:
        flash(note, "info")


@bp.route("/contacts/<int:contact_id>/photo")
def photo(contact_id: int):
    found = card_photo(_visible(contact_id).contact.vcard)
    if found is None:
        abort(404)
    data, mime = found
    return Response(data, mimetype=mime, headers={"Cache-Control": "private, max-age=300",
                                                  "Content-Disposition": "inline"})


@bp.route("/contacts/<int:contact_id>/revisions/<int:revision_id>")
def revision(contact_id: int, revision_id: int):
    vc = _visible(contact_id)
    rev = Revision.get_or_none((Revision.id == revision_id) & (Revision.contact == contact_id))
    if rev is None:
        abort(404)
    author = User.get_or_none(User.id == rev.author_id) if rev.author_id else None
    return render_template("contacts/revision.html", vc=vc, rev=rev, author=author)


@bp.route("/contacts/<int:contact_id>/<any(delete, archive, restore):action>",
          methods=["POST"])
def lifecycle(contact_id: int, action: str):
    vc = _visible(contact_id)
    operation = {"delete": cards.delete_card, "archive": cards.archive_card,
                 "restore": cards.restore_card}[action]
    try:
        operation(actor(), vc.contact)
    except cards.CardTaken as exc:
        flash(editing.taken_message(vc.contact, exc), "error")
        return redirect(url_for("contact.show", contact_id=contact_id, taken=exc.existing.id))
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("contact.show", contact_id=contact_id))
    done = {"delete": "deleted", "archive": "archived", "restore": "restored"}[action]
    flash(f"{vc.contact.display_name} {done}.", "success")
    if action == "restore":
        return redirect(url_for("contact.show", contact_id=contact_id))
    return redirect(url_for("contacts.index"))
