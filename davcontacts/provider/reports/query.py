"""addressbook-query (RFC 6352 §8.6): the filter of §10.5 parsed into small records and
evaluated exactly on each parsed card. Two cheaper tests only narrow the candidates
first, and only where a card they drop can never match: SQL on the FN column, and a
look for the search text in the card's raw text before it is parsed."""

from __future__ import annotations

import logging
import operator
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from itertools import islice

from lxml import etree
from peewee import SQL, ColumnBase, NodeList, PostgresqlDatabase, Value, fn
from wsgidav.dav_error import DAVError

from ...errors import InvalidCard
from ...model import Contact, database
from ...vcard.collation import COLLATIONS, FN_SEPARATOR, ascii_lower, fold
from ...vcard.parse import ContentLine, ParsedCard, parse_card, unescape_value
from ...vcard.parse import text_value as property_text  # QP-decoded, unescaped value
from .. import xmlns
from ..base import context
from ..books import CARD_ROWS, Book
from ..multistatus import Multistatus
from . import CardProps, parse_limit, register, requested_props

log = logging.getLogger(__name__)

MATCH_TYPES = ("equals", "contains", "starts-with", "ends-with")
CHUNK = 250  # rows (with their card text) fetched per query
_NAME = re.compile(r"[A-Za-z0-9-]+")
_RFC6868 = re.compile(r"\^([n^'])")
_UNFOLD = re.compile(r"(?:\r*\n|\r)[ \t]")  # the parser's line break, then the fold's blank


# --- the filter (RFC 6352 §10.5) ------------------------------------------------------

def _compare(match_type: str, needle: str, value: str) -> bool:
    if match_type == "contains":
        return needle in value
    if match_type == "equals":
        return value == needle
    if match_type == "starts-with":
        return value.startswith(needle)
    return value.endswith(needle)


@dataclass(frozen=True)
class TextMatch:
    """§10.5.4, with its defaults."""

    text: str
    collation: str = "i;unicode-casemap"
    match_type: str = "contains"
    negate: bool = False
    needle: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needle", fold(self.text, self.collation))

    def matches(self, values: list[str]) -> bool:
        """Any of `values` matches; negated, none does."""
        hit = any(_compare(self.match_type, self.needle, fold(v, self.collation))
                  for v in values)
        return hit != self.negate


@dataclass(frozen=True)
class ParamFilter:
    """§10.5.2: the parameter exists (and its text matches), or is-not-defined."""

    name: str
    is_not_defined: bool = False
    text_match: TextMatch | None = None

    def matches(self, line: ContentLine, version: str) -> bool:
        values = param_texts(line, self.name, version)
        if self.is_not_defined:
            return values is None
        if values is None:
            return False
        return self.text_match is None or self.text_match.matches(values)


@dataclass(frozen=True)
class PropFilter:
    """§10.5.1: some instance of the property passes the text-match and param-filter
    tests (any or all of them, by `test`); or, with is-not-defined, none exists.
    More than one text-match is accepted (sabre/dav does; the DTD allows one)."""

    name: str
    test: str = "anyof"
    is_not_defined: bool = False
    text_matches: tuple[TextMatch, ...] = ()
    param_filters: tuple[ParamFilter, ...] = ()

    def matches(self, card: ParsedCard) -> bool:
        lines = card.all(self.name)
        if self.is_not_defined:
            return not lines
        if not self.text_matches and not self.param_filters:
            return bool(lines)
        combine = all if self.test == "allof" else any
        for line in lines:
            value = [property_text(line)] if self.text_matches else []
            if combine([*(t.matches(value) for t in self.text_matches),
                        *(p.matches(line, card.version) for p in self.param_filters)]):
                return True
        return False


