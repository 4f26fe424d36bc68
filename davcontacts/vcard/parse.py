"""Validate one incoming vCard and extract facts from it, without rewriting it.

Content lines follow RFC 6350 §3.3 and RFC 2425 §5.8.1; the stored bytes stay verbatim.
"""

from __future__ import annotations

import quopri
import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import InvalidCard, TooLarge, UnsupportedCard

# 2.1 is accepted too: many real exports are 2.1, and the bytes are stored verbatim anyway.
SUPPORTED_VERSIONS = ("2.1", "3.0", "4.0")

# CRLF, LF or CR; a run of CRs before LF counts once (iOS exports end lines with "\r\r\n").
_LINE_BREAK = re.compile(r"\r*\n|\r")
_ANY_LINE = re.compile(r"([^\r\n]*)(?:\r*\n|\r|$)")
# C0 controls other than tab, LF and CR: RFC 6350 allows none and XML cannot carry them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FOLD = (" ", "\t")  # RFC 6350 §3.2: a continuation line starts with one space or tab
_NAME = r"[A-Za-z0-9-]+"
# RFC 6350 §3.3 param-value: quoted (anything but DQUOTE) or bare (no DQUOTE, ";" or ":").
_PARAM_VALUE = r'[^";:]*(?:"[^"]*"[^";:]*)*'
_HEAD = re.compile(rf"(?:({_NAME})\.)?({_NAME})((?:;{_NAME}(?:={_PARAM_VALUE})?)*)")
_HEAD_AND_COLON = re.compile(_HEAD.pattern + ":")
_PARAM = re.compile(rf";({_NAME})(={_PARAM_VALUE})?")
_ESCAPE = re.compile(r"\\(.)", re.S)
_COMPONENT = re.compile(r"(?:\\.?|[^\\;])*", re.S)
# vCard 2.1 §2.1.3 lets a parameter value stand alone: these are ENCODING values, others TYPE.
_BARE_ENCODINGS = frozenset({"7BIT", "8BIT", "QUOTED-PRINTABLE", "BASE64"})
_CACHED_HEAD_SIZE = 200

Params = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class ContentLine:
    """One unfolded content line: ``[group "."] name *(";" param) ":" value``."""

    group: str | None
    name: str
    params: Params
    value: str

    def param_values(self, name: str) -> list[str]:
        """All values of parameter ``name``: repeated parameters and comma lists flattened.

        A bare 2.1 parameter (``TEL;HOME``) is a TYPE value, or ENCODING for QUOTED-PRINTABLE etc.
        """
        key = name.upper()
        out: list[str] = []
        for pname, pvalue in self.params:
            if pvalue is None:
                if key == ("ENCODING" if pname in _BARE_ENCODINGS else "TYPE"):
                    out.append(pname)
            elif pname == key:
                out.extend(v for v in pvalue.split(",") if v)
        return out


@dataclass(frozen=True)
class ParsedCard:
    """The facts the server needs from one vCard; ``lines`` excludes BEGIN and END."""

    version: str
    uid: str
    fn: str
    kind: str
    lines: tuple[ContentLine, ...]

    def first(self, name: str) -> ContentLine | None:
        """The first line of property ``name`` (in any group), or None."""
        key = name.upper()
        for line in self.lines:
            if line.name == key:
                return line
        return None

    def all(self, name: str) -> list[ContentLine]:
        """Every line of property ``name`` (in any group), in order."""
        key = name.upper()
        return [line for line in self.lines if line.name == key]


