"""CSV rows ⇄ contact records: the documented column set of import and export.

CSV (UTF-8, optional BOM; `,` `;` or tab, found from the header row). The first row
names the columns (case, spaces and hyphens ignored; a column map renames others, by
header text or position, or leaves them out with IGNORE); an unknown column fails the
whole file before anything is written. Row numbers count the
header as row 1, as a spreadsheet shows them. Blank rows are skipped.

  kind              person (default) or company
  uid               the card's UID; empty: a new UUID (re-importing that row creates
                    another contact, so keep the uid column to update later)
  fn                display name; empty: built from prefix given middle family suffix,
                    else company, nickname, first email or phone (a built name follows
                    later changes of the names, even when the file repeats it)
  prefix given middle family suffix nickname
  company department title
  email, phone      one or more values separated by `|`, each optionally preceded by
                    vCard TYPEs and a colon: `work,pref: ann@example.com | home: a@b.org`,
                    `cell: +49 30 1234567`
  address_billing address_shipping address_work address_home address_other
                    one or more addresses separated by `|`, each
                    `street; locality; region; postal code; country` (trailing parts may
                    be left out) or all seven vCard parts `pobox; ext; street; locality;
                    region; postal code; country`; `\\;` is a literal semicolon. More
                    TYPEs may precede it as for email (`pref: 1 Main St; Springfield`),
                    so a street must not start with a word and a colon.
  url               one or more URLs separated by `|`
  birthday          YYYY-MM-DD, or --MM-DD without a year
  note              free text (line breaks allowed)
  tags              comma-separated (vCard CATEGORIES); `\\,` is a comma in a tag
  owner             the book: a username (their `personal` book) or group:NAME (the
                    group's book), optionally /SLUG for another book of that owner;
                    empty: the import's default book. The importer must be allowed to
                    write there.
  assignee          a username (an active user); empty clears it

Repeating a multi-valued column (two `email` columns) adds its values. A column that is
present sets that field (`CsvRow.fields`), empty cells included; an absent one leaves it
alone. Export writes every column (`row_cells`). Pure functions, no database:
contacts/transfer.py stores what they return.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidInput
from ..vcard import structured_components
from ..vcard.build import KINDS, CardRecord, address_kind, normal_date, normal_types
from ..vcard.derive import split_list

ADDRESS_COLUMNS = ("address_billing", "address_shipping", "address_work", "address_home",
                   "address_other")
COLUMNS = ("kind", "uid", "fn", "prefix", "given", "middle", "family", "suffix", "nickname",
           "company", "department", "title", "email", "phone", *ADDRESS_COLUMNS, "url",
           "birthday", "note", "tags", "owner", "assignee")
_MULTI = frozenset({"email", "phone", "url", "tags", *ADDRESS_COLUMNS})
_TEXT = {"fn": "fn", "prefix": "prefix", "given": "given", "middle": "middle",
         "family": "family", "suffix": "suffix", "nickname": "nickname", "company": "org",
         "department": "department", "title": "title", "note": "note"}
_LIST = {"email": "emails", "phone": "phones", "url": "urls", "tags": "tags",
         **{c: "addresses" for c in ADDRESS_COLUMNS}}
_TYPED = re.compile(r"\s*([A-Za-z][\w-]*(?:\s*,\s*[A-Za-z][\w-]*)*)\s*:\s*(.*)", re.S)
_URI_SCHEMES = frozenset({"tel", "mailto", "sip", "sips", "http", "https", "xmpp", "urn"})


@dataclass
class CsvRow:
    """One parsed row: the record and what else the row says."""

    record: CardRecord
    fields: set[str]  # the record fields whose columns the file has
    owner: str
    assignee: str | None  # None: no assignee column


def read_csv(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with their numbers (the header is row 1)."""
    text = text[1:] if text.startswith("\ufeff") else text
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 1
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the file is empty; its first row must name the columns")
        rows = []
        for cells in reader:
            number += 1
            if any(c.strip() for c in cells):
                rows.append((number, cells))
    except csv.Error as exc:
        raise InvalidInput(f"row {number + 1}: not CSV: {exc}") from None
    return header, rows


