"""The addressbook-query filter without a server: parsing the XML (RFC 6352 §10.5),
the exact evaluator on parsed cards, and the raw-text check, which may only ever keep
a card the evaluator would accept (checked on tricky cards and at random)."""

from __future__ import annotations

import random

import pytest
from lxml import etree
from wsgidav.dav_error import DAVError

from davcontacts.provider.reports.query import (
    Filter,
    ParamFilter,
    PropFilter,
    RawCard,
    TextMatch,
    _map_need,
    _raw_leaf,
    fold,
    necessary,
    parse_filter,
    parse_limit,
    raw_holds,
)
from davcontacts.vcard.parse import parse_card

C = "urn:ietf:params:xml:ns:carddav"


def card(*lines: str, version: str = "3.0", sep: str = "\r\n"):
    body = ["BEGIN:VCARD", f"VERSION:{version}", "UID:u-1", *lines, "END:VCARD"]
    return parse_card(sep.join(body) + sep)


def query(filter_xml: str, extra: str = "") -> etree._Element:
    return etree.fromstring(f'<C:addressbook-query xmlns:D="DAV:" xmlns:C="{C}">'
                            f"{filter_xml}{extra}</C:addressbook-query>")


def flt(filter_xml: str) -> Filter:
    return parse_filter(query(filter_xml))


def tm(text, match_type="contains", collation="i;unicode-casemap", negate=False):
    return TextMatch(text, collation, match_type, negate)


def one(name, *tests, test="anyof") -> Filter:
    texts = tuple(t for t in tests if isinstance(t, TextMatch))
    params = tuple(t for t in tests if isinstance(t, ParamFilter))
    return Filter("anyof", (PropFilter(name, test, False, texts, params),))


# --- parsing ------------------------------------------------------------------------


def test_defaults_follow_rfc_6352_10_5():
    f = flt('<C:filter><C:prop-filter name="fn"><C:text-match>x</C:text-match>'
            "</C:prop-filter></C:filter>")
    assert f.test == "anyof"
    pf = f.prop_filters[0]
    assert (pf.name, pf.test, pf.is_not_defined, pf.param_filters) == ("FN", "anyof", False, ())
    t = pf.text_matches[0]
    assert (t.text, t.collation, t.match_type, t.negate) == (
        "x", "i;unicode-casemap", "contains", False)


def test_full_filter_is_parsed():
    f = flt('<C:filter test="allof">'
            '<C:prop-filter name="EMAIL" test="allof">'
            '<C:text-match collation="i;octet" match-type="ends-with" negate-condition="yes">'
            "@x.org</C:text-match>"
            '<C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match>'
            "</C:param-filter>"
            '<C:param-filter name="PREF"><C:is-not-defined/></C:param-filter>'
            '<C:param-filter name="X-A"/>'
            "</C:prop-filter>"
            '<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>'
            "</C:filter>")
    assert f.test == "allof"
    email, nick = f.prop_filters
    assert email.text_matches == (TextMatch("@x.org", "i;octet", "ends-with", True),)
    assert email.param_filters == (ParamFilter("TYPE", False, tm("work", "equals")),
                                   ParamFilter("PREF", True), ParamFilter("X-A"))
    assert nick == PropFilter("NICKNAME", is_not_defined=True)


def test_foreign_namespace_elements_are_ignored():
    f = flt('<C:filter xmlns:X="urn:x"><X:hint/><C:prop-filter name="FN"><X:y/>'
            "</C:prop-filter></C:filter>")
    assert f.prop_filters == (PropFilter("FN"),)


@pytest.mark.parametrize("xml", [
    "",  # no filter
    "<C:filter/><C:filter/>",
    '<C:filter test="some"/>',
    "<C:filter><C:prop-filter/></C:filter>",
    '<C:filter><C:prop-filter name="FN" test="none"/></C:filter>',
    '<C:filter><C:prop-filter name="FN"><C:text-match match-type="regex">x</C:text-match>'
    "</C:prop-filter></C:filter>",
    '<C:filter><C:prop-filter name="FN"><C:text-match negate-condition="maybe">x'
    "</C:text-match></C:prop-filter></C:filter>",
    '<C:filter><C:prop-filter name="FN"><C:is-not-defined/><C:text-match>x</C:text-match>'
    "</C:prop-filter></C:filter>",
    '<C:filter><C:prop-filter name="FN"><C:param-filter name="TYPE"><C:is-not-defined/>'
    "<C:text-match>x</C:text-match></C:param-filter></C:prop-filter></C:filter>",
    '<C:filter><C:comp-filter name="VCARD"/></C:filter>',
    '<C:filter><C:prop-filter name="FN"><C:time-range/></C:prop-filter></C:filter>',
])
def test_malformed_filters_are_400(xml):
    with pytest.raises(DAVError) as exc:
        parse_filter(query(xml))
    assert exc.value.value == 400