def unescape_value(value: str) -> str:
    """RFC 6350 §3.4 text unescape (``\\n \\N \\, \\; \\\\``); any other ``\\x`` gives ``x``."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\n" if m[1] in "nN" else m[1], value)


def structured_components(value: str) -> list[str]:
    """Split a structured value (N, ADR, ORG) on unescaped ';' and unescape each component."""
    parts: list[str] = []
    pos, end = 0, len(value)
    while pos <= end:
        match = _COMPONENT.match(value, pos)
        assert match is not None  # the pattern matches the empty string
        parts.append(unescape_value(match.group()))
        pos = match.end() + 1  # past the ';'
    return parts


def parse_card(data: bytes | str, *, max_size: int | None = None) -> ParsedCard:
    """Check that ``data`` is exactly one acceptable vCard and extract its facts.

    Raises TooLarge, InvalidCard or UnsupportedCard with a reason naming the problem.
    """
    text = _decode(data, max_size)
    ctl = _CONTROL.search(text)
    if ctl:
        line_no = len(_LINE_BREAK.findall(text, 0, ctl.start())) + 1
        char = ctl.group()
        what = "a NUL character" if char == "\x00" else f"control character U+{ord(char):04X}"
        raise InvalidCard(
            f"line {line_no}: the vCard contains {what}, which RFC 6350 does not allow")
    phys = _split_lines(text)
    n = len(phys)
    i = _skip_blank(phys, 0)
    if i == n:
        raise InvalidCard("the body is empty; expected one vCard")
    begin_no = i + 1
    if phys[i].rstrip().upper() != "BEGIN:VCARD":
        raise InvalidCard(f"line {begin_no}: the body must start with BEGIN:VCARD")
    i += 1
    lines: list[ContentLine] = []
    while True:
        while i < n and (not phys[i] or phys[i].isspace()):
            i += 1
        if i == n:
            raise InvalidCard(f"line {begin_no}: BEGIN:VCARD has no matching END:VCARD")
        if phys[i][0] in _FOLD:
            raise InvalidCard(f"line {i + 1}: a continuation line follows no property")
        line_no = i + 1
        line, i = _read_line(phys, i)
        if line.name == "END":
            if line.value.strip().upper() != "VCARD":
                found = line.value.strip()
                raise InvalidCard(f"line {line_no}: END:{found} does not close a vCard")
            break
        if line.name == "BEGIN":
            raise InvalidCard(
                f"line {line_no}: BEGIN:{line.value.strip()} inside the vCard; "
                "nested vCards (such as a vCard 2.1 AGENT) are not supported"
            )
        lines.append(line)
    i = _skip_blank(phys, i)
    if i < n:
        cards = 1 + sum(1 for rest in phys[i:] if rest.rstrip().upper() == "BEGIN:VCARD")
        if cards > 1:
            raise InvalidCard(f"the body holds {cards} vCards; a resource holds exactly one")
        raise InvalidCard(f"line {i + 1}: text after END:VCARD")
    return _facts(tuple(lines))


def split_cards(data: bytes | str) -> list[str]:
    """Split a multi-card .vcf into each card's exact text (line endings kept), checking structure.

    A nested card (vCard 2.1 AGENT) stays inside its outer card; parse_card judges each card.
    """
    text = _decode(data, None)
    cards: list[str] = []
    depth = start = start_no = 0
    # Any line break (CRLF, LF, bare CR, mixed within one file), offsets kept exact.
    for line_no, match in enumerate(_ANY_LINE.finditer(text), 1):
        begin, pos = match.start(), match.end()
        line = match.group(1)
        if begin == pos:
            break
        if depth == 0:
            if not line or line.isspace():
                continue
            if line.rstrip().upper() != "BEGIN:VCARD":
                found = line[:40].rstrip()
                raise InvalidCard(f"line {line_no}: expected BEGIN:VCARD, found {found!r}")
            depth, start, start_no = 1, begin, line_no
        elif line[:1] in ("B", "b", "E", "e"):
            key = line.rstrip().upper()
            if key == "BEGIN:VCARD":
                depth += 1
            elif key == "END:VCARD":
                depth -= 1
                if depth == 0:
                    cards.append(text[start:pos])
    if depth:
        raise InvalidCard(f"line {start_no}: BEGIN:VCARD has no matching END:VCARD")
    return cards


def detect_version(data: bytes | str) -> str | None:
    """Cheaply find the VERSION value if ``data`` looks like exactly one vCard, else None."""
    try:
        phys = _split_lines(_decode(data, None))
    except InvalidCard:
        return None
    version: str | None = None
    state = 0  # 0 before BEGIN, 1 inside the card, 2 after END
    for line in phys:
        if not line or line.isspace():
            continue
        if state == 2:
            return None
        key = line.rstrip().upper() if state == 0 or line[0] in "BbEeVv" else ""
        if key == "BEGIN:VCARD":
            if state:
                return None
            state = 1
        elif state == 0:
            return None
        elif key == "END:VCARD":
            state = 2
        elif version is None and key.startswith("VERSION:"):
            version = line.split(":", 1)[1].strip()
    return (version or None) if state == 2 else None


def _decode(data: bytes | str, max_size: int | None) -> str:
    """The body as text without a leading BOM; TooLarge, or InvalidCard if it is not UTF-8."""
    try:
        size = len(data) if not isinstance(data, str) or data.isascii() else len(data.encode())
        if max_size is not None and size > max_size:
            raise TooLarge(f"the vCard is {size} bytes; the limit is {max_size} bytes")
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:  # bad bytes, or lone surrogates
        raise InvalidCard(f"not UTF-8 text (invalid data at offset {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _split_lines(text: str) -> list[str]:
    """Physical lines: str methods for CRLF, LF and CRCRLF, the (slower) regex for stray CRs."""
    flat = text.replace("\r\n", "\n")
    if "\r" in flat:
        flat = flat.replace("\r\n", "\n")
        if "\r" in flat:
            return _LINE_BREAK.split(text)
    return flat.split("\n")


def _skip_blank(phys: list[str], i: int) -> int:
    while i < len(phys) and (not phys[i] or phys[i].isspace()):
        i += 1
    return i


def _read_line(phys: list[str], i: int) -> tuple[ContentLine, int]:
    """Unfold and parse the logical line starting at phys[i]; return it and the next index."""
    line_no, text, n = i + 1, phys[i], len(phys)
    i += 1
    if i < n and phys[i][:1] in _FOLD:
        parts = [text]
        while i < n and phys[i][:1] in _FOLD:
            parts.append(phys[i][1:])
            i += 1
        text = "".join(parts)
    colon = text.find(":")
    head = text[:colon]
    if colon < 0:
        parsed = None
    elif '"' in head:  # a quoted parameter value may hold ':', so the head may end later
        match = _HEAD_AND_COLON.match(text)
        colon = match.end() - 1 if match else -1
        parsed = _parse_head(text[:colon]) if match else None
    elif len(head) <= _CACHED_HEAD_SIZE:
        parsed = _parse_head_cached(head)
    else:
        parsed = _parse_head(head)
    if parsed is None:
        raise InvalidCard(f"line {line_no}: {_why_malformed(text)}")
    value = text[colon + 1 :]
    if value.endswith("=") and _is_quoted_printable(parsed[2]):
        # A quoted-printable soft line break ("=" at the end) continues on the next line.
        parts = [value]
        while parts[-1].endswith("=") and i < n:
            parts[-1] = parts[-1][:-1]
            parts.append(phys[i])
            i += 1
        value = "".join(parts)
    return ContentLine(parsed[0], parsed[1], parsed[2], value), i


def _parse_head(head: str) -> tuple[str | None, str, Params] | None:
    """Group, upper-cased name and params of the text before a line's ':' (None if malformed)."""
    match = _HEAD.fullmatch(head)
    if match is None:
        return None
    group, name, raw = match.groups()
    params = tuple(
        (p.upper(), v[1:].replace('"', "") if v else None) for p, v in _PARAM.findall(raw)
    )
    return group, name.upper(), params


