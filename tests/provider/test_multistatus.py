"""The hand-written multistatus of the REPORTs: card text reaches the client exactly,
line ends included (CLIENTS.md "vCard content": store and return the client's bytes;
vdirsyncer writes what multiget returns to disk)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from lxml import etree

from davcontacts.provider.multistatus import Multistatus, text_element
from tests.davclient import NS

ADDRESS_DATA = "{urn:ietf:params:xml:ns:carddav}address-data"


def parse_back(text: str, parser) -> str:
    ms = Multistatus()
    ms.response("/dav/x.vcf", [(ADDRESS_DATA, text_element(ADDRESS_DATA, text))], [])
    root = parser(ms.finish())
    return root.find(f".//{ADDRESS_DATA}").text


@pytest.mark.parametrize("parser", [etree.fromstring, ElementTree.fromstring],
                         ids=["lxml", "stdlib"])
@pytest.mark.parametrize("text", [
    "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n",
    "BEGIN:VCARD\nVERSION:3.0\nEND:VCARD\n",
    "old Mac\rline ends\r\r\n",
    "NOTE:a & b <c> ]]> \"q\" 'a' \t ☕ Ünïcödé\r\n",
])
def test_text_parses_back_exactly(text, parser):
    assert parse_back(text, parser) == text


def test_characters_xml_cannot_carry_are_left_out():
    text = "NOTE:bell\x07 vt\x0b esc\x1b \ufffe end\r\n"
    assert parse_back(text, etree.fromstring) == "NOTE:bell vt esc  end\r\n"


CRLF_CARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:crlf-1\r\nFN:Zoë Ångström\r\n"
             "N:Ångström;Zoë;;;\r\nitem1.EMAIL;type=INTERNET:z@example.com\r\n"
             "item1.X-ABLabel:_$!<Other>!$_\r\nNOTE:a & b\\nc\r\nEND:VCARD\r\n")
LF_CARD = "BEGIN:VCARD\nVERSION:4.0\nUID:lf-1\nFN:Jürgen\nN:;Jürgen;;;\nEND:VCARD\n"


@pytest.fixture
def cards(dav, user) -> tuple[str, dict[str, str]]:
    book = f"/dav/addressbooks/{user}/personal/"
    hrefs = {}
    for name, card in (("crlf.vcf", CRLF_CARD), ("lf.vcf", LF_CARD)):
        r = dav.put_card(book + name, card, {"If-None-Match": "*"})
        assert r.status == 201, r.text
        hrefs[book + name] = card
    return book, hrefs


def address_data(r) -> dict[str, str]:
    assert r.status == 207, r.text
    return {href: r.prop(href, "C:address-data").text for href in r.responses()
            if href.endswith(".vcf")}


def test_multiget_returns_the_stored_bytes(dav, cards):
    book, hrefs = cards
    body = ('<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            "<D:prop><D:getetag/><C:address-data/></D:prop>"
            + "".join(f"<D:href>{h}</D:href>" for h in hrefs) + "</C:addressbook-multiget>")
    r = dav.report(book, body)
    assert address_data(r) == hrefs
    assert b"&#13;\n" in r.body
    for href in hrefs:
        assert dav.request("GET", href).body.decode() == hrefs[href]


def test_sync_collection_address_data_keeps_line_ends(dav, cards):
    book, hrefs = cards
    body = ('<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            "<D:sync-token/><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/><C:address-data/></D:prop></D:sync-collection>")
    r = dav.report(book, body)
    assert address_data(r) == hrefs
    assert r.xml().findtext("D:sync-token", namespaces=NS)
