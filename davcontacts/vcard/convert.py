"""Serve a stored vCard as 3.0 or 4.0 (RFC 6352 §5.1.1 address-data versions; RFC 6350 App. A).

Stored bytes never change: ``convert`` rewrites a copy line by line. A content line that needs
no change is copied byte for byte (X- properties, item groups, parameters, order, its line
ending); a rewritten line keeps its group and untouched parameters, ends with the card's line
ending (CRLF, LF or CR) and is re-folded at 75 octets (RFC 6350 §3.2). Blank lines are dropped.
A 2.1 card is first made 3.0: QUOTED-PRINTABLE/CHARSET values decoded, bare parameters named.

Decisions (each direction undoes the other, so 3.0 → 4.0 → 3.0 keeps every field of item 9):
- TYPE=pref ⇄ PREF=1; PREF=2..100 has no 3.0 form and is dropped. EMAIL loses TYPE=INTERNET
  in 4.0 (the 3.0 default anyway).
- PHOTO, LOGO, SOUND, KEY: ENCODING=b;TYPE=JPEG ⇄ data:image/jpeg;base64,… (format sniffed
  when untyped); VALUE=uri ⇄ plain URI, TYPE=JPEG ⇄ MEDIATYPE=image/jpeg on URIs.
- X-ABShowAs:COMPANY ⇄ KIND:org (4.0 keeps X-ABShowAs too, so 3.0 comes back exact);
  X-ADDRESSBOOKSERVER-KIND ⇄ KIND; X-ADDRESSBOOKSERVER-MEMBER ⇄ MEMBER; KIND:individual is the
  default and is dropped in 3.0.
- 4.0-only properties (GENDER, ANNIVERSARY, LANG, RELATED, XML, RFC 6474/6715/9554 ones, any
  other non-X name 3.0 lacks, and a text BDAY) keep their data as X-<NAME> in 3.0: x-names
  are the 3.0 extension point every reader must tolerate (RFC 2426 §4), while an unknown
  IANA name may upset a strict one (macOS). 3.0 → 4.0 restores the known ones (a one-per-card
  property only from its first X- line and only if the card lacks it), so a 4.0 card edited
  by a 3.0 client keeps them; X-ANNIVERSARY written by 3.0 clients becomes ANNIVERSARY.
- CLIENTPIDMAP and PID are sync bookkeeping a 3.0 client cannot keep consistent: dropped
  (RFC 6350 §7 treats a property without PID as new). ALTID sets keep their first member (a
  date before a text BDAY); CALSCALE=gregorian and MEDIATYPE (but as a binary's TYPE) are
  dropped; LANGUAGE is a 3.0 parameter too (RFC 2426 §4) and is kept.
- 3.0-only properties (NAME, PROFILE, MAILER, AGENT, CLASS, SORT-STRING) pass into 4.0 as they
  are; 4.0 readers ignore unknown properties and the round trip stays exact. LABEL becomes
  ADR's LABEL parameter (RFC 6350 §6.3.1, RFC 6868 ^-escapes) when it is clearly that
  address's (sole LABEL and ADR of an item group, or right after an ungrouped ADR with the same
  types), and comes back as a LABEL line right after its ADR; other LABELs stay as they are.
- BDAY: Apple's X-APPLE-OMIT-YEAR=1604;1604-MM-DD ⇄ --MMDD; VALUE=date is dropped in 4.0.
  A month-only or day-only BDAY has no 3.0 form and is left as it is. GEO lat;lon ⇄
  geo:lat,lon; a TEL tel: URI becomes plain text; a text TZ gets VALUE=text.
- FN (both versions) is derived from N, ORG, NICKNAME, EMAIL or TEL when missing. N (required
  in 3.0) is added as N:;;;; for companies, otherwise (people and groups) with FN as the
  family name, since Apple builds the displayed name from N and names its groups there.
"""

from __future__ import annotations

import base64
import quopri
import re
from collections.abc import Callable
from urllib.parse import unquote, unquote_to_bytes

from ..errors import InvalidCard, UnsupportedCard

# The content-line grammar and unfolding live in parse.py; reuse them rather than copy them.
from .parse import (
    _BARE_ENCODINGS,
    _HEAD,
    _HEAD_AND_COLON,
    _PARAM,
    ContentLine,
    _read_line,
    structured_components,
    text_value,
)