# The same heads ("TEL;TYPE=CELL") recur in every card of a bulk upload; short ones are memoised.
_parse_head_cached = lru_cache(maxsize=4096)(_parse_head)


def _why_malformed(text: str) -> str:
    """A human-readable reason why ``text`` is not a content line."""
    near = f"(near {text[:30]!r})"
    name = re.match(rf"(?:{_NAME}\.)?{_NAME}", text)
    if name is None or text[name.end() : name.end() + 1] not in (";", ":"):
        if ":" not in text:
            return f"property has no ':' {near}"
        return f"invalid property name {text.split(':', 1)[0].split(';', 1)[0][:30]!r}"
    if text.count('"') % 2:
        return f"unterminated quoted parameter value {near}"
    return f"property has no ':' {near}" if ":" not in text else f"malformed parameters {near}"


def _is_quoted_printable(params: Params) -> bool:
    for name, value in params:
        if value is None and name == "QUOTED-PRINTABLE":
            return True
        if name == "ENCODING" and value is not None and value.upper() == "QUOTED-PRINTABLE":
            return True
    return False


def raw_value(line: ContentLine) -> str:
    """The value with QUOTED-PRINTABLE decoded (2.1 and some 3.0 exports: Android, Outlook)
    and escapes kept: what ``structured_components`` and list splitting take (N, ADR, ORG,
    CATEGORIES)."""
    if not _is_quoted_printable(line.params):
        return line.value
    raw = quopri.decodestring(line.value.encode("utf-8"))
    charset = (line.param_values("CHARSET") or ["utf-8"])[0]
    try:
        value = raw.decode(charset, errors="replace")
    except LookupError:
        value = raw.decode("utf-8", errors="replace")
    return value


def text_value(line: ContentLine) -> str:
    """A text value: quoted-printable decoded (2.1 and some 3.0 exports), then unescaped."""
    return unescape_value(raw_value(line))


def _facts(lines: tuple[ContentLine, ...]) -> ParsedCard:
    """Check VERSION, UID and FN, find the kind, and build the ParsedCard."""
    versions: list[ContentLine] = []
    uids: list[ContentLine] = []
    fn: ContentLine | None = None
    group = company = False
    for line in lines:
        name = line.name
        if name == "VERSION":
            versions.append(line)
        elif name == "UID":
            uids.append(line)
        elif name == "FN":
            fn = fn or line
        elif name == "KIND" or name == "X-ADDRESSBOOKSERVER-KIND":
            kind = line.value.strip().lower()
            group = group or kind == "group"
            company = company or (kind == "org" and name == "KIND")
        elif name == "X-ABSHOWAS":
            company = company or line.value.strip().upper() == "COMPANY"
    if not versions:
        raise InvalidCard("the vCard has no VERSION")
    if len(versions) > 1:
        raise InvalidCard(f"the vCard has {len(versions)} VERSION lines; it needs exactly one")
    version = versions[0].value.strip()
    if version not in SUPPORTED_VERSIONS:
        shown = version or "(empty)"
        raise UnsupportedCard(f"vCard version {shown} is not supported; use 3.0 or 4.0")
    if not uids:
        raise InvalidCard("the vCard has no UID")
    if len(uids) > 1:
        raise InvalidCard(f"the vCard has {len(uids)} UID lines; it needs exactly one")
    uid = text_value(uids[0]).strip()
    if not uid:
        raise InvalidCard("the vCard's UID is empty")
    if fn is None and version == "3.0":
        raise InvalidCard("a vCard 3.0 needs FN")
    kind = "group" if group else "company" if company else "person"
    return ParsedCard(version, uid, text_value(fn) if fn else "", kind, lines)