# A column map's value for a column to leave out (its cells are not read).
IGNORE = "-"
# Header names of other programs' exports (Google, Outlook, Apple), normalised as
# `normal_column` does, and the column each fills; `suggest_column` offers them.
ALIASES = {
    "name": "fn", "full_name": "fn", "display_name": "fn", "first_name": "given",
    "given_name": "given", "last_name": "family", "family_name": "family", "surname": "family",
    "middle_name": "middle", "additional_name": "middle", "title": "title",
    "job_title": "title", "name_prefix": "prefix", "name_suffix": "suffix",
    "organization": "company", "organization_name": "company", "organisation": "company",
    "organization_1_name": "company", "organization_1_title": "title",
    "e_mail": "email", "e_mail_address": "email", "email_address": "email",
    "e_mail_1_value": "email", "e_mail_2_value": "email",
    "e_mail_2_address": "email", "mobile_phone": "phone",
    "phone_number": "phone", "business_phone": "phone", "home_phone": "phone",
    "phone_1_value": "phone", "phone_2_value": "phone", "notes": "note",
    "categories": "tags", "labels": "tags", "group_membership": "tags",
    "website": "url", "web_page": "url", "website_1_value": "url", "dob": "birthday",
    "business_address": "address_work", "home_address": "address_home",
    "company_name": "company",
}


