"""Structured edits of a stored vCard (issue 4): only the matching properties change.

Other lines stay byte for byte (X- properties, item groups, parameters, order, folding, blank
lines, line endings). A rewritten line keeps its group, name and parameters as written (but
ENCODING/CHARSET: the new value is plain UTF-8), takes the card's line ending and is folded at
75 octets (RFC 6350 §3.2), as in convert.py. Text is escaped per RFC 6350 §3.4 / RFC 2426 §4;
2.1 (§2.1.3) escapes no comma outside a list; URI values (TEL, URL, IMPP, MEMBER) escape only
the backslash, so that ``text_value`` reads back what was written. No change: same text.

Decisions: a removed property takes the rest of its item group (item2.X-ABLabel) unless a kept
line shares it. set_multi/set_addresses match lines by stripped value (ADR: its 7 components)
and keep a match verbatim even if the types differ; the entries fill the places that name had,
in the order given, a matched line moving with the lines after it of its item group (and an
ungrouped ADR with its LABEL); extra entries follow the last place. Tags de-duplicate
case-insensitively as derive.py does. New members use the name of the card's last member line,
else MEMBER (4.0) or X-ADDRESSBOOKSERVER-MEMBER (3.0, 2.1); a ``mailto:`` id is written as is.
set_org_name("") drops an ORG without departments and adds no ORG.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass

from ..errors import InvalidCard, InvalidInput
from .convert import PHYSICAL_LINE, clean_text, escape_text, fold, line_ending, qp_decode
from .parse import (
    _BARE_ENCODINGS,
    _COMPONENT,
    _HEAD,
    _HEAD_AND_COLON,
    _PARAM,
    ContentLine,
    _read_line,
    structured_components,
    text_value,
    unescape_value,
)

_MEMBERS = ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER")
_URI_VALUED = frozenset({"TEL", "URL", "IMPP", "X-SOCIALPROFILE"})
_LIST_ITEM = re.compile(r"(?:\\.?|[^\\,])+", re.S)  # one item of a comma-separated list
_UNFOLD = re.compile(r"(?:\r*\n|\r)[ \t]")
_TOKEN = re.compile(r"[A-Za-z0-9-]+")
_URN = "urn:uuid:"
_Same = Callable[[int], bool]  # is line k already what is wanted?
_Keyed = list[tuple[Hashable, str]]  # (match key, new line) per wanted entry


@dataclass
class _Card:
    """One card cut into verbatim pieces: ``head + lines' raw text + tail`` is ``text``."""

    text: str
    head: str  # BOM, leading blank lines and BEGIN:VCARD
    lines: list[tuple[ContentLine | None, str]]  # each line (None if blank) with its raw text
    tail: str  # END:VCARD and the blank lines after it
    eol: str
    version: str

    def find(self, name: str) -> list[int]:
        key = name.upper()
        return [k for k, (line, _) in enumerate(self.lines) if line and line.name == key]

    def line(self, k: int) -> ContentLine:
        line = self.lines[k][0]
        assert line is not None  # only content lines are looked up
        return line

    def new(self, content: str) -> str:
        return fold(content, self.eol)

    def rewrite(self, k: int, value: str, params: str | None = None) -> str:
        """Line ``k`` with the escaped ``value``, keeping group, name and (given) parameters."""
        group, name, old = _raw_head(self.lines[k][1])
        if params is None:
            params = "".join(m.group() for m in _PARAM.finditer(old) if not _is_encoding(m))
        return self.new(f"{group}.{name}{params}:{value}" if group else f"{name}{params}:{value}")

    def group(self, k: int) -> str | None:
        line = self.lines[k][0]
        return line.group.upper() if line and line.group else None

    def with_groups(self, drop: set[int], keep: Collection[int] = ()) -> set[int]:
        """``drop`` plus the other lines of the item groups it empties (not ``keep``'s)."""
        groups = {self.group(k) for k in drop} - {self.group(k) for k in keep} - {None}
        if not groups:
            return drop
        return drop | {k for k in range(len(self.lines)) if self.group(k) in groups} - set(keep)

    def remove(self, found: list[int]) -> str:
        return self.apply(drop=self.with_groups(set(found)))

    def put(self, found: list[int], value: str, add: str, same: _Same, params: str | None) -> str:
        """Write ``value`` into the first of ``found`` unless ``same`` says it is there; drop
        the others with their item groups. With none found, add the line ``add`` before END."""
        if not found:
            return self.apply(insert={len(self.lines): [self.new(add)]})
        first = found[0]
        new = self.lines[first][1] if same(first) else self.rewrite(first, value, params)
        return self.apply(replace={first: new}, drop=self.with_groups(set(found[1:]), {first}))

    def unit(self, k: int) -> list[int]:
        """Line ``k`` and the lines right after it that belong to it: its item group's other
        properties (item2.X-ABLabel), or for an ungrouped ADR a LABEL with the same types."""
        line, out = self.line(k), [k]
        while line.group and len(self.lines) > k + len(out):
            j = k + len(out)
            other = self.lines[j][0]
            if not other or other.name == line.name or self.group(j) != self.group(k):
                break
            out.append(j)
        label = self.lines[k + 1][0] if k + 1 < len(self.lines) else None
        if line.name == "ADR" and not line.group and label and label.name == "LABEL":
            if not label.group and _type_set(label) == _type_set(line):
                out.append(k + 1)
        return out

    def entries(self, key: str, keyed: _Keyed, key_of: Callable[[ContentLine], Hashable]) -> str:
        """The ``key`` lines become ``keyed`` (match key, new line) in that order, in the places
        the ``key`` lines had: a matching line moves verbatim with its unit, the others go
        with their item groups; extra lines follow the last place."""
        found = self.find(key)
        units = {k: self.unit(k) for k in found}
        pool: dict[Hashable, list[int]] = {}
        for k in found:
            pool.setdefault(key_of(self.line(k)), []).append(k)
        firsts: dict[Hashable, str] = {}
        for match_key, new in keyed:
            firsts.setdefault(match_key, new)
        placed: list[str] = []
        kept: set[int] = set()
        for match_key, new in firsts.items():
            if pool.get(match_key):
                k = pool[match_key].pop(0)
                kept.add(k)
                new = "".join(self.lines[j][1] for j in units[k])
            placed.append(new)
        followers = {j for unit in units.values() for j in unit[1:]}
        removed = self.with_groups(set(found) - kept, kept) - set(found)
        drop = removed | followers | set(found[len(placed) :])
        at = found[-1] + 1 if found else len(self.lines)
        replace = dict(zip(found, placed, strict=False))
        return self.apply(replace=replace, drop=drop, insert={at: placed[len(found) :]})

    def apply(
        self,
        *,
        replace: dict[int, str] | None = None,
        drop: Collection[int] = (),
        insert: dict[int, list[str]] | None = None,
    ) -> str:
        """The card with lines replaced, dropped and inserted (before index); ``text`` if same."""
        replace, insert = replace or {}, insert or {}
        out = [self.head]
        for k, (_, raw) in enumerate(self.lines):
            out += insert.get(k, ())
            if k in replace:
                out.append(replace[k])
            elif k not in drop:
                out.append(raw)
        out += insert.get(len(self.lines), ())
        out.append(self.tail)
        result = "".join(out)
        return self.text if result == self.text else result