TARGET_VERSIONS = ("3.0", "4.0")

# A physical line with its ending (the line endings parse.py accepts).
PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r*\n|\r|$)")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what parse_card rejects
_UNESCAPED_SEMI = re.compile(r"(?<!\\);")
_YMD = re.compile(r"(\d{4})-?(\d\d)-?(\d\d)")
_NO_YEAR = re.compile(r"--(\d\d)-?(\d\d)")
_GEO_30 = re.compile(r"\s*([-+]?\d+(?:\.\d*)?)\s*[;,]\s*([-+]?\d+(?:\.\d*)?)\s*")
_GEO_40 = re.compile(r"geo:\s*([-+]?\d+(?:\.\d*)?)\s*,\s*([-+]?\d+(?:\.\d*)?)(?:[,;].*)?", re.I)
_OFFSET = re.compile(r"([-+]?)(\d\d?):?(\d\d)")
_GENDER = re.compile(r"[MFONU]?(?:;.*)?", re.I | re.S)

_BINARY = frozenset({"PHOTO", "LOGO", "SOUND", "KEY"})
_STRUCTURED = frozenset({"N", "ADR", "ORG"})
_TEXT = frozenset({"FN", "NOTE", "TITLE", "ROLE", "LABEL", "MAILER", "NAME", "SORT-STRING"})
# Property names a 3.0 reader knows: RFC 2425, RFC 2426, RFC 2739 and RFC 4770.
_KNOWN_30 = frozenset(
    "BEGIN END VERSION SOURCE NAME PROFILE FN N NICKNAME PHOTO BDAY ADR LABEL TEL EMAIL MAILER "
    "TZ GEO TITLE ROLE LOGO AGENT ORG CATEGORIES NOTE PRODID REV SORT-STRING SOUND UID URL "
    "CLASS KEY FBURL CALURI CALADRURI CAPURI IMPP".split()
)
# 4.0-only properties restored from X-<NAME> in 3.0 → 4.0; True: at most one per card.
_RESTORED = {
    "ANNIVERSARY": True, "GENDER": True, "BIRTHPLACE": True, "DEATHPLACE": True,
    "DEATHDATE": True, "CREATED": True, "BDAY": True, "LANG": False, "RELATED": False,
    "XML": False, "EXPERTISE": False, "HOBBY": False, "INTEREST": False, "ORG-DIRECTORY": False,
    "CONTACT-URI": False, "PRONOUNS": False, "GRAMGENDER": False,
}  # fmt: skip
_FORMAT_MEDIA = {
    "JPEG": "image/jpeg", "JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
    "BMP": "image/bmp", "TIFF": "image/tiff", "WEBP": "image/webp", "HEIC": "image/heic",
    "PGP": "application/pgp-keys", "X509": "application/pkix-cert", "WAVE": "audio/wav",
    "WAV": "audio/wav", "BASIC": "audio/basic", "AIFF": "audio/aiff", "MP3": "audio/mpeg",
}  # fmt: skip
_MEDIA_FORMAT = {
    "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/pjpeg": "JPEG", "audio/wav": "WAVE",
    "audio/x-wav": "WAVE", "application/pgp-keys": "PGP", "application/pkix-cert": "X509",
    "application/x-x509-ca-cert": "X509",
}  # fmt: skip
_SNIFF = (
    ("/9j/", "image/jpeg"), ("iVBORw0KGgo", "image/png"), ("R0lGOD", "image/gif"),
    ("MII", "application/pkix-cert"), ("LS0tLS1CRUdJTiBQR1A", "application/pgp-keys"),
)  # fmt: skip


def convert(text: str, to_version: str) -> str:
    """``text`` (one or more vCards) as vCard ``to_version`` ("3.0" or "4.0"); unchanged if
    it already is. Raises ValueError for another target, InvalidCard for a broken card."""
    if to_version not in TARGET_VERSIONS:
        raise ValueError(f"cannot convert to vCard {to_version!r}; use 3.0 or 4.0")
    if _single_card_version(text) == to_version:
        return text  # the common case, found without splitting the card into lines
    body = text[1:] if text.startswith("\ufeff") else text
    raw = PHYSICAL_LINE.findall(body)
    if raw and not raw[-1]:
        raw.pop()
    phys = [r.rstrip("\r\n") for r in raw]
    eol = line_ending(raw)
    out: list[str] = []
    changed = False
    i = 0
    while i < len(raw):
        if phys[i].rstrip().upper() != "BEGIN:VCARD":
            out.append(raw[i])
            i += 1
            continue
        end = _card_end(phys, i)
        version = _version(phys, i, end)
        if version == to_version:
            out.extend(raw[i:end])
        else:
            changed = True
            card = _Card(raw, phys, i, end, eol, version)
            result = card.render("3.0" if version == "2.1" else to_version)
            if version == "2.1" and to_version == "4.0":
                result = convert(result, "4.0")
            out.append(result)
        i = end
    return "".join(out) if changed else text