@dataclass(frozen=True)
class Filter:
    """§10.5: any or all of the prop-filters match; an empty filter matches every card."""

    test: str = "anyof"
    prop_filters: tuple[PropFilter, ...] = ()

    def matches(self, card: ParsedCard) -> bool:
        if not self.prop_filters:
            return True
        combine = all if self.test == "allof" else any
        return combine(pf.matches(card) for pf in self.prop_filters)

    @property
    def on_folded_fn(self) -> bool:
        """True when the filter needs nothing but FN values under i;unicode-casemap,
        so the folded FN column (Contact.fn_fold) decides it without the card."""
        return bool(self.prop_filters) and all(
            pf.name == "FN" and not pf.is_not_defined and not pf.param_filters
            and pf.text_matches
            and all(t.collation == "i;unicode-casemap" for t in pf.text_matches)
            for pf in self.prop_filters)

    def matches_folded(self, values: list[str]) -> bool:
        """matches() for a filter on_folded_fn, given the card's folded FN values."""
        combine = all if self.test == "allof" else any
        return combine(
            any((all if pf.test == "allof" else any)(
                _compare(t.match_type, t.needle, v) != t.negate for t in pf.text_matches)
                for v in values)
            for pf in self.prop_filters)


def param_texts(line: ContentLine, name: str, version: str) -> list[str] | None:
    """What a param-filter's text-match compares: each whole value of parameter `name`
    and each comma-separated part (vCard 2.1 bare TYPE values too), RFC 6868-decoded in
    vCard 4.0; None when the line has no such parameter."""
    key = name.upper()
    whole = [v for p, v in line.params if p == key and v is not None]
    parts = line.param_values(key)
    if not whole and not parts and all(p != key for p, _ in line.params):
        return None
    values = whole + [p for p in parts if p not in whole]
    if version == "4.0":
        values = [_RFC6868.sub(lambda m: {"n": "\n", "'": '"'}.get(m[1], "^"), v)
                  for v in values]
    return values


# --- parsing the request ----------------------------------------------------------------

def _bad(reason: str) -> DAVError:
    return DAVError(400, reason)


def _children(el: etree._Element, allowed: tuple[str, ...]) -> list[etree._Element]:
    """CardDAV child elements, each of `allowed` local names (else 400); elements of
    other namespaces are ignored (RFC 4918 §17)."""
    out = []
    for child in el:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != xmlns.CARDDAV:
            continue
        if _local(child) not in allowed:
            raise _bad(f"{_local(child)} is not allowed in {_local(el)}")
        out.append(child)
    return out


def _choice(el: etree._Element, attr: str, choices: tuple[str, ...], default: str) -> str:
    value = el.get(attr, default)
    if value not in choices:
        raise _bad(f"{attr}={value!r} on {_local(el)}: expected one of "
                   + ", ".join(choices))
    return value


def _name(el: etree._Element) -> str:
    name = el.get("name", "")
    if not name:
        raise _bad(f"{_local(el)} needs a name attribute")
    if not _NAME.fullmatch(name):  # §8.6: not a vCard name the server can filter on
        raise DAVError(403, f"cannot filter on {name!r}",
                       err_condition=xmlns.card("supported-filter"))
    return name.upper()


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def parse_text_match(el: etree._Element) -> TextMatch:
    collation = el.get("collation", "i;unicode-casemap").lower()
    if collation not in COLLATIONS:
        raise DAVError(403, f"unsupported collation {collation!r}",
                       err_condition=xmlns.card("supported-collation"))
    return TextMatch(el.text or "", collation,
                     _choice(el, "match-type", MATCH_TYPES, "contains"),
                     _choice(el, "negate-condition", ("yes", "no"), "no") == "yes")


def parse_param_filter(el: etree._Element) -> ParamFilter:
    name = _name(el)
    kids = _children(el, ("is-not-defined", "text-match"))
    if len(kids) > 1:
        raise _bad("param-filter holds is-not-defined or one text-match")
    if kids and _local(kids[0]) == "is-not-defined":
        return ParamFilter(name, is_not_defined=True)
    return ParamFilter(name, text_match=parse_text_match(kids[0]) if kids else None)


def parse_prop_filter(el: etree._Element) -> PropFilter:
    name = _name(el)
    test = _choice(el, "test", ("anyof", "allof"), "anyof")
    kids = _children(el, ("is-not-defined", "text-match", "param-filter"))
    if any(_local(k) == "is-not-defined" for k in kids):
        if len(kids) > 1:
            raise _bad("is-not-defined stands alone in a prop-filter")
        return PropFilter(name, test, is_not_defined=True)
    return PropFilter(name, test, False,
                      tuple(parse_text_match(k) for k in kids if _local(k) == "text-match"),
                      tuple(parse_param_filter(k) for k in kids if _local(k) == "param-filter"))