def set_single(text: str, name: str, value: str | None, *, params: str = "") -> str:
    """Set the one ``name`` line to ``value`` (plain text); None removes every such line."""
    card, key, params = _read(text), _name(name), _params(params)
    if value is None:
        return card.remove(card.find(key))
    escaped = _escape(value, card.version)

    def same(k: int) -> bool:
        if clean_text(text_value(card.line(k))) != clean_text(value):
            return False
        return not params or _raw_head(card.lines[k][1])[2] == params

    return card.put(card.find(key), escaped, f"{name}{params}:{escaped}", same, params or None)


def set_structured(text: str, name: str, components: list[str] | None) -> str:
    """Set the one ``name`` line (N, ADR, ORG) to ``components``; None removes every line."""
    card, key = _read(text), _name(name)
    if components is None:
        return card.remove(card.find(key))
    value = ";".join(_escape(c, card.version) for c in components)
    wanted = _trimmed([clean_text(c) for c in components])

    def same(k: int) -> bool:
        return _trimmed(structured_components(_raw_value(card.line(k)))) == wanted

    return card.put(card.find(key), value, f"{name}:{value}", same, None)


def set_org_name(text: str, company: str) -> str:
    """Rename the company (first ORG component), keeping departments, group and parameters."""
    card, company = _read(text), clean_text(company)
    found = card.find("ORG")
    escaped = _escape(company, card.version)
    if not found:
        if not company.strip():
            return text
        return card.apply(insert={len(card.lines): [card.new("ORG:" + escaped)]})
    value = _raw_value(card.line(found[0]))
    match = _COMPONENT.match(value)
    assert match is not None  # the pattern matches the empty string
    if unescape_value(match.group()) == company:
        return text
    rest = value[match.end() :]  # ";Department;…" exactly as written
    if not company and not rest.strip(";"):
        return card.remove(found[:1])
    return card.apply(replace={found[0]: card.rewrite(found[0], escaped + rest)})