def _single_card_version(text: str) -> str | None:
    """The VERSION of a text holding one card, found with string methods only; else None."""
    upper = text.upper()
    if upper.count("BEGIN:VCARD") != 1:
        return None
    k = upper.find("VERSION:")
    while k > 0 and upper[k - 1] not in "\r\n":
        k = upper.find("VERSION:", k + 8)
    if k <= 0:
        return None
    end = min(e for e in (upper.find("\r", k), upper.find("\n", k), len(upper)) if e >= 0)
    return text[k + 8 : end].strip()


def line_ending(raw: list[str]) -> str:
    """The card's line ending, CRLF, LF or CR (iOS's CRCRLF counts as CRLF)."""
    for line in raw:
        if line.endswith("\n"):
            return "\r\n" if line.endswith("\r\n") else "\n"
        if line.endswith("\r"):
            return "\r"
    return "\r\n"


def _card_end(phys: list[str], start: int) -> int:
    depth = 0
    for k in range(start, len(phys)):
        key = phys[k].rstrip().upper()
        if key == "BEGIN:VCARD":
            depth += 1
        elif key == "END:VCARD":
            depth -= 1
            if not depth:
                return k + 1
    raise InvalidCard(f"line {start + 1}: BEGIN:VCARD has no matching END:VCARD")


def _version(phys: list[str], start: int, end: int) -> str:
    for k in range(start + 1, end):
        if phys[k][:8].upper() == "VERSION:":
            version = phys[k][8:].strip()
            if version not in ("2.1", *TARGET_VERSIONS):
                raise UnsupportedCard(f"vCard version {version or '(empty)'} is not supported")
            return version
    raise InvalidCard("the vCard has no VERSION")


def fold(line: str, eol: str) -> str:
    """``line`` folded into 75-octet lines (RFC 6350 §3.2), never inside a UTF-8 sequence."""
    if len(line) <= 75 and (line.isascii() or len(line.encode()) <= 75):
        return line + eol
    if line.isascii():
        parts = [line[:75]] + [line[k : k + 74] for k in range(75, len(line), 74)]
    else:
        data, parts, start, width = line.encode(), [], 0, 75
        while start < len(data):
            cut = min(start + width, len(data))
            while cut < len(data) and data[cut] & 0xC0 == 0x80:
                cut -= 1
            parts.append(data[start:cut].decode())
            start, width = cut, 74
    return (eol + " ").join(parts) + eol


def escape_text(text: str) -> str:
    """RFC 6350 §3.4 / RFC 2426 §4 text escaping."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def clean_text(text: str) -> str:
    """Decoded text with one newline per line break and no control characters."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _unquote(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw.replace('"', "")


def _label_param(text: str) -> str:
    """Text as a quoted parameter value with RFC 6868 escapes (^^, ^n, ^')."""
    escaped = clean_text(text).replace("^", "^^").replace("\n", "^n").replace('"', "^'")
    return f'"{escaped}"'


def _label_text(raw: str) -> str:
    """A LABEL parameter's text: RFC 6868 escapes, and the "\\n" of RFC 6350's own example."""
    value = _unquote(raw).replace("\\n", "\n").replace("\\N", "\n")
    return re.sub(r"\^([n^'])", lambda m: {"n": "\n", "^": "^", "'": '"'}[m[1]], value)


def qp_decode(value: str, charset: str | None) -> str:
    raw = quopri.decodestring(value.encode("utf-8"))
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _media_type(formats: list[str]) -> str | None:
    for fmt in formats:
        if "/" in fmt:
            return fmt.lower()
        if fmt.upper() in _FORMAT_MEDIA:
            return _FORMAT_MEDIA[fmt.upper()]
    return None


