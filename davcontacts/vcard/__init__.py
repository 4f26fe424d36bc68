"""vCard knowledge: validate incoming cards and extract facts (parse), derive columns."""

from .parse import (
    SUPPORTED_VERSIONS,
    ContentLine,
    ParsedCard,
    detect_version,
    parse_card,
    split_cards,
    structured_components,
    unescape_value,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "ContentLine",
    "ParsedCard",
    "detect_version",
    "parse_card",
    "split_cards",
    "structured_components",
    "unescape_value",
]