def parse_filter(root: etree._Element) -> Filter:
    """The CARDDAV:filter of an addressbook-query (exactly one is required)."""
    found = root.findall(xmlns.card("filter"))
    if len(found) != 1:
        raise _bad("addressbook-query needs exactly one CARDDAV:filter")
    el = found[0]
    return Filter(_choice(el, "test", ("anyof", "allof"), "anyof"),
                  tuple(parse_prop_filter(k) for k in _children(el, ("prop-filter",))))


# --- necessary conditions: what a matching card must satisfy ---------------------------
# A tree of ("and", parts), ("or", parts) and ("text", property name, TextMatch) leaves,
# where None means "no condition". Each leaf is a non-negated text-match with a
# non-empty needle: a card that matches the filter has such a property value.

Need = tuple | None


def _all(needs: list[Need]) -> Need:
    kept = tuple(n for n in needs if n is not None)
    return None if not kept else kept[0] if len(kept) == 1 else ("and", kept)


def _any(needs: list[Need]) -> Need:
    if not needs or any(n is None for n in needs):
        return None
    return needs[0] if len(needs) == 1 else ("or", tuple(needs))


def _prop_need(pf: PropFilter) -> Need:
    if pf.is_not_defined:
        return None
    needs: list[Need] = [("text", pf.name, t) if t.needle and not t.negate else None
                         for t in pf.text_matches]
    needs += [None] * len(pf.param_filters)
    return (_all if pf.test == "allof" else _any)(needs)


def necessary(flt: Filter) -> Need:
    needs = [_prop_need(pf) for pf in flt.prop_filters]
    return (_all if flt.test == "allof" else _any)(needs)


def _map_need(need: Need, leaf) -> Need:
    """`need` with each leaf replaced by leaf(name, text_match) (which may give None)."""
    if need is None:
        return None
    if need[0] == "text":
        return leaf(need[1], need[2])
    parts = [_map_need(n, leaf) for n in need[1]]
    return (_all if need[0] == "and" else _any)(parts)


# --- the raw-text check ---------------------------------------------------------------

class RawCard:
    """A card's stored text, unfolded and unescaped as a whole: every property value,
    as the parser unescapes it, is a substring of that text (less a lone trailing
    backslash, hence no needle with a backslash), unless quoted-printable is involved."""

    __slots__ = ("plain", "_folded", "_text")

    def __init__(self, raw: str):
        unfolded = _unfold(raw)
        # The parser strips quotes from parameter values and compares upper-cased.
        head = unfolded.replace('"', "") if '"' in unfolded else unfolded
        self.plain = "QUOTED-PRINTABLE" not in head.upper()
        self._text = unescape_value(unfolded) if self.plain else ""
        self._folded: dict[str, str] = {}

    def folded(self, collation: str) -> str:
        text = self._folded.get(collation)
        if text is None:
            text = self._folded[collation] = fold(self._text, collation)
        return text


def _unfold(raw: str) -> str:
    """`raw` without its folds, as the parser unfolds lines (str methods when the line
    breaks are CRLF or LF, the slower regex for stray CRs)."""
    text = raw.replace("\r\n", "\n")
    if "\r" in text:
        return _UNFOLD.sub("", raw)
    return text.replace("\n ", "").replace("\n\t", "")


def _raw_leaf(name: str, tm: TextMatch) -> Need:
    return None if "\\" in tm.needle else ("text", name, tm)


def raw_holds(need: Need, card: RawCard) -> bool:
    """False only when no property value of the card can satisfy `need`."""
    if need is None or not card.plain:
        return True
    kind = need[0]
    if kind == "text":
        return need[2].needle in card.folded(need[2].collation)
    if kind == "and":
        return all(raw_holds(n, card) for n in need[1])
    return any(raw_holds(n, card) for n in need[1])


# --- the SQL narrowing -----------------------------------------------------------------
# Only FN can be narrowed: its first instance is the display_name column (stripped,
# clipped to 512). The column decides a row only when that instance is the card's only
# FN and the row's text is ASCII (so SQL's ASCII case-insensitive LIKE is exact there,
# or a superset for i;octet); other rows are kept for the exact evaluation.