def _format(media: str) -> str | None:
    media = media.strip().lower()
    if media in _MEDIA_FORMAT:
        return _MEDIA_FORMAT[media]
    kind, _, sub = media.partition("/")
    return sub.upper() if kind in ("image", "audio") and sub else None


def _is_format(value: str) -> bool:
    return value.upper() in _FORMAT_MEDIA or "/" in value


class _Edit:
    """A content line taken apart for rewriting; untouched parameters keep their raw text."""

    __slots__ = ("group", "name", "params", "value", "dirty")

    def __init__(self, head: str, value: str) -> None:
        match = _HEAD.fullmatch(head)
        assert match is not None  # parse.py read this head already
        self.group, self.name = match.group(1), match.group(2)
        self.params = [[p, v[1:] if v else None] for p, v in _PARAM.findall(match.group(3))]
        self.value = value
        self.dirty = False

    def index(self, key: str) -> int | None:
        return next((k for k, p in enumerate(self.params) if p[0].upper() == key), None)

    def values(self, key: str) -> list[str]:
        """All values of ``key``, quotes removed and comma lists split."""
        found = [_unquote(p[1]) for p in self.params if p[0].upper() == key and p[1]]
        return [v for raw in found for v in raw.split(",")]

    def pop(self, key: str) -> list[str]:
        """Remove every ``key`` parameter; return their raw values, outer quotes removed."""
        found = [_unquote(p[1] or "") for p in self.params if p[0].upper() == key]
        if found:
            self.params = [p for p in self.params if p[0].upper() != key]
            self.dirty = True
        return found

    def insert(self, pos: int | None, key: str, value: str | None) -> None:
        self.params.insert(len(self.params) if pos is None else pos, [key, value])
        self.dirty = True

    def set(self, **changes: str) -> None:
        for attr, value in changes.items():
            setattr(self, attr, value)
        self.dirty = True

    def remove_types(self, pred: Callable[[str], bool]) -> tuple[list[str], int | None]:
        """Remove the TYPE values matching ``pred``; return them and the place for a parameter
        replacing the first (where its TYPE was, or right after it if that TYPE stays)."""
        removed: list[str] = []
        pos = None
        k = 0
        while k < len(self.params):
            pname, raw = self.params[k]
            if pname.upper() == "TYPE" and raw:
                values = _unquote(raw).split(",")
                keep = [v for v in values if not pred(v)]
                if len(keep) != len(values):
                    removed += [v for v in values if pred(v)]
                    self.dirty = True
                    if not keep:
                        pos = k if pos is None else pos
                        del self.params[k]
                        continue
                    pos = k + 1 if pos is None else pos
                    joined = ",".join(keep)
                    self.params[k][1] = f'"{joined}"' if raw.startswith('"') else joined
            k += 1
        return removed, pos

    def name_bare_params(self) -> None:
        """vCard 2.1 bare parameters (TEL;WORK;VOICE) as TYPE= and ENCODING= (2.1 §2.1.3)."""
        types: list[str] = []
        params: list[list[str | None]] = []
        pos = None
        for pname, raw in self.params:
            if raw is not None:
                params.append([pname, raw])
            elif pname.upper() in _BARE_ENCODINGS:
                params.append(["ENCODING", pname])
            else:
                pos = len(params) if pos is None else pos
                types.append(pname)
        if types:
            params.insert(pos or 0, ["TYPE", ",".join(types)])
        self.params, self.dirty = params, True

    def render(self) -> str:
        head = f"{self.group}.{self.name}" if self.group else self.name
        params = "".join(f";{p}" if v is None else f";{p}={v}" for p, v in self.params)
        return f"{head}{params}:{self.value}"


