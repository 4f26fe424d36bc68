"""Build vCards from plain records, read records back from cards, and apply a record's
changes to a stored card (the CSV side of import and export).

A built card is vCard 3.0 unless 4.0 is asked for: CRLF line endings, folded at 75
octets (RFC 6350 §3.2), text values escaped (RFC 2426 §4, RFC 6350 §3.4). A company is
`N:;;;;` plus Apple's `X-ABShowAs:COMPANY` in 3.0 and `KIND:org` in 4.0 (RFC 6350 §6.1.4).
Billing and shipping addresses have no vCard TYPE: a new card carries them as Apple item
labels (`item1.ADR…` with `item1.X-ABLabel:Billing`), which Apple clients show and
derive.py reads back as their kind (an address `update_card` rewrites gets them as TYPE
values, as edit.py writes types; derive.py and `record_from_card` read both).

`update_card` is how an import changes a stored card: only the properties whose values
differ are set, through edit.py, so every other line (PHOTO, X- properties, item groups,
order, line endings) stays byte for byte, as DESIGN.md asks of structured edits.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace

from ..errors import InvalidInput
from . import edit
from .convert import clean_text, escape_text, fold, qp_decode
from .derive import ADDRESS_KINDS, split_list
from .edit import _uri
from .parse import ContentLine, _is_quoted_printable, parse_card, text_value
from .parse import structured_components as _components

KINDS = ("person", "company")
# An ADR kind that is an Apple label rather than a TYPE value.
LABEL_KINDS = ("billing", "shipping")
_DATE = re.compile(r"(\d{4})-?(\d\d)-?(\d\d)(?:T[0-9:.]*(?:Z|[+-]\d\d:?\d\d)?)?")
_NO_YEAR = re.compile(r"--(\d\d)-?(\d\d)")
_APPLE_OMIT_YEAR = "1604"  # Apple's placeholder year for a birthday without one

Typed = tuple[tuple[str, ...], str]  # (types, value): lower-case, sorted TYPE values
AddressParts = tuple[str, str, str, str, str, str, str]  # pobox, ext, street, locality,
#                                                          region, code, country
Address = tuple[tuple[str, ...], AddressParts]


@dataclass
class CardRecord:
    """A contact as plain values: what CSV import and export carry. Types are
    lower-case and sorted (`normal_types`); EMAIL's default `internet` is left out."""

    uid: str = ""
    kind: str = "person"  # person, company (record_from_card may also say group)
    fn: str = ""
    prefix: str = ""
    given: str = ""
    middle: str = ""
    family: str = ""
    suffix: str = ""
    nickname: str = ""
    org: str = ""  # the company name
    department: str = ""
    title: str = ""
    emails: list[Typed] = field(default_factory=list)
    phones: list[Typed] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    birthday: str = ""  # YYYY-MM-DD, or --MM-DD without a year
    note: str = ""
    tags: list[str] = field(default_factory=list)


RECORD_FIELDS = tuple(f.name for f in fields(CardRecord))

# The vCard properties a record covers, and the record fields each is built from.
# "KIND" stands for X-ABShowAs in 3.0 and KIND in 4.0.
PROPERTIES: dict[str, tuple[str, ...]] = {
    "KIND": ("kind",), "FN": ("fn",), "N": ("family", "given", "middle", "prefix", "suffix"),
    "NICKNAME": ("nickname",), "ORG": ("org", "department"), "TITLE": ("title",),
    "EMAIL": ("emails",), "TEL": ("phones",), "ADR": ("addresses",), "URL": ("urls",),
    "BDAY": ("birthday",), "NOTE": ("note",), "CATEGORIES": ("tags",),
}  # fmt: skip


def normal_types(values: Iterable[str]) -> tuple[str, ...]:
    """TYPE values as a record keeps them: lower-case, without duplicates, sorted."""
    return tuple(sorted({v.strip().lower() for v in values if v.strip()}))


def address_kind(types: Iterable[str]) -> str:
    """billing, shipping, work, home (in that precedence, as derive.py) or other."""
    words = set(types)
    return next((k for k in ADDRESS_KINDS if k in words), "other")