def _postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _like(column: ColumnBase, pattern: str) -> ColumnBase:
    return NodeList((column, SQL("LIKE"), Value(pattern), SQL("ESCAPE '\\'")), parens=True)


def _ascii_lower(column: ColumnBase) -> ColumnBase:
    if _postgres():  # lower() follows the locale there (Turkish I); translate does not
        return fn.translate(column, string.ascii_uppercase, string.ascii_lowercase)
    return fn.lower(column)


def _not_ascii(column: ColumnBase) -> ColumnBase:
    if _postgres():
        return fn.octet_length(column) != fn.length(column)
    return fn.length(column.cast("BLOB")) != fn.length(column)


# A property name folded between F and N: F, a line break as the parser reads it
# (CR* LF, or CR), one blank, N. SQLite's LIKE ignores ASCII case; CR runs are widened.
_FOLDED_FN_LIKE = ("%f\r\n n%", "%f\r\n\tn%", "%f\n n%", "%f\n\tn%", "%f\r n%", "%f\r\tn%",
                   "%f\r\r%")
_SEVERAL_FN_REGEX = "[Ff]((\r*\n|\r)[ \t][Nn]|[Nn].*[Ff][Nn])"


def _maybe_several_fn() -> ColumnBase:
    """A superset of the cards with two or more FN lines: "FN" twice (any case), or a
    name folded between F and N. PostgreSQL's regex is faster than ILIKE here."""
    if _postgres():
        return NodeList((Contact.vcard, SQL("~"), Value(_SEVERAL_FN_REGEX)), parens=True)
    return reduce(operator.or_, [_like(Contact.vcard, p) for p in ("%fn%fn%", *_FOLDED_FN_LIKE)])