def test_unsupported_collation_is_403_supported_collation():
    with pytest.raises(DAVError) as exc:
        flt('<C:filter><C:prop-filter name="FN"><C:text-match collation="i;basic">x'
            "</C:text-match></C:prop-filter></C:filter>")
    assert exc.value.value == 403
    assert exc.value.err_condition.condition_code == f"{{{C}}}supported-collation"


@pytest.mark.parametrize("name", ["item1 EMAIL", "X_FOO", "FN:"])
def test_property_names_the_server_cannot_filter_are_403_supported_filter(name):
    with pytest.raises(DAVError) as exc:
        flt(f'<C:filter><C:prop-filter name="{name}"/></C:filter>')
    assert exc.value.value == 403
    assert exc.value.err_condition.condition_code == f"{{{C}}}supported-filter"


def test_collation_names_are_case_insensitive():
    f = flt('<C:filter><C:prop-filter name="FN"><C:text-match collation="I;OCTET">x'
            "</C:text-match></C:prop-filter></C:filter>")
    assert f.prop_filters[0].text_matches[0].collation == "i;octet"


@pytest.mark.parametrize("extra, expected", [
    ("", None),
    ("<C:limit><C:nresults>5</C:nresults></C:limit>", 5),
    ("<D:limit><D:nresults>3</D:nresults></D:limit>", 3),
])
def test_limit(extra, expected):
    assert parse_limit(query("<C:filter/>", extra)) == expected


@pytest.mark.parametrize("value", ["0", "-1", "x", ""])
def test_bad_limit_is_400(value):
    with pytest.raises(DAVError) as exc:
        parse_limit(query("<C:filter/>", f"<C:limit><C:nresults>{value}</C:nresults></C:limit>"))
    assert exc.value.value == 400


# --- collations and match types ---------------------------------------------------------


def test_collations():
    assert fold("ÄRGER Ab", "i;unicode-casemap") == fold("ärger ab", "i;unicode-casemap")
    assert fold("ÄRGER", "i;ascii-casemap") != fold("ärger", "i;ascii-casemap")
    assert fold("ÄRGER Ab", "i;ascii-casemap") == "Ärger ab"
    assert fold("Straße", "i;unicode-casemap") == fold("STRASSE", "i;unicode-casemap")
    assert fold("Ab", "i;octet") == "Ab"


@pytest.mark.parametrize("match_type, text, expected", [
    ("equals", "ada lovelace", True),
    ("equals", "ada", False),
    ("contains", "LOVE", True),
    ("contains", "", True),
    ("starts-with", "ada", True),
    ("starts-with", "love", False),
    ("ends-with", "LACE", True),
    ("ends-with", "ada", False),
])
def test_match_types(match_type, text, expected):
    c = card("FN:Ada Lovelace")
    assert one("FN", tm(text, match_type)).matches(c) is expected
    assert one("FN", tm(text, match_type, negate=True)).matches(c) is not expected


@pytest.mark.parametrize("collation, text, expected", [
    ("i;unicode-casemap", "ärger", True),
    ("i;unicode-casemap", "ÄRGER", True),
    ("i;ascii-casemap", "ärger", False),
    ("i;ascii-casemap", "Ärger", True),
    ("i;ascii-casemap", "ÄrGeR", True),
    ("i;octet", "Ärger", False),
    ("i;octet", "ÄRGER", True),
])
def test_collation_on_non_ascii_text(collation, text, expected):
    c = card("FN:ÄRGER")
    assert one("FN", tm(text, "equals", collation)).matches(c) is expected


def test_unicode_casemap_decomposes():
    c = card("FN:José Ｍüller")  # fullwidth M
    assert one("FN", tm("jose\u0301 mu")).matches(c)
    assert one("FN", tm("JOSÉ M")).matches(c)


# --- properties, parameters, tests ---------------------------------------------------------


def test_any_instance_of_a_property_matches():
    c = card("FN:A", "EMAIL:first@example.com", "item2.EMAIL:second@corp.example")
    assert one("EMAIL", tm("@corp")).matches(c)
    assert one("EMAIL", tm("first", "starts-with")).matches(c)
    # Negation is per instance: the first address does not contain "@corp".
    assert one("EMAIL", tm("@corp", negate=True)).matches(c)
    assert not one("EMAIL", tm("@", negate=True)).matches(c)