def normal_date(value: str, omit_year: str = "") -> str | None:
    """A BDAY as YYYY-MM-DD or --MM-DD (no year), or None if it is not a date.
    `omit_year` is Apple's X-APPLE-OMIT-YEAR: that year means "no year"."""
    value = value.strip()
    if m := _DATE.fullmatch(value):
        year, month, day = m.groups()
        if not _valid(int(year) or 2000, int(month), int(day)):
            return None
        return f"--{month}-{day}" if year == omit_year else f"{year}-{month}-{day}"
    if (m := _NO_YEAR.fullmatch(value)) and _valid(2000, int(m[1]), int(m[2])):
        return f"--{m[1]}-{m[2]}"
    return None


def _valid(year: int, month: int, day: int) -> bool:
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    return True


def default_fn(record: CardRecord) -> str:
    """The display name a card gets when none is given: the person's names, else the
    company, the nickname, the first email or phone."""
    names = record.prefix, record.given, record.middle, record.family, record.suffix
    person = " ".join(p for p in names if p) if record.kind != "company" else ""
    candidates = (person, record.org, record.nickname,
                  record.emails[0][1] if record.emails else "",
                  record.phones[0][1] if record.phones else "")
    return next((c for c in candidates if c), "")


# Building ----------------------------------------------------------------------------


def build_card(record: CardRecord, *, version: str = "3.0") -> str:
    """A new vCard for `record` (FN from `default_fn` when empty). Raises InvalidInput
    for a record no valid card can hold (no UID, no name, an unknown kind, a bad date)."""
    _check(record, version)
    items = _item_groups(0)
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if version == "4.0":
        lines += _lines("KIND", record, version, items)
    lines.append(f"UID:{_text(record.uid)}")
    for prop in ("FN", "N", "NICKNAME", "ORG", "TITLE", "EMAIL", "TEL", "ADR", "URL", "BDAY",
                 "NOTE", "CATEGORIES"):
        lines += _lines(prop, record, version, items)
    if version == "3.0":
        lines += _lines("KIND", record, version, items)
    lines.append("END:VCARD")
    return "".join(fold(line, "\r\n") for line in lines)


