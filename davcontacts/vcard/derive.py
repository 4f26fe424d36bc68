"""Map a parsed vCard to what the database derives from it: the listing and search
columns of the contact row, and its multi-valued details (child rows), tags and
group members. The stored text stays the truth; all of this is recomputed on
every write."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .collation import fn_fold
from .parse import (
    ContentLine,
    ParsedCard,
    raw_value,
    structured_components,
    text_value,
    unescape_value,
)

VALUE_FIELDS = ("EMAIL", "TEL", "URL", "IMPP")
ADDRESS_KINDS = ("billing", "shipping", "work", "home")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def card_etag(text: bytes) -> str:
    """Strong ETag of stored bytes (unquoted): a content hash, so a rewrite with the
    same bytes keeps it."""
    return hashlib.blake2b(text, digest_size=16).hexdigest()


@dataclass
class Address:
    kind: str
    types: str
    street: str
    locality: str
    region: str
    postal_code: str
    country: str


@dataclass
class CardDetails:
    """Everything derived from one card besides the row's own columns."""

    values: list[tuple[str, str, str]] = field(default_factory=list)  # (field, types, value)
    addresses: list[Address] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # bare member UIDs
    org: list[str] = field(default_factory=list)  # ORG components (company, departments)


def _clip(value: str, size: int) -> str:
    return value[:size]


def _types(line: ContentLine) -> str:
    return ",".join(sorted({t.lower() for t in line.param_values("TYPE") if t}))


def _labels(card: ParsedCard) -> dict[str, str]:
    """Apple item-group labels (item1.X-ABLabel) by group, lower-cased."""
    return {ln.group.lower(): text_value(ln).strip("_$!<>").lower()
            for ln in card.lines if ln.group and ln.name == "X-ABLABEL"}


def _address_kind(types: str, label: str) -> str:
    words = set(types.split(",")) | {label}
    return next((k for k in ADDRESS_KINDS if k in words), "other")


def split_list(value: str) -> list[str]:
    """A comma-separated text list (CATEGORIES, NICKNAME), unescaped and stripped."""
    return [unescape_value(part).strip() for part in _UNESCAPED_COMMA.split(value)]


def bare_uid(value: str) -> str:
    value = value.strip()
    return value[9:] if value.lower().startswith("urn:uuid:") else value


def derive_details(card: ParsedCard) -> CardDetails:
    details = CardDetails()
    labels = _labels(card)
    seen_tags: set[str] = set()
    for line in card.lines:
        if line.name in VALUE_FIELDS:
            value = text_value(line).strip()
            if line.name == "TEL" and value[:4].lower() == "tel:":
                value = value[4:]  # a vCard 4 tel: URI (RFC 3966): the number, as build.py reads it
            if value:
                details.values.append((line.name, _types(line), _clip(value, 1024)))
        elif line.name == "ADR":
            parts = structured_components(raw_value(line)) + [""] * 7
            types = _types(line)
            label = labels.get(line.group.lower(), "") if line.group else ""
            details.addresses.append(Address(
                _address_kind(types, label), types, _clip(parts[2].strip(), 1024),
                _clip(parts[3].strip(), 255), _clip(parts[4].strip(), 255),
                _clip(parts[5].strip(), 64), _clip(parts[6].strip(), 255)))
        elif line.name == "CATEGORIES":
            for tag in split_list(raw_value(line)):
                if tag and tag.casefold() not in seen_tags:
                    seen_tags.add(tag.casefold())
                    details.tags.append(_clip(tag, 255))
        elif line.name in ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER"):
            uid = bare_uid(text_value(line))
            if uid:
                details.members.append(_clip(uid, 512))
        elif line.name == "ORG" and not details.org:
            details.org = [p.strip() for p in structured_components(raw_value(line))]
    return details


def photo_size(card: ParsedCard) -> int:
    """Decoded bytes of the card's largest inline PHOTO (0 for a URL or none):
    base64 (3.0 ENCODING=b, 2.1 BASE64) or a 4.0 data: URI."""
    largest = 0
    for line in card.all("PHOTO"):
        value = line.value
        if value[:5].lower() == "data:":
            head, _, value = value.partition(",")
            if ";base64" not in head.lower():
                largest = max(largest, len(value))
                continue
        elif not {e.lower() for e in line.param_values("ENCODING")} & {"b", "base64"}:
            continue
        data = "".join(value.split())
        largest = max(largest, len(data) * 3 // 4 - data[-2:].count("="))
    return largest


def derive_columns(card: ParsedCard, details: CardDetails | None = None) -> dict[str, object]:
    """The listing and search columns of the contact row."""
    details = details or derive_details(card)
    n = card.first("N")
    parts = (structured_components(raw_value(n)) if n else []) + [""] * 5
    family, given, middle, prefix, suffix = (p.strip() for p in parts[:5])
    org = details.org[0] if details.org else ""
    first = {name: next((v for f, _, v in details.values if f == name), "")
             for name in ("EMAIL", "TEL")}
    display = card.fn or " ".join(p for p in (given, family) if p) or org
    single = {name: (text_value(card.first(name)).strip() if card.first(name) else "")
              for name in ("NICKNAME", "TITLE", "BDAY", "NOTE")}
    return {
        "display_name": _clip(display.strip(), 512),
        "given_name": _clip(given, 255),
        "family_name": _clip(family, 255),
        "middle_name": _clip(middle, 255),
        "prefix": _clip(prefix, 64),
        "suffix": _clip(suffix, 64),
        "org": _clip(org, 512),
        "email": _clip(first["EMAIL"], 512),
        "phone": _clip(first["TEL"], 128),
        "nickname": _clip(single["NICKNAME"], 255),
        "title": _clip(single["TITLE"], 255),
        "birthday": _clip(single["BDAY"], 32),
        "note": single["NOTE"],
        "city": details.addresses[0].locality if details.addresses else "",
        "has_photo": card.first("PHOTO") is not None,
        "fn_fold": fn_fold(card),
    }
