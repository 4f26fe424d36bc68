"""Map a parsed vCard to the derived, indexed columns of a contact row."""

from __future__ import annotations

import hashlib

from .parse import ParsedCard, structured_components, unescape_value


def card_etag(text: bytes) -> str:
    """Strong ETag of stored bytes (unquoted): a content hash, so a rewrite with the
    same bytes keeps it."""
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _clip(value: str, size: int) -> str:
    return value[:size]


def derive_columns(card: ParsedCard) -> dict[str, str]:
    """Listing and search columns (display name, names, first org, email, phone)."""
    given = family = ""
    n = card.first("N")
    if n is not None:
        parts = structured_components(n.value) + ["", ""]
        family, given = parts[0], parts[1]
    org = ""
    o = card.first("ORG")
    if o is not None:
        org = structured_components(o.value)[0]
    email = card.first("EMAIL")
    tel = card.first("TEL")
    display = card.fn or " ".join(p for p in (given, family) if p) or org
    return {
        "display_name": _clip(display.strip(), 512),
        "given_name": _clip(given, 255),
        "family_name": _clip(family, 255),
        "org": _clip(org, 512),
        "email": _clip(unescape_value(email.value).strip(), 512) if email else "",
        "phone": _clip(unescape_value(tel.value).strip(), 128) if tel else "",
    }