def categories(text: str) -> list[str]:
    """The card's tags from every CATEGORIES line, unescaped, without blanks or repeats."""
    return _card_tags(_read(text))


def set_categories(text: str, tags: list[str]) -> str:
    """Make the card's tags exactly ``tags`` in one CATEGORIES line; unchanged if same set."""
    card = _read(text)
    wanted = _unique_tags(clean_text(t) for t in tags)
    if set(wanted) == set(_card_tags(card)):
        return text
    if not wanted:
        return card.remove(card.find("CATEGORIES"))
    value = ",".join(_escape(t, card.version, in_list=True) for t in wanted)
    return card.put(card.find("CATEGORIES"), value, "CATEGORIES:" + value, lambda _: False, None)


def members(text: str) -> list[str]:
    """Member UIDs of a group card (MEMBER / X-ADDRESSBOOKSERVER-MEMBER), in order."""
    card = _read(text)
    ids = (_member_id(card.line(k)) for k in _member_lines(card))
    return [uid for uid in ids if uid]


def set_members(text: str, uids: list[str]) -> str:
    """Make the group's members exactly ``uids`` (bare UIDs); staying lines are kept verbatim."""
    card = _read(text)
    cleaned = (clean_text(uid).replace("\n", "").strip() for uid in uids)
    wanted = list(dict.fromkeys(uid for uid in cleaned if uid))
    found, wanted_set = _member_lines(card), set(wanted)
    have = {_member_id(card.line(k)) for k in found}
    drop = {k for k in found if _member_id(card.line(k)) not in wanted_set}
    if found:
        name = card.line(found[-1]).name
    else:
        name = "MEMBER" if card.version == "4.0" else "X-ADDRESSBOOKSERVER-MEMBER"
    new = [card.new(f"{name}:{_uri(_member_value(uid))}") for uid in wanted if uid not in have]
    at = found[-1] + 1 if found else len(card.lines)
    return card.apply(drop=card.with_groups(drop, set(found) - drop), insert={at: new})


def set_multi(text: str, name: str, entries: list[tuple[list[str], str]]) -> str:
    """EMAIL/TEL/URL/IMPP lines become ``entries`` (types, value); known values stay verbatim."""
    card, key = _read(text), _name(name)
    escape = _uri if key in _URI_VALUED else lambda v: _escape(v, card.version)
    keyed: _Keyed = [
        (clean_text(v).strip(), card.new(f"{name}{_types(types, card.version)}:{escape(v)}"))
        for types, v in entries
        if clean_text(v).strip()
    ]
    return card.entries(key, keyed, lambda line: text_value(line).strip())


def set_addresses(text: str, entries: list[tuple[list[str], list[str]]]) -> str:
    """ADR lines become ``entries`` (types, 7 components); known addresses stay verbatim."""
    card = _read(text)
    keyed: _Keyed = []
    for types, components in entries:
        if len(components) > 7:
            raise ValueError(f"an address has 7 components, not {len(components)}")
        parts = [clean_text(c) for c in components] + [""] * (7 - len(components))
        value = ";".join(_escape(c, card.version) for c in parts)
        if any(_address_key(parts)):
            line = card.new(f"ADR{_types(types, card.version)}:{value}")
            keyed.append((_address_key(parts), line))
    return card.entries(
        "ADR", keyed, lambda line: _address_key(structured_components(_raw_value(line)))
    )


