"""Import and export: many cards in one .vcf file, or contacts as CSV rows.

Every card goes through `cards.put_card` in its own transaction: a bad row is reported
(with its row or card number and the reason) and never stops the others nor leaves a
half-written contact. A dry run does everything, ACL and validation included, inside
that transaction and rolls it back. A UID already in the target book updates that card
under its existing name; a new one is stored as `<uid>.vcf` (`resource_name`). A UID
that repeats within one file is an error on its second row. `progress(done, total)`
is called after each row.

CSV rows map to records as csvrows.py documents (the column set, also in
docs/import-export.md). A column that is present replaces that field of an existing
contact, empty cells included; a column that is absent leaves it alone. Only the vCard
properties whose values change are rewritten (vcard/build.update_card); everything else
in the stored card stays as it was (PHOTO, X- properties, labels). Export writes every
column, contact groups excepted (CSV has no members).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO, TextIO

from peewee import DataError, IntegrityError

from ..acl import policy
from ..errors import DomainError, InvalidInput, NotFound
from ..model import AddressBook, Contact, Group, Lookup, User, write_transaction
from ..vcard import parse_card, split_cards
from ..vcard.build import KINDS, build_card, default_fn, record_from_card, update_card
from .actor import Actor
from .cards import put_card
from .csvrows import COLUMNS, CsvRow, column_names, parse_row, read_csv, row_cells
from .groups import GROUP_BOOK_SLUG
from .records import set_assignee
from .users import PERSONAL_SLUG

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DEFAULT_MAX_SIZE = 1 << 20  # config dav.max_resource_size's default; the CLI passes its own

_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")
_UID_HOLDER = Lookup(Contact, '"book_id" = {p} AND "uid_key" = {p}', limit=1)
_PAGE = 500


@dataclass(frozen=True)
class RowResult:
    """One row's (or card's) outcome: created, updated, unchanged or failed; the
    contact's name and, unless it failed or the run was dry, its id."""

    number: int
    outcome: str
    name: str = ""
    contact_id: int | None = None
    reason: str = ""


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do). `failed`: (row or card number,
    reason). `updated` counts rows whose UID was already in the book. `rows`: every
    row's RowResult, in file order."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    rows: list[RowResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class _DryRun(Exception):
    """Raised inside a row's transaction to roll it back after a dry run's checks."""

    def __init__(self, outcome: tuple[str, Contact | None]):
        super().__init__(outcome[0])
        self.outcome = outcome


_KEEP = object()  # "leave the assignee as it is"


def resource_name(uid: str) -> str:
    """`<uid>.vcf` for a URL-safe UID (a urn:uuid: prefix dropped), else a UUID5 of it."""
    bare = uid[9:] if uid.lower().startswith("urn:uuid:") else uid
    if _SAFE_NAME.fullmatch(bare) and bare not in (".", ".."):
        return f"{bare}.vcf"
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, uid)}.vcf"


def _store(actor: Actor, book: AddressBook, uid: str,
           card_for: Callable[[Contact | None], bytes | None], *, max_size: int,
           dry_run: bool, assignee: object = _KEEP) -> tuple[str, Contact | None]:
    """Create or update the card with `uid` in `book` in one transaction; `card_for`
    gives the new bytes from the existing row (None: the text stays). Returns created,
    updated or unchanged, and the contact."""
    if len(uid) > Contact.uid.max_length:
        raise InvalidInput(f"the UID is longer than {Contact.uid.max_length} characters")
    try:
        with write_transaction():
            existing = _UID_HOLDER.first(book.id, uid)
            data = card_for(existing)
            outcome, contact = "unchanged", existing
            if data is not None:
                if existing is None:
                    result = put_card(actor, book, resource_name(uid), data, max_size=max_size,
                                      must_not_exist=True)
                else:
                    result = put_card(actor, book, existing.name, data, max_size=max_size,
                                      expected_etag=existing.etag)
                contact = result.contact
                outcome = ("created" if result.created else
                           "updated" if result.changed else "unchanged")
            if assignee is not _KEEP and contact is not None and \
                    _assignee_name(contact) != (assignee or None):
                try:  # the one place that sets an assignee (and its rules)
                    set_assignee(actor, contact, assignee or None)
                except NotFound as exc:
                    raise InvalidInput(f"assignee: {exc.reason}") from exc
                outcome = "updated" if outcome == "unchanged" else outcome
            if dry_run:
                raise _DryRun((outcome, contact))
    except _DryRun as done:
        return done.outcome
    return outcome, contact