def build_group(uid: str, name: str) -> str:
    """A new, empty contact group in Apple's vCard 3 form (``N`` and ``FN`` the name,
    ``X-ADDRESSBOOKSERVER-KIND:group``), which iOS and macOS read as it is and
    convert.py serves as ``KIND:group`` to a client asking for vCard 4."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{_text(uid)}", f"FN:{_text(name)}",
             f"N:{_text(name)};;;;", "X-ADDRESSBOOKSERVER-KIND:group", "END:VCARD"]
    return "".join(fold(line, "\r\n") for line in lines)


def _check(record: CardRecord, version: str) -> None:
    if version not in ("3.0", "4.0"):
        raise ValueError(f"cannot build vCard {version!r}; use 3.0 or 4.0")
    if not record.uid.strip():
        raise InvalidInput("the contact has no UID")
    if record.kind not in KINDS:
        raise InvalidInput(f"unknown kind {record.kind!r}: use person or company")
    if not (record.fn or default_fn(record)):
        raise InvalidInput("the contact has no name: give fn, a person's names or a company")


def _text(value: str) -> str:
    return escape_text(clean_text(value))


def _type_params(types: tuple[str, ...], version: str) -> str:
    """TYPE=WORK,PREF in 3.0; TYPE=work;PREF=1 in 4.0 (RFC 6350 §5.3)."""
    if version == "3.0":
        return f";TYPE={','.join(t.upper() for t in types)}" if types else ""
    rest = [t for t in types if t != "pref"]
    return (f";TYPE={','.join(rest)}" if rest else "") + (";PREF=1" if "pref" in types else "")


def _item_groups(used: int) -> Iterator[str]:
    n = used
    while True:
        n += 1
        yield f"item{n}"


def _lines(prop: str, r: CardRecord, version: str, items: Iterator[str]) -> list[str]:
    """The content lines (unfolded) that `prop` gets from a record."""
    v4 = version == "4.0"
    if prop == "KIND":
        if r.kind != "company":
            return []
        return ["KIND:org"] if v4 else ["X-ABShowAs:COMPANY"]
    if prop == "FN":
        return [f"FN:{_text(r.fn or default_fn(r))}"]
    if prop == "N":
        parts = (r.family, r.given, r.middle, r.prefix, r.suffix)
        return [] if v4 and not any(parts) else ["N:" + ";".join(_text(p) for p in parts)]
    if prop == "ORG":
        if not (r.org or r.department):
            return []
        parts = [r.org, r.department] if r.department else [r.org]
        return ["ORG:" + ";".join(_text(p) for p in parts)]
    single = {"NICKNAME": r.nickname, "TITLE": r.title, "NOTE": r.note}
    if prop in single:
        return [f"{prop}:{_text(single[prop])}"] if single[prop] else []
    if prop in ("EMAIL", "TEL"):
        values = r.emails if prop == "EMAIL" else r.phones
        escape = _text if prop == "EMAIL" else _uri  # TEL is a phone-number or URI value
        return [f"{prop}{_type_params(types, version)}:{escape(value)}"
                for types, value in values if value]
    if prop == "ADR":
        return [line for types, parts in r.addresses for line in _adr(types, parts, version, items)]
    if prop == "URL":
        return [f"URL:{_uri(u)}" for u in r.urls if u]
    if prop == "BDAY":
        return _bday(r.birthday, v4) if r.birthday else []
    if prop == "CATEGORIES":
        return ["CATEGORIES:" + ",".join(_text(t) for t in r.tags)] if r.tags else []
    raise ValueError(f"a record does not cover {prop}")


def _adr(types: tuple[str, ...], parts: AddressParts, version: str,
         items: Iterator[str]) -> list[str]:
    if not any(parts):
        return []
    value = ";".join(_text(p) for p in parts)
    label = next((k for k in LABEL_KINDS if k in types), None)
    if label is None:
        return [f"ADR{_type_params(types, version)}:{value}"]
    group = next(items)
    rest = tuple(t for t in types if t != label)
    return [f"{group}.ADR{_type_params(rest, version)}:{value}",
            f"{group}.X-ABLabel:{label.capitalize()}"]


def _bday(value: str, v4: bool) -> list[str]:
    date = normal_date(value)
    if date is None:
        raise InvalidInput(f"birthday {value!r} is not a date: write YYYY-MM-DD, or --MM-DD "
                           "without a year")
    if date.startswith("--"):
        if v4:
            return [f"BDAY:--{date[2:4]}{date[5:7]}"]
        return [f"BDAY;X-APPLE-OMIT-YEAR={_APPLE_OMIT_YEAR}:{_APPLE_OMIT_YEAR}{date[1:]}"]
    return [f"BDAY:{date.replace('-', '')}"] if v4 else [f"BDAY:{date}"]


# Reading -----------------------------------------------------------------------------


def record_from_card(text: str | bytes) -> CardRecord:
    """The record a stored card holds (what CSV export writes); `fn` is the display name
    (`default_fn` when the card has no FN). Raises InvalidCard unless `text` is one
    valid vCard."""
    card = parse_card(text)
    labels = {ln.group.lower(): text_value(ln).strip().strip("_$!<>").lower()
              for ln in card.lines if ln.group and ln.name == "X-ABLABEL"}
    n = card.first("N")
    family, given, middle, prefix, suffix = (_structured(n) + [""] * 5)[:5] if n else [""] * 5
    org = card.first("ORG")
    org_parts = _structured(org) if org else [""]
    bday = card.first("BDAY")
    birthday = ""
    if bday is not None:
        raw = text_value(bday).strip()
        omit = (bday.param_values("X-APPLE-OMIT-YEAR") or [""])[0]
        birthday = normal_date(raw, omit) or raw
    record = CardRecord(
        uid=card.uid, kind=card.kind, fn=clean_text(card.fn).strip(), prefix=prefix, given=given,
        middle=middle, family=family, suffix=suffix,
        nickname=_first_text(card.all("NICKNAME")), org=org_parts[0],
        department="; ".join(p for p in org_parts[1:] if p), title=_first_text(card.all("TITLE")),
        emails=[(_types(ln, drop="internet"), v) for ln in card.all("EMAIL")
                if (v := _value(ln))],
        phones=[(_types(ln), _phone(ln)) for ln in card.all("TEL") if _phone(ln)],
        addresses=[a for ln in card.all("ADR") if (a := _address(ln, labels))],
        urls=[v for ln in card.all("URL") if (v := _value(ln))],
        birthday=birthday,
        note="\n".join(v for ln in card.all("NOTE") if (v := _value(ln))),
        tags=_tags(card.all("CATEGORIES")))
    record.fn = record.fn or default_fn(record)  # a 2.1 or 4.0 card may lack FN
    return record


def _structured(line: ContentLine) -> list[str]:
    """A structured value's components (N, ORG, ADR), quoted-printable decoded (2.1)."""
    value = line.value
    if _is_quoted_printable(line.params):
        value = qp_decode(value, (line.param_values("CHARSET") or [None])[0])
    return [clean_text(p).strip() for p in _components(value)]