# --- reading -----------------------------------------------------------------------------------


# Photos: only raster images whose bytes say what they are (JPEG, PNG, GIF, WebP) are
# stored or served, never SVG or HTML under an image name. Magic → (MIME type, 3.0 TYPE).
_IMAGES = ((b"\xff\xd8\xff", "image/jpeg", "JPEG"), (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
           (b"GIF87a", "image/gif", "GIF"), (b"GIF89a", "image/gif", "GIF"))


def image_type(data: bytes) -> tuple[str, str] | None:
    """(MIME type, vCard TYPE) of a raster image, from its first bytes."""
    for magic, mime, vtype in _IMAGES:
        if data.startswith(magic):
            return mime, vtype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    return None


def card_photo(text: str) -> tuple[bytes, str] | None:
    """The inline image of the card's first PHOTO and its MIME type, or None (no
    photo, a URL, undecodable data, or not a raster image)."""
    card = _read(text)
    found = card.find("PHOTO")
    if not found:
        return None
    line = card.line(found[0])
    value = line.value.strip()
    if value[:5].lower() == "data:":
        head, _, value = value.partition(",")
        if ";base64" not in head.lower():
            return None
    elif not {e.lower() for e in line.param_values("ENCODING")} & {"b", "base64"}:
        return None
    try:
        data = base64.b64decode("".join(value.split()), validate=False)
    except (binascii.Error, ValueError):
        return None
    kind = image_type(data)
    return (data, kind[0]) if kind else None


def set_photo(text: str, data: bytes | None) -> str:
    """The card with its PHOTO replaced by ``data`` (None removes it): a data: URI in
    4.0, ENCODING=b with TYPE in 3.0, ENCODING=BASE64 in 2.1. set_single would escape
    the value as text (a data: URI would gain backslashes), hence this function."""
    card = _read(text)
    if data is None:
        return card.remove(card.find("PHOTO"))
    kind = image_type(data)
    if kind is None:
        raise InvalidInput("the photo must be a JPEG, PNG, GIF or WebP image")
    mime, vtype = kind
    b64 = base64.b64encode(data).decode("ascii")
    if card.version == "4.0":
        value, params = f"data:{mime};base64,{b64}", ""
    elif card.version == "2.1":
        value, params = b64, f";ENCODING=BASE64;TYPE={vtype}"
    else:
        value, params = b64, f";ENCODING=b;TYPE={vtype}"
    return card.put(card.find("PHOTO"), value, f"PHOTO{params}:{value}", lambda _: False,
                    params)


def _read(text: str) -> _Card:
    """Cut ``text`` into a _Card; ValueError unless it is exactly one vCard with a VERSION."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    raw = PHYSICAL_LINE.findall(text[len(bom) :])
    if raw and not raw[-1]:
        raw.pop()
    phys = [r.rstrip("\r\n") for r in raw]
    n, i = len(phys), 0
    while i < n and (not phys[i] or phys[i].isspace()):
        i += 1
    if i == n or phys[i].rstrip().upper() != "BEGIN:VCARD":
        raise ValueError("not a vCard: the text does not start with BEGIN:VCARD")
    head, begin = bom + "".join(raw[: i + 1]), i + 1
    i += 1
    lines: list[tuple[ContentLine | None, str]] = []
    version = None
    while True:
        if i == n:
            raise ValueError(f"line {begin}: BEGIN:VCARD has no matching END:VCARD")
        if not phys[i] or phys[i].isspace():
            lines.append((None, raw[i]))
            i += 1
            continue
        try:
            line, nxt = _read_line(phys, i)
        except InvalidCard as exc:
            raise ValueError(exc.reason) from None
        if line.name == "END":
            break
        if line.name == "BEGIN":
            raise ValueError(f"line {i + 1}: a nested vCard is not supported")
        if line.name == "VERSION" and version is None:
            version = line.value.strip()
        lines.append((line, "".join(raw[i:nxt])))
        i = nxt
    if line.value.strip().upper() != "VCARD" or any(p.strip() for p in phys[nxt:]):
        raise ValueError(f"line {i + 1}: expected END:VCARD closing the one vCard")
    if not version:
        raise ValueError("the vCard has no VERSION")
    return _Card(text, head, lines, "".join(raw[i:]), line_ending(raw), version)


def _raw_value(line: ContentLine) -> str:
    """The value with escapes kept and QUOTED-PRINTABLE (2.1, some 3.0 exports) decoded."""
    if "QUOTED-PRINTABLE" not in (v.upper() for v in line.param_values("ENCODING")):
        return line.value
    charset = line.param_values("CHARSET")
    return clean_text(qp_decode(line.value, charset[0] if charset else None))


def _raw_head(raw: str) -> tuple[str | None, str, str]:
    """Group, name and parameters exactly as written (continuation lines joined)."""
    match = _HEAD_AND_COLON.match(_UNFOLD.sub("", raw))
    assert match is not None  # _read parsed this line already
    head = _HEAD.fullmatch(match.group()[:-1])
    assert head is not None
    return head.group(1), head.group(2), head.group(3)


def _card_tags(card: _Card) -> list[str]:
    values = (_raw_value(card.line(k)) for k in card.find("CATEGORIES"))
    return _unique_tags(unescape_value(part) for v in values for part in _LIST_ITEM.findall(v))


def _unique_tags(tags: Iterable[str]) -> list[str]:
    out: dict[str, str] = {}
    for tag in tags:
        tag = tag.strip()
        if tag:
            out.setdefault(tag.casefold(), tag)
    return list(out.values())


def _member_lines(card: _Card) -> list[int]:
    return [k for k, (line, _) in enumerate(card.lines) if line and line.name in _MEMBERS]


def _member_id(line: ContentLine) -> str:
    value = text_value(line).strip()
    return value[len(_URN) :] if value[: len(_URN)].lower() == _URN else value


def _member_value(uid: str) -> str:
    return uid if uid[:7].lower() == "mailto:" else _URN + uid


def _address_key(components: list[str]) -> tuple[str, ...]:
    return tuple(c.strip() for c in (components + [""] * 7)[:7])


def _type_set(line: ContentLine) -> frozenset[str]:
    return frozenset(t.lower() for t in line.param_values("TYPE"))


def _trimmed(components: list[str]) -> list[str]:
    out = list(components)
    while out and not out[-1]:
        out.pop()
    return out


# --- writing -----------------------------------------------------------------------------------


def _name(name: str) -> str:
    if not _TOKEN.fullmatch(name) or name.upper() in ("BEGIN", "END", "VERSION"):
        raise ValueError(f"cannot edit property {name!r}")
    return name.upper()


def _params(params: str) -> str:
    """``params`` as raw text starting with ';' (or empty); ValueError if malformed."""
    if params and not params.startswith(";"):
        params = ";" + params
    if params and not _HEAD.fullmatch("X" + params):
        raise ValueError(f"malformed parameters {params!r}")
    return params


def _types(types: list[str], version: str) -> str:
    """``;TYPE=a,b`` (2.1: bare ``;a;b``, 2.1 §2.1.3)."""
    for t in types:
        if not _TOKEN.fullmatch(t):
            raise ValueError(f"invalid TYPE value {t!r}")
    if not types:
        return ""
    return "".join(f";{t}" for t in types) if version == "2.1" else ";TYPE=" + ",".join(types)


def _escape(value: str, version: str, *, in_list: bool = False) -> str:
    """Text escaped for ``version`` (RFC 6350 §3.4, RFC 2426 §4); 2.1 keeps bare commas."""
    value = clean_text(value)
    if version != "2.1" or in_list:
        return escape_text(value)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(";", "\\;")


def _uri(value: str) -> str:
    """A URI value on one line; the backslash escaped so that ``text_value`` reads it back."""
    return clean_text(value).replace("\n", "").replace("\\", "\\\\")


def _is_encoding(param: re.Match[str]) -> bool:
    name = param.group(1).upper()
    if param.group(2) is None:
        return name in _BARE_ENCODINGS
    return name in ("ENCODING", "CHARSET")