def test_structured_and_escaped_values_match_as_whole_unescaped_text():
    c = card("FN:A", r"N:O\;Brien;Pat;;Dr.;", r"NOTE:one\, two\nthree", r"ORG:Acme\, Inc.;R&D")
    assert one("N", tm("o;brien;pat", "starts-with")).matches(c)
    assert one("N", tm("pat;;dr.;", "ends-with")).matches(c)
    assert one("NOTE", tm("one, two\nthree", "equals")).matches(c)
    assert one("ORG", tm("acme, inc.;r&d", "equals")).matches(c)
    assert not one("ORG", tm("acme", "equals")).matches(c)


def test_quoted_printable_values_are_decoded():
    c = card("FN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:J=C3=BCrgen", version="2.1")
    assert one("FN", tm("jürgen", "equals")).matches(c)


def test_folded_lines_are_unfolded():
    c = card("FN:Mar", " tin Folded", "EMAIL:a@b")
    assert one("FN", tm("martin folded", "equals")).matches(c)


def test_property_names_ignore_group_and_case():
    c = card("FN:A", "item1.email:x@y", "item1.X-ABLabel:home")
    assert one("EMAIL", tm("x@y", "equals")).matches(c)
    assert Filter(prop_filters=(PropFilter("X-ABLABEL"),)).matches(c)


def test_is_not_defined_and_empty_prop_filter():
    c = card("FN:A", "TEL:1")
    assert Filter(prop_filters=(PropFilter("EMAIL", is_not_defined=True),)).matches(c)
    assert not Filter(prop_filters=(PropFilter("TEL", is_not_defined=True),)).matches(c)
    assert Filter(prop_filters=(PropFilter("TEL"),)).matches(c)
    assert not Filter(prop_filters=(PropFilter("EMAIL"),)).matches(c)
    # A text-match on a missing property never matches, negated or not.
    assert not one("EMAIL", tm("x", negate=True)).matches(c)


def test_param_filters():
    c = card("FN:A", "EMAIL;TYPE=INTERNET,WORK:w@x", "EMAIL;TYPE=home;PREF=1:h@x",
             "TEL:123")
    work = ParamFilter("TYPE", text_match=tm("work", "equals"))
    assert one("EMAIL", work).matches(c)
    assert one("EMAIL", work, tm("w@", "starts-with"), test="allof").matches(c)
    # allof is per instance: the work address is not h@x.
    assert not one("EMAIL", work, tm("h@", "starts-with"), test="allof").matches(c)
    assert one("EMAIL", work, tm("h@", "starts-with"), test="anyof").matches(c)
    assert one("EMAIL", ParamFilter("PREF")).matches(c)
    assert one("EMAIL", ParamFilter("PREF", is_not_defined=True)).matches(c)  # the work one
    assert not one("TEL", ParamFilter("TYPE")).matches(c)
    assert one("TEL", ParamFilter("TYPE", is_not_defined=True)).matches(c)
    # Negated: no value of the parameter matches.
    not_work = ParamFilter("TYPE", text_match=tm("work", "equals", negate=True))
    assert one("EMAIL", not_work).matches(c)  # the home one
    c2 = card("FN:A", "EMAIL;TYPE=work;TYPE=home:w@x")
    assert not one("EMAIL", not_work).matches(c2)
    assert one("EMAIL", ParamFilter("TYPE", text_match=tm("home", "equals"))).matches(c2)


def test_param_filter_on_vcard21_bare_types_and_quoted_values():
    c = card("FN:A", "TEL;WORK;VOICE:1", 'ADR;LABEL="1 Main St, Town":;;1 Main St;Town;;;',
             version="2.1")
    assert one("TEL", ParamFilter("TYPE", text_match=tm("work", "equals"))).matches(c)
    assert one("ADR", ParamFilter("LABEL", text_match=tm("1 main st, town", "equals"))
               ).matches(c)


def test_param_values_are_rfc6868_decoded_in_vcard4():
    c = card("FN:A", "ADR;LABEL=\"a^'b^nc\":;;;;;;", version="4.0")
    assert one("ADR", ParamFilter("LABEL", text_match=tm('a"b\nc', "equals"))).matches(c)


def test_filter_anyof_allof_and_empty():
    c = card("FN:Ada", "EMAIL:ada@x")
    yes = PropFilter("FN", text_matches=(tm("ada"),))
    no = PropFilter("TEL")
    assert Filter("anyof", (yes, no)).matches(c)
    assert not Filter("allof", (yes, no)).matches(c)
    assert Filter("allof", (yes, PropFilter("EMAIL"))).matches(c)
    assert Filter("anyof", ()).matches(c)
    assert Filter("allof", ()).matches(c)