def normal_column(name: str) -> str:
    """A header cell as a column name: case, spaces and hyphens ignored."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def suggest_column(header: str) -> str:
    """The column a header cell most likely means (its own name or a known alias of
    another program's export), or IGNORE."""
    name = normal_column(header)
    if name in COLUMNS:
        return name
    return ALIASES.get(name, IGNORE)


def column_names(header: list[str],
                 column_map: dict[str | int, str]) -> list[str | None]:
    """Column names by position: None for a header cell left empty (its cells must be
    empty too), IGNORE for a column the map leaves out. `column_map` renames by
    header text, or by position (an int, counting from 0), which comes first."""
    names: list[str | None] = []
    for position, raw in enumerate(header):
        name = column_map.get(position, column_map.get(raw.strip(), raw.strip()))
        names.append(IGNORE if name == IGNORE else normal_column(name) or None)
    unknown = [raw.strip() for raw, n in zip(header, names, strict=True)
               if n is not None and n != IGNORE and n not in COLUMNS]
    if unknown or not any(n and n != IGNORE for n in names):
        raise InvalidInput(f"unknown columns: {', '.join(map(repr, unknown)) or '(none named)'}"
                           f"; the columns are {', '.join(COLUMNS)}")
    repeated = sorted({n for n in names if n and n != IGNORE and n not in _MULTI
                       and names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"column {repeated[0]!r} appears more than once")
    return names


def parse_row(columns: list[str | None], cells: list[str]) -> CsvRow:
    """One data row as a record; InvalidInput names the first bad cell."""
    if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
        raise InvalidInput(f"the row has {len(cells)} cells; the header names {len(columns)}")
    values: dict[str, list[str]] = {}
    for name, cell in zip(columns, cells + [""] * (len(columns) - len(cells)), strict=True):
        if name == IGNORE:
            continue
        if name is None:
            if cell.strip():
                raise InvalidInput(f"a value in a column without a name: {cell.strip()[:40]!r}")
            continue
        values.setdefault(name, []).append(cell.strip())
    one = {name: found[0] for name, found in values.items()}
    record = CardRecord(uid=one.get("uid", ""))
    present = set()
    for column, attr in _TEXT.items():
        if column in one:
            setattr(record, attr, one[column])
            present.add(attr)
    kind = one.get("kind", "").lower()
    if kind:
        if kind not in KINDS:
            raise InvalidInput(f"unknown kind {one['kind']!r}: use person or company")
        record.kind = kind
        present.add("kind")
    if one.get("birthday"):
        record.birthday = normal_date(one["birthday"]) or ""
        if not record.birthday:
            raise InvalidInput(f"birthday {one['birthday']!r} is not a date: write YYYY-MM-DD, "
                               "or --MM-DD without a year")
    if "birthday" in one:
        present.add("birthday")
    for column, attr in _LIST.items():
        if column not in values:
            continue
        items = [i.strip() for cell in values[column] for i in cell.split("|") if i.strip()]
        present.add(attr)
        if column in ("email", "phone"):
            drop = "internet" if column == "email" else ""
            getattr(record, attr).extend(e for i in items if (e := _typed(i, drop))[1])
        elif column == "url":
            record.urls.extend(items)
        elif column == "tags":
            tags = [t for cell in values[column] for t in split_list(cell) if t]
            record.tags.extend(dict.fromkeys(tags))
        else:
            record.addresses.extend(_address(i, column[8:]) for i in items)
    record.addresses.sort(key=lambda a: ADDRESS_COLUMNS.index("address_" + address_kind(a[0])))
    return CsvRow(record, present, one.get("owner", ""), one.get("assignee"))


def _typed(item: str, drop: str = "") -> tuple[tuple[str, ...], str]:
    """`work,pref: value` as ((pref, work), value); a URI (tel:, mailto:) is a value."""
    m = _TYPED.fullmatch(item)
    if m:
        words = [w.strip().lower() for w in m[1].split(",")]
        if words[0] not in _URI_SCHEMES:
            return normal_types(w for w in words if w != drop), m[2].strip()
    return (), item


def _address(item: str, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    types, text = _typed(item)
    parts = [p.strip() for p in structured_components(text)]
    if len(parts) <= 5:
        parts = ["", ""] + parts + [""] * (5 - len(parts))
    elif len(parts) != 7:
        raise InvalidInput(f"address {text[:60]!r} has {len(parts)} parts: write street; "
                           "locality; region; code; country (or all 7 vCard parts)")
    kinds = () if kind == "other" else (kind,)
    return normal_types((*types, *kinds)), tuple(parts)


def row_cells(r: CardRecord, owner: str, assignee: str) -> list[str]:
    """A record as the cells of a CSV row, in COLUMNS order."""
    by_kind: dict[str, list[str]] = {c: [] for c in ADDRESS_COLUMNS}
    for types, parts in r.addresses:
        kind = address_kind(types)
        extra = [t for t in types if t != kind or kind == "other"]  # the column says kind
        by_kind["address_" + kind].append(_prefixed(extra, _address_text(parts)))
    cells = {"kind": r.kind, "uid": r.uid, "fn": r.fn, "prefix": r.prefix, "given": r.given,
             "middle": r.middle, "family": r.family, "suffix": r.suffix,
             "nickname": r.nickname, "company": r.org, "department": r.department,
             "title": r.title, "email": " | ".join(_prefixed(t, v) for t, v in r.emails),
             "phone": " | ".join(_prefixed(t, v) for t, v in r.phones),
             **{c: " | ".join(v) for c, v in by_kind.items()}, "url": " | ".join(r.urls),
             "birthday": r.birthday, "note": r.note,
             "tags": ", ".join(t.replace("\\", "\\\\").replace(",", "\\,") for t in r.tags),
             "owner": owner, "assignee": assignee}
    return [cells[c] for c in COLUMNS]


def _prefixed(types: Iterable[str], value: str) -> str:
    types = ",".join(types)
    return f"{types}: {value}" if types else value


def _address_text(parts: tuple[str, ...]) -> str:
    escaped = [p.replace("\\", "\\\\").replace(";", "\\;") for p in parts]
    if parts[0] or parts[1]:
        return "; ".join(escaped)
    tail = escaped[2:]
    while tail and not tail[-1]:
        tail.pop()
    return "; ".join(tail)
