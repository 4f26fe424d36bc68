"""Import (upload a CSV or .vcf file, preview its first rows, map CSV columns, check it
with a dry run, import it) and export (the contacts page's current filter, as CSV or
.vcf, streamed). The rows are written by contacts.transfer, as the CLI writes them:
each through the one write path, as the signed-in user, in its own transaction.

The uploaded file waits in the database (contacts.uploads) between these requests,
which any worker process may serve.
"""

from __future__ import annotations

import datetime as _dt

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from ...contacts import listing, transfer, uploads
from ...contacts.actor import Actor
from ...contacts.csvrows import COLUMNS, IGNORE, read_csv, suggest_column
from ...errors import DomainError
from ...model.uploads import Upload
from ...vcard import split_cards
from ...vcard.build import record_from_card
from .. import editing, scope
from ..context import settings, user
from .contacts import query_from_args

bp = Blueprint("transfer", __name__)
PREVIEW_ROWS = 5
SHOWN_RESULTS = 1000
DOOR = "import"


def _books() -> list[tuple[int, str]]:
    return [(vb.book.id, f"{vb.book.display_name} ({vb.segment})")
            for vb in scope.writable_books(user())]


@bp.route("/import", methods=["GET", "POST"])
def upload():
    error = ""
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error = "Choose a file to upload."
        else:
            try:
                stored = uploads.stash(user(), file.filename, file.read())
            except DomainError as exc:
                error = exc.reason
            else:
                return redirect(url_for("transfer.preview", token=stored.token,
                                        book=request.form.get("book", "")))
    return render_template("import/upload.html", books=_books(), error=error,
                           max_mib=settings().max_upload // (1 << 20)), 400 if error else 200


def _csv_preview(upload: Upload, form) -> dict:
    """Header, first rows and the column mapping (as submitted, else suggested)."""
    header, rows = read_csv(uploads.text(upload))
    mapping = []
    for i, name in enumerate(header):
        chosen = form.get(f"map_{i}")
        mapping.append(chosen if chosen in COLUMNS or chosen == IGNORE else
                       suggest_column(name))
    return {"header": header, "rows": [cells for _, cells in rows[:PREVIEW_ROWS]],
            "total": len(rows), "mapping": mapping}


def _vcf_preview(upload: Upload) -> dict:
    cards = split_cards(uploads.content(upload))
    shown = []
    for text in cards[:PREVIEW_ROWS]:
        try:
            shown.append((record_from_card(text), ""))
        except (DomainError, ValueError) as exc:
            shown.append((None, getattr(exc, "reason", str(exc))))
    return {"cards": shown, "total": len(cards)}


def _render(upload: Upload, *, report: transfer.ImportReport | None = None, error: str = "",
            status: int = 200):
    form = request.form if request.method == "POST" else request.args
    preview: dict = {}
    try:
        preview = _csv_preview(upload, form) if upload.format == "csv" else _vcf_preview(upload)
    except DomainError as exc:
        error, status = error or exc.reason, 400
    book = form.get("book", "")
    return render_template(
        "import/preview.html", upload=upload, preview=preview, report=report, error=error,
        books=_books(), book=book, columns=COLUMNS, ignore=IGNORE,
        shown_results=SHOWN_RESULTS), status


@bp.route("/import/<token>")
def preview(token: str):
    return _render(uploads.load(user(), token))


@bp.route("/import/<token>", methods=["POST"])
def run(token: str):
    """action=check: a dry run; action=import: the import; action=discard."""
    upload = uploads.load(user(), token)
    action = request.form.get("action", "")
    if action == "discard":
        uploads.discard(upload)
        return redirect(url_for("transfer.upload"))
    if action not in ("check", "import"):
        abort(400, description="Unknown action.")
    book = editing.writable_book(user(), request.form.get("book", ""))
    actor = Actor(user(), DOOR)
    dry_run = action == "check"
    try:
        if upload.format == "csv":
            text = uploads.text(upload)
            header, _ = read_csv(text)
            column_map = {i: request.form.get(f"map_{i}") or suggest_column(name)
                          for i, name in enumerate(header)}
            report = transfer.import_csv(actor, text, default_book=book,
                                         dry_run=dry_run, column_map=column_map,
                                         max_size=settings().max_resource_size)
        else:
            report = transfer.import_vcf(actor, uploads.content(upload), book=book,
                                         dry_run=dry_run, max_size=settings().max_resource_size)
    except DomainError as exc:
        return _render(upload, error=exc.reason, status=400)
    if dry_run:
        return _render(upload, report=report)
    uploads.discard(upload)
    return render_template("import/result.html", upload=upload, report=report,
                           shown_results=SHOWN_RESULTS)


@bp.route("/export")
def export():
    """The contacts matching the list's filters, streamed in batches (contacts.listing
    .each_matching): memory stays flat for 100,000 contacts."""
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "vcf"):
        abort(400, description="Export as csv or vcf.")
    query = query_from_args(request.args)
    contacts = listing.each_matching(Actor(user(), DOOR), query)
    if fmt == "csv":
        body = (chunk.encode("utf-8") for chunk in transfer.csv_chunks(contacts))
        mimetype = "text/csv; charset=utf-8"
    else:
        body = transfer.vcf_chunks(contacts)
        mimetype = "text/vcard; charset=utf-8"
    stamp = _dt.date.today().strftime("%Y%m%d")
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="contacts-{stamp}.{fmt}"'})