def test_prop_filter_test_combines_text_matches():
    c = card("FN:Ada Lovelace")
    assert one("FN", tm("ada"), tm("zzz"), test="anyof").matches(c)
    assert not one("FN", tm("ada"), tm("zzz"), test="allof").matches(c)
    assert one("FN", tm("ada"), tm("lace"), test="allof").matches(c)


# --- the raw-text check never drops a match ----------------------------------------------


def raw_keeps(f: Filter, text: str) -> bool:
    return raw_holds(_map_need(necessary(f), _raw_leaf), RawCard(text))


def test_raw_check_drops_cards_without_the_text():
    text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:Ada\r\nEND:VCARD\r\n"
    assert not raw_keeps(one("FN", tm("bob")), text)
    assert raw_keeps(one("FN", tm("ADA")), text)
    assert raw_keeps(one("FN", tm("bob", negate=True)), text)
    assert raw_keeps(one("FN", ParamFilter("TYPE")), text)


TRICKY = [
    "FN:Mar\r\n tin",                       # folded inside the needle
    "FN:Mar\n\ttin",                        # LF and tab fold
    "FN:Mar\r\r\n tin",                     # iOS CR CR LF
    "FN:Mar\r tin",                         # CR only
    r"FN:Mar\tin",                          # any \x unescapes to x
    r"FN:O\,Mar\;tin\\",                    # escaped separators, trailing escaped backslash
    "FN:Ma\\\r\n rtin",                     # an escape split by a fold
    "FN;ENCODING=QUOTED-PRINTABLE:M=61rtin",
    "FN;ENCODING=QUOTED-PRI\r\n NTABLE:M=61rtin",
    "FN:M\u00e1rtin",                       # decomposes to a + combining accent
    "FN:MARTIN\u0130",                      # dotted capital I folds to two characters
    "FN:ＭＡＲＴＩＮ",                         # fullwidth
    "FN:Stra\u00dfe",
    "FN:x\r\nF\r\n N:Martin",               # a second FN, folded in its name
    "NOTE:ends with a backslash\\",
]


@pytest.mark.parametrize("line", TRICKY)
@pytest.mark.parametrize("needle", ["mart", "martin", "a\u0301r", "mar,tin", "in\\", "o,mar;",
                                    "strasse", "ss", "ma\\rtin", "martin\u0307", "n", "ＭＡ"])
@pytest.mark.parametrize("collation", ["i;unicode-casemap", "i;ascii-casemap", "i;octet"])
def test_raw_check_keeps_every_match(line, needle, collation):
    version = "2.1" if "QUOTED" in line else "3.0"
    text = f"BEGIN:VCARD\r\nVERSION:{version}\r\nUID:1\r\nFN:x\r\n{line}\r\nEND:VCARD\r\n"
    parsed = parse_card(text)
    for match_type in ("equals", "contains", "starts-with", "ends-with"):
        for prop in ("FN", "NOTE"):
            f = one(prop, tm(needle, match_type, collation))
            if f.matches(parsed):
                assert raw_keeps(f, text), (match_type, prop)


def test_raw_check_keeps_every_match_at_random():
    rng = random.Random(6352)
    alphabet = ["a", "A", "b", "ä", "Ä", "ß", "s", "S", "\\", ",", ";", ":", " ", "é",
                "e\u0301", "ﬁ", "f", "i", "^", '"', "=", "n"]
    checked = 0
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        value = value.replace("\\\\", "\\")
        if value.endswith(("\\",)) and rng.random() < 0.5:
            value += "x"
        raw_value = value
        pos = rng.randint(0, len(raw_value))
        if rng.random() < 0.5:  # fold somewhere
            raw_value = raw_value[:pos] + rng.choice(["\r\n ", "\n\t", "\r\r\n "]) + raw_value[pos:]
        line = f"{rng.choice(['FN', 'item1.FN', 'NOTE'])}:{raw_value}"
        text = f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:x\r\n{line}\r\nEND:VCARD\r\n"
        try:
            parsed = parse_card(text)
        except Exception:
            continue
        start = rng.randint(0, len(value))
        needle = value[start:start + rng.randint(1, 4)] or "a"
        for collation in ("i;unicode-casemap", "i;ascii-casemap", "i;octet"):
            for match_type in ("equals", "contains", "starts-with", "ends-with"):
                for prop in ("FN", "NOTE"):
                    f = one(prop, tm(needle, match_type, collation))
                    if f.matches(parsed):
                        checked += 1
                        assert raw_keeps(f, text), (text, needle, collation, match_type)
    assert checked > 1000