class _Card:
    """One card's content lines, converted by ``render``."""

    def __init__(
        self, raw: list[str], phys: list[str], start: int, end: int, eol: str, version: str
    ) -> None:
        self.begin, self.end, self.eol, self.source = raw[start], raw[end - 1], eol, version
        self.phys = phys[start + 1 : end - 1]
        rawb = raw[start + 1 : end - 1]
        # (line, raw text with continuations and ending, index of its first physical line)
        self.lines: list[tuple[ContentLine | None, str, int]] = []
        k = 0
        while k < len(self.phys):
            text = self.phys[k]
            if not text or text.isspace():
                k += 1  # blank lines carry nothing
                continue
            if text[0] in " \t":
                self.lines.append((None, rawb[k], k))
                k += 1
                continue
            line, nxt = _read_line(self.phys, k)
            if line.name == "BEGIN":  # a nested 2.1 AGENT card: passed through untouched
                nxt = _card_end(self.phys, k)
                line = None
            self.lines.append((line, "".join(rawb[k:nxt]), k))
            k = nxt
        self.names = {line.name for line, _, _ in self.lines if line}

    # --- helpers -------------------------------------------------------------------------------

    def _line(self, text: str) -> str:
        return fold(text, self.eol)

    def _line_at(self, idx: int) -> ContentLine:
        line = self.lines[idx][0]
        assert line is not None  # only content lines are ever looked up
        return line

    def _edit(self, line: ContentLine, start: int) -> _Edit:
        text = self.phys[start]
        k = start + 1
        while ":" not in text and k < len(self.phys) and self.phys[k][:1] in (" ", "\t"):
            text += self.phys[k][1:]
            k += 1
        colon = text.find(":")
        if '"' in text[:colon]:  # a quoted parameter value may hold ':' or be folded
            while k < len(self.phys) and self.phys[k][:1] in (" ", "\t"):
                text += self.phys[k][1:]
                k += 1
            match = _HEAD_AND_COLON.match(text)
            assert match is not None
            colon = match.end() - 1
        return _Edit(text[:colon], line.value)

    def _normalise(self, e: _Edit, line: ContentLine) -> None:
        """What every conversion does: name bare parameters, drop CHARSET and 7BIT/8BIT,
        decode QUOTED-PRINTABLE (which neither 3.0 nor 4.0 allows)."""
        if any(v is None for _, v in e.params):
            e.name_bare_params()
        charset = e.pop("CHARSET")
        encoding = [v.upper() for v in e.values("ENCODING")]
        if "QUOTED-PRINTABLE" in encoding:
            e.pop("ENCODING")
            text = clean_text(qp_decode(line.value, charset[0] if charset else None))
            e.set(value=self._qp_value(line.name, text))
        elif encoding and encoding[0] in ("7BIT", "8BIT"):
            e.pop("ENCODING")

    def _qp_value(self, name: str, text: str) -> str:
        """A decoded QUOTED-PRINTABLE value, escaped as the target needs. A 2.1 value escapes
        only ';' (2.1 §2.1.3); a 3.0/4.0 one (some exporters) is escaped already."""
        if self.source != "2.1" or not (name in _STRUCTURED or name in _TEXT):
            return text.replace("\n", "\\n")
        parts = _UNESCAPED_SEMI.split(text) if name in _STRUCTURED else [text]
        return ";".join(escape_text(p.replace("\\;", ";")) for p in parts)

    def _raw_text(self, line: ContentLine) -> str:
        """A value with QUOTED-PRINTABLE decoded but escapes kept."""
        if "QUOTED-PRINTABLE" not in (v.upper() for v in line.param_values("ENCODING")):
            return line.value
        charset = line.param_values("CHARSET")
        return clean_text(qp_decode(line.value, charset[0] if charset else None))

    def _kind(self) -> str:
        for line, _, _ in self.lines:
            if line and line.name in ("KIND", "X-ADDRESSBOOKSERVER-KIND"):
                if line.value.strip().lower() in ("group", "org"):
                    return line.value.strip().lower()
            elif line and line.name == "X-ABSHOWAS" and line.value.strip().upper() == "COMPANY":
                return "org"
        return "individual"

    def _required(self, target: str) -> list[str]:
        """FN (and N for 3.0) when the card lacks them."""
        first = {}
        for line, _, _ in self.lines:
            if line and line.name in ("N", "FN", "ORG", "NICKNAME", "EMAIL", "TEL"):
                first.setdefault(line.name, line)
        fn = text_value(first["FN"]) if "FN" in first else ""
        out = []
        if "FN" not in first:
            if "N" in first:
                n = structured_components(self._raw_text(first["N"])) + [""] * 5
                fn = " ".join(p for p in (n[3], n[1], n[2], n[0], n[4]) if p.strip())
            if not fn and "ORG" in first:
                fn = " ".join(p for p in structured_components(self._raw_text(first["ORG"])) if p)
            for name in ("NICKNAME", "EMAIL", "TEL"):
                if not fn and name in first:
                    fn = text_value(first[name]).strip()
            out.append(self._line("FN:" + escape_text(fn)))
        if target == "3.0" and "N" not in first:
            # Apple writes a group's name in N (and reads it from there); a company's
            # N stays empty, its name is ORG (X-ABShowAs:COMPANY).
            family = escape_text(fn) if self._kind() in ("individual", "group") else ""
            out.append(self._line(f"N:{family};;;;"))
        return out

    # --- conversion ----------------------------------------------------------------------------

    def render(self, target: str) -> str:
        if self.source == "2.1":
            convert_line = self._from_21
        elif target == "4.0":
            self._plan_40()
            convert_line = self._to_40
        else:
            self._plan_30()
            convert_line = self._to_30
        out = [self.begin]
        for idx, (line, raw, start) in enumerate(self.lines):
            result = convert_line(idx, line, start) if line else None
            out.append(raw if result is None else result)
        out += self._required(target)
        out.append(self.end)
        return "".join(out)

    def _from_21(self, idx: int, line: ContentLine, start: int) -> str | None:
        if line.name == "VERSION":
            return self._line("VERSION:3.0")
        if line.name != "GEO" and not any(
            v is None or p in ("CHARSET", "ENCODING", "VALUE") for p, v in line.params
        ):
            return None
        e = self._edit(line, start)
        self._normalise(e, line)
        pos = e.index("ENCODING")
        if pos is not None and (e.params[pos][1] or "").upper() in ("BASE64", "B"):
            e.params[pos] = ["ENCODING", "b"]
            e.set(value="".join(e.value.split()))
        pos = e.index("VALUE")
        if pos is not None and (e.params[pos][1] or "").upper() == "URL":
            e.params[pos] = ["VALUE", "uri"]
            e.dirty = True
        geo = _GEO_30.fullmatch(e.value) if line.name == "GEO" else None
        if geo and "," in e.value:
            e.set(value=f"{geo[1]};{geo[2]}")
        return self._line(e.render()) if e.dirty else None

    def _plan_40(self) -> None:
        """Which lines change name, which LABELs join their ADR, where KIND:org goes."""
        self.renames: dict[int, str] = {}
        taken: set[str] = set()
        adrs: dict[str, list[int]] = {}
        labels: dict[str, list[int]] = {}
        self.label_of: dict[int, int] = {}  # ADR index -> LABEL index
        prev: ContentLine | None = None
        for idx, (line, _, _) in enumerate(self.lines):
            if line is None:
                prev = None
                continue
            name, group = line.name, (line.group or "").upper()
            if name == "X-ADDRESSBOOKSERVER-KIND" and "KIND" not in self.names | taken:
                self.renames[idx] = "KIND"
                taken.add("KIND")
            elif name == "X-ADDRESSBOOKSERVER-MEMBER":
                self.renames[idx] = "MEMBER"
            elif name[:2] == "X-" and name[2:] in _RESTORED:
                base, single = name[2:], _RESTORED[name[2:]]
                if not single or (base not in self.names and base not in taken):
                    if self._restorable(base, line):
                        self.renames[idx] = base
                        taken.add(base)
            elif name == "ADR" and group:
                adrs.setdefault(group, []).append(idx)
            elif name == "LABEL" and group:
                labels.setdefault(group, []).append(idx)
            elif name == "LABEL" and prev is not None and prev.name == "ADR" and not prev.group:
                if _types(prev) == _types(line):
                    self.label_of[idx - 1] = idx
            prev = line
        for group, found in labels.items():
            if len(found) == 1 and len(adrs.get(group, ())) == 1:
                self.label_of[adrs[group][0]] = found[0]
        for adr in list(self.label_of):  # an ADR that has its LABEL parameter keeps it
            if self._line_at(adr).param_values("LABEL"):
                del self.label_of[adr]
        self.attached = set(self.label_of.values())
        self.kind_after = None
        if "KIND" not in self.names and "KIND" not in taken:
            for idx, (line, _, _) in enumerate(self.lines):
                if line and line.name == "X-ABSHOWAS" and line.value.strip().upper() == "COMPANY":
                    self.kind_after = idx
                    break

    @staticmethod
    def _restorable(name: str, line: ContentLine) -> bool:
        if name == "GENDER":
            return bool(_GENDER.fullmatch(line.value.strip()))
        if name == "BDAY":  # only what 4.0 → 3.0 moved aside: a text birthday
            return "TEXT" in (v.upper() for v in line.param_values("VALUE"))
        return True

    def _to_40(self, idx: int, line: ContentLine, start: int) -> str | None:
        name = line.name
        if name == "VERSION":
            return self._line("VERSION:4.0")
        if idx in self.attached:
            return ""  # now the LABEL parameter of its ADR
        if idx == self.kind_after:
            return self.lines[idx][1] + self._line("KIND:org")
        if not (
            name in _BINARY
            or name in ("BDAY", "GEO")
            or idx in self.renames
            or idx in self.label_of
            or any(
                v is None
                or p in ("CHARSET", "ENCODING")
                or (p == "TYPE" and ("pref" in v.lower() or "internet" in v.lower()))
                for p, v in line.params
            )
        ):
            return None
        e = self._edit(line, start)
        if idx in self.renames:
            e.set(name=self.renames[idx])
            if e.name == "KIND":
                e.set(value=e.value.strip().lower())
        self._normalise(e, line)
        removed, pos = e.remove_types(lambda v: v.lower() == "pref")
        if removed and e.index("PREF") is None:
            e.insert(pos, "PREF", "1")
        if name == "EMAIL":
            e.remove_types(lambda v: v.lower() == "internet")
        if name in _BINARY:
            self._binary_to_40(e)
        elif name == "BDAY":
            value_type = e.values("VALUE")
            if value_type and value_type[0].lower() in ("date", "date-time"):
                e.pop("VALUE")
            omit = e.values("X-APPLE-OMIT-YEAR")
            ymd = _YMD.fullmatch(e.value.strip())
            if omit and ymd and ymd[1] == omit[0]:
                e.pop("X-APPLE-OMIT-YEAR")
                e.set(value=f"--{ymd[2]}{ymd[3]}")
        elif name == "GEO" and (geo := _GEO_30.fullmatch(e.value)):
            e.set(value=f"geo:{geo[1]},{geo[2]}")
        elif idx in self.label_of:
            label = self._line_at(self.label_of[idx])
            e.insert(None, "LABEL", _label_param(text_value(label)))
        return self._line(e.render()) if e.dirty else None

    @staticmethod
    def _binary_to_40(e: _Edit) -> None:
        encoding = [v.lower() for v in e.values("ENCODING")]
        if encoding and encoding[0] in ("b", "base64"):
            e.pop("ENCODING")
            e.pop("VALUE")
            data = "".join(e.value.split())
            formats, _ = e.remove_types(_is_format)
            media = _media_type(formats) or next(
                (m for prefix, m in _SNIFF if data.startswith(prefix)), "application/octet-stream"
            )
            e.set(value=f"data:{media};base64,{data}")
            return
        value_type = [v.lower() for v in e.values("VALUE")]
        if value_type and value_type[0] in ("uri", "url"):
            e.pop("VALUE")
            formats, pos = e.remove_types(_is_format)
            media = _media_type(formats)
            if media and e.index("MEDIATYPE") is None:
                e.insert(pos, "MEDIATYPE", media)

    def _plan_30(self) -> None:
        """Which lines go: all but the first of each ALTID set (3.0 has no alternatives)."""
        self.dropped: set[int] = set()
        sets: dict[tuple[str, str], list[int]] = {}
        for idx, (line, _, _) in enumerate(self.lines):
            altid = line.param_values("ALTID") if line else []
            if line and altid:
                sets.setdefault((line.name, altid[0]), []).append(idx)
        for (name, _), members in sets.items():
            keep = members[0]
            if name in ("BDAY", "ANNIVERSARY", "DEATHDATE"):  # a date before a text
                keep = next((m for m in members if not self._is_text(m)), keep)
            self.dropped.update(m for m in members if m != keep)
        self.showas = "X-ABSHOWAS" in self.names
        self.abkind = "X-ADDRESSBOOKSERVER-KIND" in self.names

    def _is_text(self, idx: int) -> bool:
        return "TEXT" in (v.upper() for v in self._line_at(idx).param_values("VALUE"))

    def _to_30(self, idx: int, line: ContentLine, start: int) -> str | None:
        name = line.name
        if name == "VERSION":
            return self._line("VERSION:3.0")
        if idx in self.dropped or name == "CLIENTPIDMAP":
            return ""
        rename = None
        if name == "KIND":
            kind = line.value.strip().lower()
            if kind == "individual" or self.abkind or (kind == "org" and self.showas):
                return ""
            rename = "X-ABShowAs" if kind == "org" else "X-ADDRESSBOOKSERVER-KIND"
        elif name == "MEMBER":
            rename = "X-ADDRESSBOOKSERVER-MEMBER"
        elif name == "BDAY" and self._is_text(idx):
            rename = "X-BDAY"
        elif name not in _KNOWN_30 and name[:2] != "X-":
            rename = "X-" + name
        if not (
            rename
            or name in _BINARY
            or name in ("TEL", "BDAY", "GEO", "TZ", "ADR")
            or '"' in self.lines[idx][1]
            or any(
                v is None
                or p in ("CHARSET", "ENCODING", "PREF", "PID", "ALTID", "CALSCALE", "MEDIATYPE")
                for p, v in line.params
            )
        ):
            return None
        e = self._edit(line, start)
        if rename:
            e.set(name=rename)
            if name == "KIND":
                e.set(value="COMPANY" if rename == "X-ABShowAs" else e.value.strip().lower())
        self._normalise(e, line)
        pos = e.index("PREF")
        if "1" in e.pop("PREF"):
            e.insert(pos, "TYPE", "pref")
        e.pop("PID")
        e.pop("ALTID")
        media = e.pop("MEDIATYPE")  # a hint 3.0 has no place for, but as a binary's TYPE
        if all(v.lower() == "gregorian" for v in e.values("CALSCALE")):
            e.pop("CALSCALE")
        for param in e.params:  # a quoted TYPE list is one value in 3.0 (RFC 2425 §5.8.2)
            if param[0].upper() == "TYPE" and param[1] and param[1][0] == '"':
                if not any(c in param[1] for c in ":;"):
                    param[1] = _unquote(param[1])
                    e.dirty = True
        value_type = [v.lower() for v in e.values("VALUE")]
        after = ""
        if name in _BINARY and e.value:
            self._binary_to_30(e, media)
        elif name == "TEL" and value_type[:1] == ["uri"] and e.value[:4].lower() == "tel:":
            e.pop("VALUE")
            e.set(value=unquote(e.value[4:]))
        elif name == "BDAY" and rename is None:
            if value_type[:1] == ["date-and-or-time"]:
                e.pop("VALUE")
            no_year = _NO_YEAR.fullmatch(e.value.strip())
            if no_year and e.index("X-APPLE-OMIT-YEAR") is None:
                e.set(value=f"1604-{no_year[1]}-{no_year[2]}")
                e.insert(None, "X-APPLE-OMIT-YEAR", "1604")
        elif name == "GEO" and (geo := _GEO_40.fullmatch(e.value.strip())):
            e.set(value=f"{geo[1]};{geo[2]}")
        elif name == "TZ":
            offset = _OFFSET.fullmatch(e.value.strip())
            if value_type[:1] == ["utc-offset"] and offset:
                e.pop("VALUE")
                e.set(value=f"{offset[1] or '+'}{int(offset[2]):02d}:{offset[3]}")
            elif not value_type and not offset:
                e.insert(None, "VALUE", "text")
        elif name == "ADR" and e.index("LABEL") is not None:
            text = _label_text(e.pop("LABEL")[0])
            types = [p for p in e.params if p[0].upper() == "TYPE"]
            label = _Edit("LABEL", escape_text(text))
            label.group, label.params = e.group, [list(p) for p in types]
            after = self._line(label.render())
        return self._line(e.render()) + after if e.dirty else None

    @staticmethod
    def _binary_to_30(e: _Edit, media: list[str]) -> None:
        value = e.value
        if value[:5].lower() == "data:" and "," in value:
            head, _, data = value[5:].partition(",")
            parts = [p.strip().lower() for p in head.split(";")]
            if "base64" in parts[1:]:
                data = "".join(data.split())
            else:
                data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
            e.pop("VALUE")
            fmt = _format(parts[0] or (media[0] if media else ""))
            e.params[0:0] = [["ENCODING", "b"]] + ([["TYPE", fmt]] if fmt else [])
            e.set(value=data)
            return
        if e.index("VALUE") is None:
            e.insert(0, "VALUE", "uri")
        fmt = _format(media[0]) if media else None
        if fmt:
            e.insert(1, "TYPE", fmt)


def _types(line: ContentLine) -> frozenset[str]:
    return frozenset(v.lower() for v in line.param_values("TYPE"))
