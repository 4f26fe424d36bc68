"""addressbook-query over HTTP (RFC 6352 §8.6, §10.5) on every backend: what clients
search for, every filter element, collations, limits and errors; and a differential
test that the SQL and raw-text narrowing never lose a card the exact filter accepts."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from lxml import etree

from davcontacts.provider.reports.query import parse_filter
from davcontacts.vcard.parse import parse_card
from tests.davclient import NS, make_card
from tests.provider.support import CARDDAV


@pytest.fixture
def book(user) -> str:
    return f"/dav/addressbooks/{user}/personal/"


def body(filter_xml: str, props: str = "<D:getetag/>", extra: str = "") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>'
            f'<C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
            f"<D:prop>{props}</D:prop>{filter_xml}{extra}</C:addressbook-query>")


def text_match(text: str, **attrs: str) -> str:
    attr = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f"<C:text-match{attr}>{escape(text)}</C:text-match>"


def prop_filter(name: str, *inner: str, test: str | None = None) -> str:
    t = f' test="{test}"' if test else ""
    return f'<C:prop-filter name="{name}"{t}>{"".join(inner)}</C:prop-filter>'


def filt(*prop_filters: str, test: str | None = None) -> str:
    t = f' test="{test}"' if test else ""
    return f"<C:filter{t}>{''.join(prop_filters)}</C:filter>"


def names(r, book: str) -> set[str]:
    """Resource names of the members answered with a 200 propstat."""
    assert r.status == 207, (r.status, r.body)
    out = set()
    for href, resp in r.responses().items():
        statuses = [s.text for s in resp.iterfind("D:propstat/D:status", NS)]
        if "HTTP/1.1 200 OK" in statuses:
            assert href.startswith(book), href
            out.add(href[len(book):])
    return out


def search(dav, book: str, *prop_filters: str, test: str | None = None,
           depth: str | None = "1") -> set[str]:
    return names(dav.report(book, body(filt(*prop_filters, test=test)), depth=depth), book)


def vcard(uid: str, *lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", f"UID:{uid}", *lines,
                        "END:VCARD"]) + "\r\n"


def put_all(dav, book: str, cards: dict[str, str]) -> None:
    for name, text in cards.items():
        r = dav.put_card(book + name, text)
        assert r.status == 201, (name, r.status, r.body)


@pytest.fixture
def people(dav, book) -> dict[str, str]:
    cards = {
        "ada.vcf": vcard("ada", "FN:Ada Lovelace", "N:Lovelace;Ada;;;",
                         "EMAIL;TYPE=home:ada@home.example",
                         "EMAIL;TYPE=work:countess@engine.example",
                         "TEL;TYPE=cell:+44 20 7946 0001",
                         "ORG:Analytical Engine Ltd"),
        "martin.vcf": vcard("martin", "FN:Martin Müller", "N:Müller;Martin;;;",
                            "EMAIL;TYPE=work:martin@corp.example", "TEL;TYPE=work:+49 30 123456"),
        "marta.vcf": vcard("marta", "FN:Marta García", "N:García;Marta;;;",
                           "item1.EMAIL;type=INTERNET:marta@example.org", "item1.X-ABLabel:other"),
        "aerger.vcf": vcard("aerger", "FN:ÄRGER GmbH", "ORG:ÄRGER GmbH", "X-ABShowAs:COMPANY"),
        "noemail.vcf": vcard("noemail", "FN:Bob Nobody", "N:Nobody;Bob;;;", "TEL:555-0100"),
    }
    put_all(dav, book, cards)
    return cards


ALL = {"ada.vcf", "martin.vcf", "marta.vcf", "aerger.vcf", "noemail.vcf"}


# --- what clients send -------------------------------------------------------------------


@pytest.mark.parametrize("depth", ["1", "0", None])
def test_fn_contains_returns_etag_and_address_data(dav, book, people, depth):
    """The benchmark's (and a typical client's) search: FN contains, any Depth."""
    r = dav.report(book, body(filt(prop_filter("FN", text_match(
        "mart", collation="i;unicode-casemap", match_type="contains")), test="anyof"),
        "<D:getetag/><C:address-data/>"), depth=depth)
    assert names(r, book) == {"martin.vcf", "marta.vcf"}
    for name in ("martin.vcf", "marta.vcf"):
        assert r.prop(book + name, "C:address-data").text == people[name]
        etag = dav.request("GET", book + name).header("ETag")
        assert r.prop(book + name, "D:getetag").text == etag
    assert r.xml().find("D:response/D:propstat/D:status", NS).text == "HTTP/1.1 200 OK"


def test_query_is_in_supported_report_set(dav, book):
    r = dav.propfind(book, ["D:supported-report-set"])
    reports = {e[0][0].tag for e in r.prop(book, "D:supported-report-set")}
    assert f"{{{CARDDAV}}}addressbook-query" in reports


def test_email_matches_a_second_address(dav, book, people):
    assert search(dav, book, prop_filter("EMAIL", text_match("engine.example"))) == {"ada.vcf"}
    assert search(dav, book, prop_filter("EMAIL", text_match("@home.example"))) == {"ada.vcf"}
    # Grouped (Apple item1.EMAIL) lines are EMAIL properties too.
    assert search(dav, book, prop_filter("EMAIL", text_match("MARTA@"))) == {"marta.vcf"}


def test_tel_contains(dav, book, people):
    assert search(dav, book, prop_filter("TEL", text_match("123456"))) == {"martin.vcf"}
    assert search(dav, book, prop_filter("TEL", text_match("+4"))) == {"ada.vcf", "martin.vcf"}


@pytest.mark.parametrize("match_type, text, expected", [
    ("equals", "ada lovelace", {"ada.vcf"}),
    ("equals", "ada", set()),
    ("starts-with", "MAR", {"martin.vcf", "marta.vcf"}),
    ("starts-with", "müller", set()),
    ("ends-with", "MÜLLER", {"martin.vcf"}),
    ("ends-with", "lace", {"ada.vcf"}),
    ("contains", "a", {"ada.vcf", "martin.vcf", "marta.vcf", "aerger.vcf"}),
])
def test_match_types(dav, book, people, match_type, text, expected):
    assert search(dav, book, prop_filter("FN", text_match(text, match_type=match_type))) \
        == expected


@pytest.mark.parametrize("collation, text, expected", [
    ("i;unicode-casemap", "ärger", {"aerger.vcf"}),
    ("i;unicode-casemap", "ÄRGER", {"aerger.vcf"}),
    ("i;ascii-casemap", "ärger", set()),
    ("i;ascii-casemap", "Ärger", {"aerger.vcf"}),
    ("i;octet", "Ärger", set()),
    ("i;octet", "ÄRGER", {"aerger.vcf"}),
    ("i;octet", "gmbh", set()),
    ("i;ascii-casemap", "gmbh", {"aerger.vcf"}),
])
def test_collations(dav, book, people, collation, text, expected):
    assert search(dav, book, prop_filter("FN", text_match(text, collation=collation))) \
        == expected


def test_default_collation_is_unicode_casemap(dav, book, people):
    assert search(dav, book, prop_filter("FN", text_match("MÜLLER"))) == {"martin.vcf"}
    assert search(dav, book, prop_filter("FN", text_match("garci\u0301a"))) == {"marta.vcf"}


def test_negate_condition(dav, book, people):
    got = search(dav, book, prop_filter("FN", text_match("mar", negate_condition="yes")))
    assert got == ALL - {"martin.vcf", "marta.vcf"}
    # Per instance: Ada has an address that does not end in engine.example.
    got = search(dav, book, prop_filter("EMAIL", text_match(
        "engine.example", match_type="ends-with", negate_condition="yes")))
    assert got == {"ada.vcf", "martin.vcf", "marta.vcf"}


def test_is_not_defined_and_presence(dav, book, people):
    assert search(dav, book, prop_filter("EMAIL", "<C:is-not-defined/>")) \
        == {"aerger.vcf", "noemail.vcf"}
    assert search(dav, book, prop_filter("ORG")) == {"ada.vcf", "aerger.vcf"}
    assert search(dav, book, prop_filter("X-ABLABEL")) == {"marta.vcf"}


def test_param_filters(dav, book, people):
    work = '<C:param-filter name="TYPE">' + text_match("work", match_type="equals") \
        + "</C:param-filter>"
    assert search(dav, book, prop_filter("EMAIL", work)) == {"ada.vcf", "martin.vcf"}
    assert search(dav, book, prop_filter("TEL", work)) == {"martin.vcf"}
    # allof is per property instance: Ada's work address is not at home.example.
    assert search(dav, book, prop_filter("EMAIL", work, text_match("home.example"),
                                         test="allof")) == set()
    assert search(dav, book, prop_filter("EMAIL", work, text_match("home.example"),
                                         test="anyof")) == {"ada.vcf", "martin.vcf"}
    no_type = '<C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter>'
    assert search(dav, book, prop_filter("TEL", no_type)) == {"noemail.vcf"}
    assert search(dav, book, prop_filter("EMAIL", '<C:param-filter name="type"/>')) \
        == {"ada.vcf", "martin.vcf", "marta.vcf"}


def test_anyof_and_allof_at_filter_level(dav, book, people):
    ada = prop_filter("FN", text_match("ada"))
    cell = prop_filter("TEL", '<C:param-filter name="TYPE">'
                       + text_match("cell", match_type="equals") + "</C:param-filter>")
    no_email = prop_filter("EMAIL", "<C:is-not-defined/>")
    assert search(dav, book, ada, no_email) == {"ada.vcf", "aerger.vcf", "noemail.vcf"}
    assert search(dav, book, ada, no_email, test="anyof") \
        == {"ada.vcf", "aerger.vcf", "noemail.vcf"}
    assert search(dav, book, ada, no_email, test="allof") == set()
    assert search(dav, book, ada, cell, test="allof") == {"ada.vcf"}
    assert search(dav, book, prop_filter("FN", text_match("nobody")),
                  prop_filter("TEL"), test="allof") == {"noemail.vcf"}


def test_anyof_and_allof_at_prop_filter_level(dav, book, people):
    both = (text_match("mar"), text_match("müller"))
    assert search(dav, book, prop_filter("FN", *both)) == {"martin.vcf", "marta.vcf"}
    assert search(dav, book, prop_filter("FN", *both, test="allof")) == {"martin.vcf"}


def test_empty_filter_matches_every_card(dav, book, people):
    assert search(dav, book) == ALL


def test_query_on_an_empty_book(dav, book):
    r = dav.report(book, body(filt(prop_filter("FN", text_match("a")))), depth="1")
    assert r.status == 207
    assert r.responses() == {}
    r = dav.report(book, body(filt()), depth="1")
    assert r.status == 207 and r.responses() == {}


def test_deleted_cards_are_not_returned(dav, book, people):
    assert dav.request("DELETE", book + "marta.vcf").status == 204
    assert search(dav, book, prop_filter("FN", text_match("mar"))) == {"martin.vcf"}


# --- limits --------------------------------------------------------------------------------


def limited(n: int) -> str:
    return f"<C:limit><C:nresults>{n}</C:nresults></C:limit>"


def test_limit_truncates_with_507_for_the_book(dav, book, people):
    r = dav.report(book, body(filt(), extra=limited(2)), depth="1")
    got = names(r, book)
    assert len(got) == 2 and got <= ALL
    resp = r.responses()[book]
    assert resp.findtext("D:status", namespaces=NS) == "HTTP/1.1 507 Insufficient Storage"
    assert resp.find("D:error/D:number-of-matches-within-limits", NS) is not None
    # The book's response comes last, after the members that fit.
    assert r.xml().findall("D:response", NS)[-1].findtext("D:href", namespaces=NS) == book


def test_limit_counts_matches_not_cards(dav, book, people):
    fn_mar = filt(prop_filter("FN", text_match("mar")))
    r = dav.report(book, body(fn_mar, extra=limited(2)), depth="1")
    assert names(r, book) == {"martin.vcf", "marta.vcf"}
    assert book not in r.responses()
    r = dav.report(book, body(fn_mar, extra=limited(1)), depth="1")
    assert len(names(r, book)) == 1
    assert r.responses()[book].findtext("D:status", namespaces=NS).startswith("HTTP/1.1 507")


def test_limit_not_reached_has_no_507(dav, book, people):
    r = dav.report(book, body(filt(), extra=limited(50)), depth="1")
    assert names(r, book) == ALL
    assert book not in r.responses()


@pytest.mark.parametrize("value", ["0", "many"])
def test_bad_limit_is_400(dav, book, value):
    r = dav.report(book, body(filt(), extra=limited(value)), depth="1")
    assert r.status == 400


# --- errors --------------------------------------------------------------------------------


def test_unsupported_collation_is_403_supported_collation(dav, book, people):
    r = dav.report(book, body(filt(prop_filter("FN", text_match("a", collation="i;basic")))),
                   depth="1")
    assert r.status == 403
    assert r.condition() == f"{{{CARDDAV}}}supported-collation"


def test_unfilterable_property_name_is_403_supported_filter(dav, book):
    r = dav.report(book, body(filt(prop_filter("NOT A NAME"))), depth="1")
    assert r.status == 403
    assert r.condition() == f"{{{CARDDAV}}}supported-filter"


@pytest.mark.parametrize("payload", [
    "<C:addressbook-query xmlns:C='urn:ietf:params:xml:ns:carddav'><C:filter>",
    "not xml at all",
    "",
    body(""),  # no filter
    body(filt(prop_filter("FN", text_match("a", match_type="regex")))),
    body(filt(prop_filter("FN", text_match("a", negate_condition="perhaps")))),
    body(filt(prop_filter("FN", text_match("a"), test="some"))),
    body(filt(test="none")),
    body(filt(prop_filter("FN", "<C:is-not-defined/>", text_match("a")))),
])
def test_bad_requests_are_400(dav, book, payload):
    r = dav.report(book, payload, depth="1")
    assert r.status == 400, r.body


def test_foreign_cards_are_never_returned(server, dav, book, people):
    other = server.add_user()
    them = server.client(other)
    try:
        theirs = f"/dav/addressbooks/{other}/personal/"
        assert them.put_card(theirs + "m.vcf", make_card("other-martin", "Martin Other")
                             ).status == 201
        assert search(them, theirs, prop_filter("FN", text_match("martin"))) == {"m.vcf"}
        assert search(dav, book, prop_filter("FN", text_match("martin"))) == {"martin.vcf"}
        r = dav.report(theirs, body(filt()), depth="1")
        assert r.status in (403, 404), r.status
        assert b"other-martin" not in r.body
    finally:
        them.close()


# --- the narrowing never loses a match -----------------------------------------------------

LONG = "x" * 600 + " Martin"
VERY_LONG = "y" * 1200 + " Martin"  # too long for the folded FN column: read from the card
TRICKY = {
    "two-fn.vcf": vcard("two-fn", "FN:Zed Zulu", "FN;LANGUAGE=de:Martin Zweiter", version="4.0"),
    "folded-name.vcf": vcard("folded-name", "FN:Zed", "F\r\n N:Martin Folded", version="4.0"),
    "grouped-fn.vcf": vcard("grouped-fn", "FN:Yan", "g1.FN:Martina Gruppe", version="4.0"),
    "folded-value.vcf": vcard("folded-value", "FN:Mar\r\n tin Gefaltet"),
    "accent.vcf": vcard("accent", "FN:M\u00e1rtin Acute"),
    "fullwidth.vcf": vcard("fullwidth", "FN:ＭＡＲＴＩＮ Breit"),
    "sharp-s.vcf": vcard("sharp-s", "FN:Hauptstraße"),
    "strasse.vcf": vcard("strasse", "FN:STRASSE"),
    "kelvin.vcf": vcard("kelvin", "FN:\u212aLAUS"),  # Kelvin sign folds to k
    "long.vcf": vcard("long", f"FN:{LONG}"),
    "very-long.vcf": vcard("very-long", f"FN:{VERY_LONG}"),
    "spaces.vcf": vcard("spaces", "FN:  Padded Martin  "),
    "nbsp.vcf": vcard("nbsp", "FN:\u00a0Martin\u00a0"),
    "empty-fn.vcf": vcard("empty-fn", "FN:", "N:Martin;Empty;;;"),
    "no-fn.vcf": vcard("no-fn", "N:Martin;Kein;;;", version="4.0"),
    "qp.vcf": vcard("qp", "FN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:M=C3=A1rtin QP",
                    "N:QP;M;;;", version="2.1"),
    "escaped.vcf": vcard("escaped", r"FN:Mar\,tin\; O\\Brien", "NOTE:mart\\nin"),
    "underscore.vcf": vcard("underscore", "FN:100% mar_tin"),
    "turkish.vcf": vcard("turkish", "FN:MARTIN IŞIK"),
    "plain.vcf": vcard("plain", "FN:Martin Plain", "EMAIL:a@b.example",
                       "EMAIL;TYPE=work:martin@second.example"),
    "other.vcf": vcard("other", "FN:Nobody Here", "NOTE:martin is mentioned"),
    "lower-fn.vcf": vcard("lower-fn", "FN:Zed", "fn:Martin Lower", version="4.0"),
    # A second FN folded inside its name, with each line break the parser accepts.
    "lf-tab.vcf": "BEGIN:VCARD\nVERSION:4.0\nUID:lf-tab\nFN:Zed\nf\n\tn:Martin Lf\nEND:VCARD\n",
    "cr-only.vcf": "BEGIN:VCARD\rVERSION:4.0\rUID:cr-only\rFN:Zed\rF\r N:Martin Cr\rEND:VCARD\r",
    "ios-crcrlf.vcf": vcard("ios-crcrlf", "FN:Zed", "F\r\r\n N:Martin Ios", version="4.0"),
    "crlf-tab.vcf": vcard("crlf-tab", "FN:Zed", "F\r\n\tN:Martin Tab", version="4.0"),
    "lf-space.vcf": "BEGIN:VCARD\nVERSION:4.0\nUID:lf-space\nFN:Zed\nF\n N:Martin\nEND:VCARD\n",
    "cr-tab.vcf": "BEGIN:VCARD\rVERSION:4.0\rUID:cr-tab\rFN:Zed\rF\r\tN:Martin\rEND:VCARD\r",
}
NEEDLES = ["martin", "mart", "MARTIN", "á", "a\u0301r", "ｍａｒ", "straße", "strasse", "ss",
           "klaus", "x" * 10, "padded martin", "  padded", "martin ", "mar,tin", "o\\brien",
           "100%", "mar_tin", "%", "_", "ışık", "isik", "i", "zweiter", "martin folded",
           "martina gruppe", "gefaltet", "empty", "mártin qp", "breit"]


@pytest.fixture
def tricky(dav, book) -> dict[str, str]:
    put_all(dav, book, TRICKY)
    return TRICKY


def test_narrowing_never_loses_a_match(dav, book, tricky):
    """Every FN (the SQL-narrowed property) and EMAIL/NOTE query answers exactly what
    the exact evaluator says about each stored card."""
    parsed = {name: parse_card(text) for name, text in tricky.items()}
    checked = 0
    for needle in NEEDLES:
        for collation in ("i;unicode-casemap", "i;ascii-casemap", "i;octet"):
            for match_type in ("contains", "equals", "starts-with", "ends-with"):
                for prop in ("FN", "NOTE"):
                    f = filt(prop_filter(prop, text_match(needle, collation=collation,
                                                          match_type=match_type)))
                    flt = parse_filter(etree.fromstring(body(f).encode()))
                    expected = {n for n, c in parsed.items() if flt.matches(c)}
                    got = names(dav.report(book, body(f), depth="1"), book)
                    assert got == expected, (prop, needle, collation, match_type)
                    checked += bool(expected)
    assert checked > 100


MARTINS = {"two-fn.vcf", "folded-name.vcf", "grouped-fn.vcf", "folded-value.vcf", "long.vcf",
           "very-long.vcf",
           "spaces.vcf", "nbsp.vcf", "turkish.vcf", "plain.vcf", "fullwidth.vcf",
           "lower-fn.vcf", "lf-tab.vcf", "cr-only.vcf", "ios-crcrlf.vcf", "crlf-tab.vcf",
           "lf-space.vcf", "cr-tab.vcf"}


@pytest.mark.parametrize("needle, expected", [
    ("martin", MARTINS),
    ("mart", MARTINS),
    ("ma\u0301rtin", {"accent.vcf", "qp.vcf"}),  # NFKD: the accent follows its letter
    ("ss", {"sharp-s.vcf", "strasse.vcf"}),
    ("klaus", {"kelvin.vcf"}),
])
def test_known_answers_for_tricky_cards(dav, book, tricky, needle, expected):
    assert search(dav, book, prop_filter("FN", text_match(needle))) == expected


@pytest.mark.parametrize("test", ["anyof", "allof"])
def test_combined_fn_filters_answer_as_the_evaluator(dav, book, tricky, test):
    """Several FN prop-filters, negated text-matches and allof inside a prop-filter
    (decided on the folded FN column) answer exactly what the evaluator says."""
    parsed = {name: parse_card(text) for name, text in tricky.items()}
    cases = [
        prop_filter("FN", text_match("martin")) + prop_filter("FN", text_match("zed")),
        prop_filter("FN", text_match("martin", negate_condition="yes")),
        prop_filter("FN", text_match("mar"), text_match("tin", match_type="ends-with"),
                    test="allof"),
        prop_filter("FN", text_match("zed", match_type="equals", negate_condition="yes"))
        + prop_filter("FN", text_match("m", match_type="starts-with")),
    ]
    for case in cases:
        f = filt(case, test=test)
        flt = parse_filter(etree.fromstring(body(f).encode()))
        expected = {n for n, c in parsed.items() if flt.matches(c)}
        assert search(dav, book, case, test=test) == expected, case