def _like_pattern(match_type: str, needle: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", needle)
    return {"equals": "{}", "contains": "%{}%", "starts-with": "{}%",
            "ends-with": "%{}"}[match_type].format(escaped)


def _folded_leaf(tm: TextMatch):
    """FN under i;unicode-casemap: the folded column holds every FN value folded the
    same way as the needle, so a row whose column does not contain the needle cannot
    match whatever the match-type (with several FN values joined in the column, only
    `contains` is safe in SQL; the exact test follows on the values). A NULL column
    (not stored) keeps the row."""
    column = Contact.fn_fold
    return _like(column, _like_pattern("contains", tm.needle)) | column.is_null()


def _sql_leaf(name: str, tm: TextMatch):
    needle = tm.needle
    if name == "FN" and needle and tm.collation == "i;unicode-casemap":
        return _folded_leaf(tm)
    if name != "FN" or not needle or needle != needle.strip():
        return None  # a needle with blanks at its ends could match what the column stripped
    column = Contact.display_name
    keep = _not_ascii(column) | (fn.length(column) >= 512) | _maybe_several_fn()
    if not needle.isascii():
        return keep  # an ASCII row cannot hold a non-ASCII needle
    return _like(_ascii_lower(column), _like_pattern(tm.match_type, ascii_lower(needle))) | keep


def sql_condition(need: Need):
    """A peewee condition every matching card's row satisfies, or None."""
    if need is None:
        return None
    if need[0] == "text":
        return _sql_leaf(need[1], need[2])
    parts = [sql_condition(n) for n in need[1]]
    if need[0] == "and":
        parts = [p for p in parts if p is not None]
        return reduce(operator.and_, parts) if parts else None
    return None if None in parts else reduce(operator.or_, parts)


# --- the report ------------------------------------------------------------------------

def _live(book_id: int):
    return (Contact.book == book_id) & Contact.name_key.is_null(False)


def candidates(book_id: int, condition) -> Iterator[tuple[int, str]]:
    """(id, card text) of the book's live rows (narrowed by `condition`) in name order:
    the ids from one query (so the condition is evaluated once per row; a keyset page
    per chunk made PostgreSQL scan the book again for each), then the text a chunk at
    a time, so neither side ever holds the whole book's text."""
    query = Contact.select(Contact.id).where(_live(book_id))
    if condition is not None:
        query = query.where(condition)
    ids = [row_id for (row_id,) in query.order_by(Contact.name_key).tuples().iterator()]
    yield from _texts(book_id, ids)


def _texts(book_id: int, ids: list[int]) -> Iterator[tuple[int, str]]:
    """(id, card text) for `ids`, in their order, a chunk at a time."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        texts = dict(Contact.select(Contact.id, Contact.vcard)
                     .where(_live(book_id) & Contact.id.in_(chunk)).tuples().iterator())
        yield from ((row_id, texts[row_id]) for row_id in chunk if row_id in texts)


def _parsed_match(book_id: int, row_id: int, text: str, flt: Filter) -> bool:
    try:
        card = parse_card(text)
    except InvalidCard as exc:  # stored cards are valid; never fail the whole query
        log.warning("card %s of book %s does not parse: %s", row_id, book_id, exc)
        return False
    return flt.matches(card)


def folded_matching_ids(book_id: int, flt: Filter, condition) -> Iterator[int]:
    """matching_ids for a filter on_folded_fn: decided on the folded FN column, read
    from its covering index (book, state, fn_fold), the card parsed only where the
    column is NULL. Live cards are the active ones (name_key is set exactly then);
    rows_by_id checks name_key again before anything is sent."""
    query = (Contact.select(Contact.id, Contact.fn_fold)
             .where((Contact.book == book_id) & (Contact.state == "active")))
    if condition is not None:
        query = query.where(condition)
    rows = sorted(query.tuples().iterator())
    unfolded = dict(_texts(book_id, [row_id for row_id, folded in rows if folded is None]))
    for row_id, folded in rows:
        if folded is None:
            text = unfolded.get(row_id)
            if text is not None and _parsed_match(book_id, row_id, text, flt):
                yield row_id
        elif flt.matches_folded(folded.split(FN_SEPARATOR) if folded else []):
            yield row_id


def matching_ids(book_id: int, flt: Filter) -> Iterator[int]:
    """The ids of the book's live cards that match `flt` (RFC 6352 §10.5): in id order
    when the folded FN column decides, else in name order."""
    need = necessary(flt)
    condition = sql_condition(need)
    if flt.on_folded_fn:
        yield from folded_matching_ids(book_id, flt, condition)
        return
    raw_need = _map_need(need, _raw_leaf)
    log.debug("addressbook-query %s: SQL narrowing %s, raw check %s",
              flt, condition is not None, raw_need is not None)
    for row_id, text in candidates(book_id, condition):
        if raw_need is not None and not raw_holds(raw_need, RawCard(text)):
            continue
        if _parsed_match(book_id, row_id, text, flt):
            yield row_id


def rows_by_id(book_id: int, ids: Iterable[int]) -> Iterator[Contact]:
    """The full live rows for `ids`, in their order, a chunk at a time."""
    it = iter(ids)
    while chunk := list(islice(it, CHUNK)):
        rows = {r.id: r for r in CARD_ROWS.run(CARD_ROWS.select().where(
            _live(book_id) & Contact.id.in_(chunk)))}
        yield from (rows[i] for i in chunk if i in rows)


@register(xmlns.card("addressbook-query"), Book)
def addressbook_query(book: Book, root, environ):
    """Any Depth (0, 1 or none) queries the book's cards (CLIENTS.md)."""
    flt = parse_filter(root)
    limit = parse_limit(root)
    props = requested_props(root)
    ids: Iterable[int] = matching_ids(book.vb.book.id, flt)
    truncated = False
    if limit is not None:  # one more than asked says whether the rest was cut
        first = list(islice(ids, limit + 1))
        ids, truncated = first[:limit], len(first) > limit
    return "207 Multi-Status", _responses(book, ids, truncated, props, environ)


def _responses(book: Book, ids: Iterable[int], truncated: bool, props,
               environ) -> Iterator[bytes]:
    """The matching cards, in pieces; a 507 for the collection when truncated."""
    cards = CardProps(book, props, environ)
    out = Multistatus()
    for row in rows_by_id(book.vb.book.id, ids):
        cards.respond(out, row)
        if out.full:
            yield out.drain()
    if truncated:
        # RFC 6352 §8.6.1
        out.status(context(environ).href(book.path), 507,
                   "{DAV:}number-of-matches-within-limits")
    yield out.finish()
