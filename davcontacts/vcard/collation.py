"""Text collations of RFC 4790 as CardDAV searches use them (RFC 6352 §8.3), and the
folded FN that a contact row stores so that a search on names needs no card parsing."""

from __future__ import annotations

import string
import unicodedata

from .parse import ParsedCard, text_value

COLLATIONS = ("i;ascii-casemap", "i;unicode-casemap", "i;octet")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# Separates the folded values of a card with several FN lines in Contact.fn_fold.
FN_SEPARATOR = "\x1f"
# Longer folded names (in UTF-8 bytes) are not stored (NULL): a btree entry must stay
# small (PostgreSQL refuses entries over 2704 bytes), and a search then reads such a
# card itself.
FN_FOLD_MAX = 1000


def ascii_lower(text: str) -> str:
    """A-Z lowered, nothing else (i;ascii-casemap)."""
    return text.translate(_ASCII_LOWER)


def fold(text: str, collation: str) -> str:
    """`text` mapped so that comparing mapped strings exactly compares them under
    `collation`: i;octet as is, i;ascii-casemap lowers A-Z only, i;unicode-casemap
    (RFC 5051) approximated by full case folding then NFKD."""
    if collation == "i;octet":
        return text
    if text.isascii():
        return text.lower()
    if collation == "i;ascii-casemap":
        return ascii_lower(text)
    return unicodedata.normalize("NFKD", text.casefold())


def fn_fold(card: ParsedCard) -> str | None:
    """Every FN value of the card under i;unicode-casemap, joined by FN_SEPARATOR ("" for
    a card without FN); None when that cannot stand for the values exactly (a value
    holding the separator, an empty value) or would be too long to index."""
    values = [fold(text_value(line), "i;unicode-casemap") for line in card.all("FN")]
    if any(not v or FN_SEPARATOR in v for v in values):
        return None
    joined = FN_SEPARATOR.join(values)
    return joined if len(joined.encode("utf-8")) <= FN_FOLD_MAX else None
