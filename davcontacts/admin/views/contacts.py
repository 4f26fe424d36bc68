"""The contacts list (table and cards), its bulk actions, the CardDAV setup page and
the suggestions the company and reports-to pickers ask for."""

from __future__ import annotations

from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ...acl import policy
from ...contacts import cards, listing
from ...errors import DomainError, NotFound
from .. import auth, editing, scope
from ..context import actor, user

bp = Blueprint("contacts", __name__)

VIEWS = ("table", "cards")


def query_from_args(args) -> listing.ListQuery:
    """The list's filters, sort and cursor from a URL's query (bad values: defaults)."""
    sort = args.get("sort", "name")
    sort = sort if sort in listing.SORTS else "name"
    state = args.get("state", "active")
    if not policy.may_list_state(user(), state):
        state = "active"
    kind = args.get("kind", "")
    return listing.ListQuery(
        kind=kind if kind in listing.KINDS else "", state=state,
        tag=args.get("tag", "")[:255], q=args.get("q", "")[:listing.MAX_QUERY],
        sort=sort, desc=args.get("dir") == "desc",
        after=listing.decode_cursor(args.get("after"), sort),
        before=listing.decode_cursor(args.get("before"), sort))


def _filters(query: listing.ListQuery, view: str) -> dict[str, str]:
    """The query's filters as link parameters (no cursor: a new filter starts over)."""
    params = {"view": view, "kind": query.kind, "state": query.state, "tag": query.tag,
              "q": query.q, "sort": query.sort, "dir": "desc" if query.desc else ""}
    defaults = {"state": "active", "sort": "name"}
    return {k: v for k, v in params.items() if v and defaults.get(k) != v}


@bp.route("/")
def index():
    view = request.args.get("view") or session.get("view", "table")
    view = view if view in VIEWS else "table"
    if request.args.get("view") in VIEWS and session.get("view") != view:
        session["view"] = view
    query = query_from_args(request.args)
    page = listing.contacts_page(actor(), query)
    filters = _filters(query, view)

    def link(**changes) -> str:
        params = {**filters, **changes}
        return url_for("contacts.index", **{k: v for k, v in params.items() if v})

    def export_link(fmt: str) -> str:
        kept = {k: v for k, v in filters.items() if k in ("kind", "state", "tag", "q")}
        return url_for("transfer.export", format=fmt, **kept)

    def sort_link(column: str) -> str:
        desc = query.sort == column and not query.desc
        return link(sort=column, dir="desc" if desc else "")

    return render_template(
        "contacts/list.html", page=page, query=query, view=view, link=link,
        sort_link=sort_link, export_link=export_link, filters=filters,
        tags=listing.tag_names(actor()),
        owners=listing.book_labels(row.book_id for row in page.rows),
        states=[s for s in scope.STATES if policy.may_list_state(user(), s)],
        here=auth.current_url())


@bp.route("/contacts/bulk", methods=["POST"])
def bulk():
    action = request.form.get("action", "")
    back = auth.safe_next(request.form.get("back"))
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()][:500]
    if not ids:
        flash("Select at least one contact first.", "error")
        return redirect(back)
    tag = request.form.get("tag", "").strip()[:255]
    operations = {"delete": lambda vc: cards.delete_card(actor(), vc.contact),
                  "archive": lambda vc: cards.archive_card(actor(), vc.contact),
                  "restore": lambda vc: cards.restore_card(actor(), vc.contact),
                  "tag": lambda vc: editing.add_tag(actor(), vc, tag)}
    if action not in operations:
        abort(400, description="Unknown action.")
    if action == "tag" and not tag:
        flash("Type the tag to add.", "error")
        return redirect(back)
    done, failed = 0, []
    for contact_id in ids:
        try:
            vc = scope.visible_contact(user(), contact_id)
            operations[action](vc)
            done += 1
        except NotFound:
            failed.append(f"#{contact_id}: no such contact")
        except cards.CardTaken as exc:
            failed.append(editing.taken_message(vc.contact, exc))
        except DomainError as exc:
            failed.append(f"#{contact_id}: {exc.reason}")
    verbs = {"delete": "Deleted", "tag": f"Tagged “{tag}”:", "archive": "Archived",
             "restore": "Restored"}
    flash(f"{verbs[action]} {done} contact{'s' if done != 1 else ''}.", "success")
    if failed:
        flash("Not changed: " + "; ".join(failed[:10])
              + (f" and {len(failed) - 10} more" if len(failed) > 10 else ""), "error")
    return redirect(back)


@bp.route("/setup")
def setup():
    base = request.host_url.rstrip("/")
    name = quote(user().username, safe="")
    books = [(vb, f"{base}/dav/addressbooks/{name}/{quote(vb.segment, safe='')}/")
             for vb in policy.visible_books(user())]
    return render_template("contacts/setup.html", base=base, books=books,
                           principal=f"{base}/dav/principals/{name}/",
                           home=f"{base}/dav/addressbooks/{name}/")


@bp.route("/api/contacts")
def suggestions():
    """Pickers: visible active contacts of a kind whose name contains `q` (in one book
    with `book`)."""
    kind, book = request.args.get("kind", "company"), request.args.get("book", "")
    if kind not in listing.KINDS or (book and not book.isdigit()):
        abort(400)
    rows = listing.suggest(actor(), kind, request.args.get("q", ""),
                           book_id=int(book) if book else None)
    return jsonify([{"id": c.id, "name": c.display_name, "org": c.org} for c in rows])
