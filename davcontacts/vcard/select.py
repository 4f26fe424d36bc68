"""Partial vCards for `address-data` with `<C:prop name="…"/>` (RFC 6352 §10.4.2):
keep the listed properties, byte for byte with their folded continuation lines,
plus what every vCard needs (BEGIN, END, VERSION). A kept property brings the rest
of its item group along (Apple's `item1.X-ABLabel` labels `item1.EMAIL`)."""

from __future__ import annotations

import re

_ALWAYS = frozenset({"BEGIN", "END", "VERSION"})
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")
_HEAD = re.compile(r"(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)")


def _content_lines(text: str) -> list[tuple[str | None, str, str]]:
    """(group, NAME, raw text with continuation lines) for each content line."""
    out: list[tuple[str | None, str, str]] = []
    for line in _LINE.findall(text):
        if not line:
            continue
        if line[0] in " \t" and out:
            group, name, raw = out[-1]
            out[-1] = (group, name, raw + line)
            continue
        m = _HEAD.match(line)
        group = m.group(1).upper() if m and m.group(1) else None
        out.append((group, m.group(2).upper() if m else "", line))
    return out


def select_properties(text: str, names: set[str]) -> str:
    """The card text with only the properties in `names` (upper-case, no group)."""
    wanted = _ALWAYS | {n.upper() for n in names}
    lines = _content_lines(text)
    groups = {g for g, name, _ in lines if g and name in wanted}
    return "".join(raw for g, name, raw in lines if name in wanted or (g and g in groups))