def _run_row(report: ImportReport, number: int,
             step: Callable[[], tuple[str, Contact | None]]) -> None:
    try:
        outcome, contact = step()
    except DomainError as exc:
        reason = exc.reason
    except (DataError, IntegrityError) as exc:
        reason = f"the database refused the card: {str(exc).strip()}"
    else:
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.rows.append(RowResult(
            number, outcome, contact.display_name if contact else "",
            None if report.dry_run or contact is None else contact.id))
        return
    report.failed.append((number, reason))
    report.rows.append(RowResult(number, "failed", reason=reason))


def _first_use(seen: dict, key: object, number: int, what: str) -> None:
    if key in seen:
        raise InvalidInput(f"UID {key[-1] if isinstance(key, tuple) else key!r} repeats "
                           f"{what} {seen[key]} of this file")
    seen[key] = number


def import_vcf(actor: Actor, data: bytes, *, book: AddressBook, dry_run: bool = False,
               progress: Progress | None = None,
               max_size: int = DEFAULT_MAX_SIZE) -> ImportReport:
    """Import every card of a .vcf file into `book`, byte for byte. Raises InvalidCard
    if the file is not a sequence of BEGIN:VCARD … END:VCARD blocks."""
    cards = split_cards(data)
    report = ImportReport(total=len(cards), dry_run=dry_run)
    seen: dict[str, int] = {}

    for number, text in enumerate(cards, 1):
        body = text.encode("utf-8")

        def step(body: bytes = body, number: int = number) -> tuple[str, Contact | None]:
            uid = parse_card(body, max_size=max_size).uid
            _first_use(seen, uid, number, "card")
            return _store(actor, book, uid, lambda _: body, max_size=max_size,
                          dry_run=dry_run)

        _run_row(report, number, step)
        if progress:
            progress(number, report.total)
    return report


# CSV import ------------------------------------------------------------------------


def import_csv(actor: Actor, text: str, *, default_book: AddressBook | None,
               dry_run: bool = False, progress: Progress | None = None,
               column_map: dict[str | int, str] | None = None,
               max_size: int = DEFAULT_MAX_SIZE) -> ImportReport:
    """Import contacts from CSV rows (columns: csvrows.py). Rows without an owner go to
    `default_book`. Raises InvalidInput for a file-level problem (no header, unknown
    columns) before anything is written."""
    header, rows = read_csv(text)
    columns = column_names(header, column_map or {})
    report = ImportReport(total=len(rows), dry_run=dry_run)
    books = _BookResolver(actor, default_book)
    seen: dict[tuple[int, str], int] = {}
    for done, (number, cells) in enumerate(rows, 1):

        def step(number: int = number,
                 cells: list[str] = cells) -> tuple[str, Contact | None]:
            row = parse_row(columns, cells)
            book = books.resolve(row.owner)
            assignee = _KEEP if row.assignee is None else row.assignee
            uid = row.record.uid or str(uuid.uuid4())
            _first_use(seen, (book.id, uid), number, "row")
            return _store(actor, book, uid, lambda existing: _csv_card(existing, row, uid),
                          max_size=max_size, dry_run=dry_run, assignee=assignee)

        _run_row(report, number, step)
        if progress:
            progress(done, report.total)
    return report


def _csv_card(existing: Contact | None, row: CsvRow, uid: str) -> bytes | None:
    """The bytes to store for a CSV row: a new card, or the existing one with the
    row's fields changed (None when nothing changes)."""
    if existing is None:
        return build_card(replace(row.record, uid=uid)).encode("utf-8")
    if existing.kind not in KINDS:
        raise InvalidInput(f"UID {uid!r} is a contact group in this book; groups are "
                           "imported from .vcf files")
    old = record_from_card(existing.vcard)
    record = replace(old, **{f: getattr(row.record, f) for f in row.fields})
    # A display name built from the names follows them, even if the file repeats it.
    derived = old.fn == default_fn(old)
    if row.record.fn and not (derived and row.record.fn == old.fn):
        record.fn = row.record.fn
    elif "fn" in row.fields or derived or not old.fn:
        record.fn = default_fn(record)
    text = update_card(existing.vcard, record)
    return None if text == existing.vcard else text.encode("utf-8")


def _assignee_name(contact: Contact) -> str | None:
    if contact.assignee_id is None:
        return None
    return User.select(User.username).where(User.id == contact.assignee_id).scalar()


class _BookResolver:
    """Owner text → writable book, remembered for the rest of the file."""

    def __init__(self, actor: Actor, default: AddressBook | None):
        self.actor = actor
        self.default = default
        self.cache: dict[str, AddressBook | DomainError] = {}

    def resolve(self, owner: str) -> AddressBook:
        if owner not in self.cache:
            try:
                self.cache[owner] = self._find(owner)
            except DomainError as exc:
                self.cache[owner] = exc
        found = self.cache[owner]
        if isinstance(found, DomainError):
            raise found
        return found

    def _find(self, owner: str) -> AddressBook:
        if not owner:
            if self.default is None:
                raise InvalidInput("no owner: fill the owner column or give a default book")
            book = self.default
        else:
            book = book_for_owner(owner)
        if not self.actor.is_system and policy.book_access(self.actor.user, book) != policy.WRITE:
            raise InvalidInput(f"no address book you may write for owner {owner or '(default)'!r}")
        return book


