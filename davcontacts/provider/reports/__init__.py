"""REPORT methods as a registry: a report is a name and a function; the
supported-report-set of a resource comes from this table, so it cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from lxml import etree
from wsgidav.dav_error import DAVError

from ...model import Contact
from ...model.base import RowReader
from ...vcard.select import select_properties
from .. import xmlns
from ..base import context
from ..books import CARD_CONTENT_TYPE_XML, CARD_ROWS, LIST_ROWS, SLIM_ROWS, Book, Card
from ..multistatus import Multistatus, empty_element, getetag_xml, text_element, value_xml
from ..variants import served_version, variant_etag, variant_text


@dataclass(frozen=True)
class Report:
    name: str
    applies_to: tuple[type, ...]
    run: Callable[[object, etree._Element, dict], tuple[str, bytes]]


REPORTS: dict[str, Report] = {}


def register(name: str, *applies_to: type):
    def deco(func):
        REPORTS[name] = Report(name, applies_to, func)
        return func
    return deco


def report_names_for(res) -> list[str]:
    return [r.name for r in REPORTS.values() if isinstance(res, r.applies_to)]


def run_report(res, root: etree._Element, environ: dict) -> tuple[str, bytes]:
    report = REPORTS.get(root.tag)
    if report is None or not isinstance(res, report.applies_to):
        raise DAVError(403, f"unsupported report {root.tag}",
                       err_condition="{DAV:}supported-report")
    return report.run(res, root, environ)


def requested_props(root: etree._Element) -> list[etree._Element]:
    """The children of the report's <D:prop> (default: getetag)."""
    prop = root.find("{DAV:}prop")
    if prop is None:
        return [etree.Element(xmlns.GETETAG)]
    return list(prop)


def parse_limit(root: etree._Element) -> int | None:
    """`<C:limit><C:nresults>` (RFC 6352 §10.6) or the DAV: spelling of RFC 5323/6578."""
    n = root.find(f"{xmlns.card('limit')}/{xmlns.card('nresults')}")
    if n is None:
        n = root.find("{DAV:}limit/{DAV:}nresults")
    if n is None:
        return None
    try:
        value = int((n.text or "").strip())
    except ValueError:
        raise DAVError(400, "limit/nresults must be a number") from None
    if value < 1:
        raise DAVError(400, "limit/nresults must be positive")
    return value


def href_to_path(href: str, mount: str) -> str | None:
    """A provider path for an href (absolute URL or path, encoded or not)."""
    path = unquote(urlparse(href.strip()).path)
    if not path.startswith(mount + "/"):
        return None
    return path[len(mount):]


def address_data(text: str, request: etree._Element) -> str:
    """The card as `<C:address-data>` asks for it: whole, or only the properties
    named by its `<C:prop name="…"/>` children (RFC 6352 §10.4)."""
    names = {p.get("name", "") for p in request.iterfind(xmlns.card("prop"))}
    if request.get("novalue") or not names:
        return text
    return select_properties(text, names)


# Card properties a row answers by itself (anything else goes through a Card resource).
_FROM_ROW = frozenset({xmlns.GETETAG, xmlns.GETCONTENTTYPE, xmlns.RESOURCETYPE,
                       xmlns.card("address-data")})


class CardProps:
    """The properties a report asks of each card, rendered from its row. What does not
    depend on the row is worked out once per request: the version asked for, the
    server's version rule for each stored version (variants.py; the version decides
    which variant, and so which ETag, the client gets) and the book's href."""

    def __init__(self, book: Book, props: list[etree._Element], environ: dict):
        ctx = context(environ)
        self.book, self.props, self.environ = book, props, environ
        self.asked = next((el.get("version") for el in props
                           if el.tag == xmlns.card("address-data")), None)
        self.default = ctx.settings.default_vcard_version
        self.wants_text = any(el.tag == xmlns.card("address-data") for el in props)
        self.from_row = all(el.tag in _FROM_ROW for el in props)
        self._base = ctx.href(book.card_path(""))
        self._served: dict[str, str] = {}

    @property
    def reader(self) -> RowReader:
        """The columns a listing needs for these properties: the card text only for
        address-data, no timestamps when the row answers everything."""
        if self.wants_text:
            return CARD_ROWS
        return SLIM_ROWS if self.from_row else LIST_ROWS

    def href(self, name: str) -> str:
        return self._base + xmlns.href_quote(name)

    def served(self, stored: str) -> str:
        version = self._served.get(stored)
        if version is None:
            version = self._served[stored] = served_version(stored, self.environ,
                                                            self.default, self.asked)
        return version

    def render(self, row: Contact) -> tuple[list[tuple[str, str]], list[str]]:
        """(found, missing) for a card row."""
        found: list[tuple[str, str]] = []
        missing: list[str] = []
        card = None
        served = self.served(row.version)
        for el in self.props:
            name = el.tag
            if name == xmlns.GETETAG:
                etag = variant_etag(row.etag, row.version, served)
                found.append((name, getetag_xml(etag)))
            elif name == xmlns.GETCONTENTTYPE:
                found.append((name, CARD_CONTENT_TYPE_XML))
            elif name == xmlns.card("address-data"):
                text = variant_text(row.vcard, row.version, served)
                found.append((name, text_element(name, address_data(text, el))))
            elif name == xmlns.RESOURCETYPE:
                found.append((name, empty_element(name)))
            else:
                if card is None:
                    card = Card(self.book.card_path(row.name), self.environ, self.book.vb, row)
                try:
                    found.append((name, value_xml(name, card.get_property_value(name))))
                except DAVError:
                    missing.append(name)
        return found, missing

    def respond(self, out: Multistatus, row: Contact) -> None:
        """The card's <response> into `out`."""
        found, missing = self.render(row)
        out.response(self.href(row.name), found, missing)


from . import multiget, principal, query, sync  # noqa: E402,F401  (register the reports)