def _first_text(lines: list[ContentLine]) -> str:
    return _value(lines[0]) if lines else ""


def _value(line: ContentLine) -> str:
    """A text value as a record holds it: decoded, one \\n per line break, stripped."""
    return clean_text(text_value(line)).strip()


def _types(line: ContentLine, drop: str = "") -> tuple[str, ...]:
    values = [v for v in line.param_values("TYPE") if v.lower() != drop]
    if line.param_values("PREF"):  # vCard 4.0 preference
        values.append("pref")
    return normal_types(values)


def _phone(line: ContentLine) -> str:
    value = _value(line)
    return value[4:] if value[:4].lower() == "tel:" else value


def _address(line: ContentLine, labels: dict[str, str]) -> Address | None:
    parts = (_structured(line) + [""] * 7)[:7]
    if not any(parts):
        return None
    types = list(_types(line))
    label = labels.get(line.group.lower(), "") if line.group else ""
    if label in LABEL_KINDS:
        types.append(label)
    return normal_types(types), (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5],
                                 parts[6])


def _tags(lines: list[ContentLine]) -> list[str]:
    seen: set[str] = set()
    tags: list[str] = []
    for line in lines:
        for tag in split_list(line.value):
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
    return tags


# Updating ----------------------------------------------------------------------------


def same_values(a: CardRecord, b: CardRecord, names: Iterable[str] = RECORD_FIELDS) -> bool:
    """Whether two records agree on the fields `names` (addresses compared by kind, in
    order within each kind, as a CSV file holds them)."""
    return all(_key(a, name) == _key(b, name) for name in names)


def _key(record: CardRecord, name: str) -> object:
    value = getattr(record, name)
    if name == "addresses":
        order = {k: i for i, k in enumerate((*ADDRESS_KINDS, "other"))}
        return sorted(value, key=lambda a: order[address_kind(a[0])])
    return value


def update_card(text: str, record: CardRecord) -> str:
    """`text` with the properties whose values differ from `record` set through edit.py
    (every other line stays byte for byte); `text` itself when nothing differs. The UID
    is never changed."""
    old = record_from_card(text)
    if same_values(old, record):
        return text
    if record.kind not in KINDS or old.kind not in KINDS:
        raise InvalidInput("a contact group is not changed by a record")
    record = replace(record, uid=old.uid)
    _check(record, "3.0")
    version = parse_card(text).version
    for prop, names in PROPERTIES.items():
        if not same_values(old, record, names):
            text = _set(text, prop, record, version)
    return text


def _set(text: str, prop: str, r: CardRecord, version: str) -> str:
    """Set one property of a stored card to the record's value (edit.py)."""
    v4 = version == "4.0"
    if prop == "KIND":
        name, value = ("KIND", "org") if v4 else ("X-ABShowAs", "COMPANY")
        return edit.set_single(text, name, value if r.kind == "company" else None)
    if prop in ("FN", "NICKNAME", "TITLE", "NOTE"):
        value = {"FN": r.fn or default_fn(r), "NICKNAME": r.nickname, "TITLE": r.title,
                 "NOTE": r.note}[prop]
        return edit.set_single(text, prop, value or None)
    if prop == "N":
        parts = [r.family, r.given, r.middle, r.prefix, r.suffix]
        return edit.set_structured(text, "N", None if v4 and not any(parts) else parts)
    if prop == "ORG":
        parts = [r.org, r.department] if r.department else [r.org]
        return edit.set_structured(text, "ORG", parts if any(parts) else None)
    if prop in ("EMAIL", "TEL", "URL"):
        entries = {"EMAIL": r.emails, "TEL": r.phones, "URL": [((), u) for u in r.urls]}[prop]
        return edit.set_multi(text, prop, [(_edit_types(t, version), v) for t, v in entries])
    if prop == "ADR":
        return edit.set_addresses(text, [(_edit_types(t, version), list(p))
                                         for t, p in r.addresses])
    if prop == "BDAY":
        if not r.birthday:
            return edit.set_single(text, "BDAY", None)
        name, _, value = _bday(r.birthday, v4)[0].partition(":")
        return edit.set_single(text, "BDAY", value, params=name[4:])
    if prop == "CATEGORIES":
        return edit.set_categories(text, r.tags)
    raise ValueError(f"a record does not cover {prop}")


def _edit_types(types: tuple[str, ...], version: str) -> list[str]:
    return [t.upper() for t in types] if version != "4.0" else list(types)