def book_for_owner(owner: str) -> AddressBook:
    """The book an owner text names: USER or group:NAME, optionally /SLUG."""
    name, _, slug = owner.strip().partition("/")
    book = None
    if name.lower().startswith("group:"):
        group = Group.get_or_none(Group.name == name[6:])
        if group is not None:
            book = AddressBook.get_or_none((AddressBook.owner_group == group.id)
                                           & (AddressBook.slug == (slug or GROUP_BOOK_SLUG)))
    else:
        user = User.get_or_none(User.username == name)
        if user is not None:
            book = AddressBook.get_or_none((AddressBook.owner_user == user.id)
                                           & (AddressBook.slug == (slug or PERSONAL_SLUG)))
    if book is None:
        raise InvalidInput(f"no address book for owner {owner!r}: write a username or "
                           "group:NAME, optionally followed by /BOOK")
    return book


def owner_label(book: AddressBook) -> str:
    """The owner text `book_for_owner` reads back."""
    if book.owner_user_id is not None:
        name = User.get_by_id(book.owner_user_id).username
        default = PERSONAL_SLUG
    else:
        name = "group:" + Group.get_by_id(book.owner_group_id).name
        default = GROUP_BOOK_SLUG
    return name if book.slug == default else f"{name}/{book.slug}"


# Export ----------------------------------------------------------------------------


def _live_cards(books: list[AddressBook], progress: Progress | None) -> Iterator[Contact]:
    """The active cards of `books`, book by book and by name, read in keyset pages."""
    ids = [b.id for b in books]
    total = (Contact.select().where(Contact.book.in_(ids) & (Contact.state == "active")).count()
             if ids else 0)
    done = 0
    for book_id in ids:
        after = ""
        while True:
            page = list(Contact.select(Contact.id, Contact.book, Contact.name, Contact.kind,
                                       Contact.vcard, Contact.assignee)
                        .where((Contact.book == book_id) & (Contact.state == "active")
                               & (Contact.name > after))
                        .order_by(Contact.name).limit(_PAGE))
            for contact in page:
                yield contact
                done += 1
                if progress:
                    progress(done, total)
            if len(page) < _PAGE:
                break
            after = page[-1].name


def vcf_chunks(contacts: Iterable[Contact]) -> Iterator[bytes]:
    """The cards as one .vcf file, card by card: each byte for byte as GET serves it
    (but a BOM, which only a file's start may carry)."""
    for contact in contacts:
        data = contact.vcard.removeprefix("\ufeff").encode("utf-8")
        yield data if data.endswith(b"\n") else data + b"\r\n"


@dataclass
class ExportCount:
    rows: int = 0
    skipped: int = 0  # contact groups, which CSV leaves out


def csv_chunks(contacts: Iterable[Contact], count: ExportCount | None = None
               ) -> Iterator[str]:
    """The contacts as CSV text (the module's columns, header first), a hundred rows
    per chunk. Contact groups are left out (CSV has no members); `count` says how many
    rows were written and how many groups skipped."""
    count = count if count is not None else ExportCount()
    owners: dict[int, str] = {}
    usernames = dict(User.select(User.id, User.username).tuples())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for contact in contacts:
        if contact.kind not in KINDS:
            count.skipped += 1
            continue
        if contact.book_id not in owners:
            owners[contact.book_id] = owner_label(AddressBook.get_by_id(contact.book_id))
        writer.writerow(row_cells(record_from_card(contact.vcard), owners[contact.book_id],
                                   usernames.get(contact.assignee_id, "")))
        count.rows += 1
        if count.rows % 100 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_vcf(books: Iterable[AddressBook], out: BinaryIO,
               progress: Progress | None = None) -> int:
    """Write the active cards of `books` to `out` as one .vcf (vcf_chunks). Returns the
    number of cards."""
    count = 0
    for chunk in vcf_chunks(_live_cards(list(books), progress)):
        out.write(chunk)
        count += 1
    return count


def export_csv(books: Iterable[AddressBook], out: TextIO,
               progress: Progress | None = None) -> int:
    """Write the active contacts of `books` as CSV rows (csv_chunks), header first.
    Returns the rows written."""
    count = ExportCount()
    for chunk in csv_chunks(_live_cards(list(books), progress), count):
        out.write(chunk)
    if count.skipped:
        log.warning("%d contact groups left out of the CSV export (export .vcf to keep them)",
                    count.skipped)
    return count.rows
