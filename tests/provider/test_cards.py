"""Cards over HTTP: GET/PUT/DELETE with their preconditions, byte-exact storage, the
history kept behind a soft delete, MOVE/COPY, and the book-level writes (PROPPATCH,
MKCOL) real clients make (RFC 4918, RFC 6352 §6.3, RFC 5689, CLIENTS.md "Writes")."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from tests.davclient import NS, make_card
from tests.provider.support import (
    CARDDAV,
    book_row,
    ctag,
    etag_header,
    multiget,
    proppatch,
    stored,
)


@pytest.fixture
def book(user) -> str:
    return f"/dav/addressbooks/{user}/personal/"


# --- GET, HEAD, PUT ------------------------------------------------------------------


def test_get_and_head_have_strong_etag_and_vcard_type(dav, book):
    card = make_card("get-1", "Ada Lovelace")
    r = dav.put_card(book + "get-1.vcf", card)
    assert r.status == 201
    etag = etag_header(r)

    r = dav.request("GET", book + "get-1.vcf")
    assert r.status == 200
    assert etag_header(r) == etag
    assert r.header("Content-Type").split(";")[0].strip() == "text/vcard"
    assert r.body == card.encode()
    assert int(r.header("Content-Length")) == len(card.encode())

    r = dav.request("HEAD", book + "get-1.vcf")
    assert r.status == 200
    assert etag_header(r) == etag
    assert r.header("Content-Type").split(";")[0].strip() == "text/vcard"
    assert r.body == b""


def test_put_creates_201_then_replaces_204_with_new_etag(dav, book):
    r = dav.put_card(book + "p.vcf", make_card("p-1", "Alan Turing"))
    assert r.status == 201
    first = etag_header(r)

    updated = make_card("p-1", "Alan M Turing")
    r = dav.put_card(book + "p.vcf", updated)
    assert r.status == 204
    second = etag_header(r)
    assert second != first

    r = dav.request("GET", book + "p.vcf")
    assert r.body == updated.encode()
    assert r.header("ETag") == second


APPLE_CARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//iOS 17.0//EN\r\n"
    "N:Müller;Jürgen;;;\r\n"
    "FN:Jürgen Müller\r\n"
    "ORG:Bäckerei Groß;\r\n"
    "item1.EMAIL;type=INTERNET;type=pref:juergen@example.com\r\n"
    "item1.X-ABLabel:_$!<Other>!$_\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+49 170 000000\r\n"
    "item2.ADR;type=HOME;type=pref:;;Straße 5;Köln;;50667;Deutschland\r\n"
    "item2.X-ABADR:de\r\n"
    "NOTE:A long note that a client folded because it is longer than seventy-fiv\r\n"
    " e octets\\, with an escaped comma and 日本語 text that goes on and on and on\r\n"
    "\t and a tab-folded continuation\r\n"
    "X-SOCIALPROFILE;type=twitter:https://twitter.com/example\r\n"
    "x-lowercase-custom;X-PARAM=\"quoted: value\":kept as is\r\n"
    "UID:9C1D7E1E-AAAA-4B5F-8C2B-DEADBEEF0001\r\n"
    "X-ABShowAs:PERSON\r\n"
    "END:VCARD\r\n"
)


@pytest.mark.parametrize("card", [
    pytest.param(APPLE_CARD, id="apple-crlf-groups-folded-nonascii"),
    pytest.param(make_card("lf-only", "Lf Only").replace("\r\n", "\n"), id="lf-line-ends"),
    pytest.param("\ufeff" + make_card("with-bom", "Bom Card"), id="utf8-bom"),
])
def test_stored_bytes_are_served_exactly(server, dav, book, user, card):
    data = card.encode("utf-8")
    r = dav.put_card(book + "exact.vcf", data)
    assert r.status == 201
    r = dav.request("GET", book + "exact.vcf")
    assert r.status == 200
    assert r.body == data
    row = stored(server, user, "exact.vcf")["contacts"][0]
    assert row.vcard.encode("utf-8") == data
    assert row.size == len(data)
    # Multiget returns the same text, line ends included (CR escaped as &#13;).
    r = multiget(dav, book, [book + "exact.vcf"])
    assert r.status == 207
    assert r.prop(book + "exact.vcf", "C:address-data").text == card


# --- Preconditions ---------------------------------------------------------------------


def test_if_none_match_star_on_existing_is_412(server, dav, book, user):
    card = make_card("inm-1", "Grace Hopper")
    r = dav.put_card(book + "inm.vcf", card, {"If-None-Match": "*"})
    assert r.status == 201
    r = dav.put_card(book + "inm.vcf", make_card("inm-1", "Grace B Hopper"),
                     {"If-None-Match": "*"})
    assert r.status == 412
    assert dav.request("GET", book + "inm.vcf").body == card.encode()
    assert len(stored(server, user, "inm.vcf")["revisions"]) == 1


def test_stale_if_match_is_412_for_put_and_delete(server, dav, book, user):
    r = dav.put_card(book + "stale.vcf", make_card("stale-1", "Old Name"))
    stale = etag_header(r)
    current = make_card("stale-1", "New Name")
    r = dav.put_card(book + "stale.vcf", current, {"If-Match": stale})
    assert r.status == 204
    fresh = etag_header(r)

    r = dav.put_card(book + "stale.vcf", make_card("stale-1", "Lost Update"), {"If-Match": stale})
    assert r.status == 412
    r = dav.request("DELETE", book + "stale.vcf", headers={"If-Match": stale})
    assert r.status == 412

    r = dav.request("GET", book + "stale.vcf")
    assert r.status == 200 and r.body == current.encode() and r.header("ETag") == fresh
    assert len(stored(server, user, "stale.vcf")["revisions"]) == 2


def test_matching_if_match_updates_and_deletes(dav, book):
    r = dav.put_card(book + "match.vcf", make_card("match-1", "Match One"))
    etag = etag_header(r)
    r = dav.put_card(book + "match.vcf", make_card("match-1", "Match Two"), {"If-Match": etag})
    assert r.status == 204
    etag = etag_header(r)
    r = dav.request("DELETE", book + "match.vcf", headers={"If-Match": etag})
    assert r.status == 204
    assert dav.request("GET", book + "match.vcf").status == 404


def test_if_match_on_missing_url_is_412_and_creates_nothing(server, dav, book, user):
    r = dav.put_card(book + "missing.vcf", make_card("missing-1", "Nobody"),
                     {"If-Match": '"0123456789abcdef"'})
    assert r.status == 412
    assert dav.request("GET", book + "missing.vcf").status == 404
    assert stored(server, user, "missing.vcf") == {"contacts": [], "revisions": [], "changes": []}
    # The UID stays free: the card was never created.
    assert dav.put_card(book + "other.vcf", make_card("missing-1", "Somebody")).status == 201


def test_if_match_star_needs_an_existing_card(server, dav, book, user):
    """RFC 7232 §3.1: If-Match: * matches any current representation."""
    r = dav.put_card(book + "star.vcf", make_card("star-1", "Star"), {"If-Match": "*"})
    assert r.status == 412
    assert stored(server, user, "star.vcf")["contacts"] == []
    dav.put_card(book + "star.vcf", make_card("star-1", "Star"))
    r = dav.put_card(book + "star.vcf", make_card("star-1", "Star Two"), {"If-Match": "*"})
    assert r.status == 204
    assert dav.request("DELETE", book + "star.vcf", headers={"If-Match": "*"}).status == 204


def test_get_if_none_match_with_current_etag_is_304(dav, book):
    etag = etag_header(dav.put_card(book + "cond.vcf", make_card("cond-1", "Cond Get")))
    r = dav.request("GET", book + "cond.vcf", headers={"If-None-Match": etag})
    assert r.status == 304
    assert r.body == b""
    r = dav.request("GET", book + "cond.vcf", headers={"If-None-Match": '"something-else"'})
    assert r.status == 200


# --- Delete, history, change log ---------------------------------------------------------


def test_delete_is_soft(server, dav, book, user):
    card = make_card("soft-1", "Soft Delete")
    dav.put_card(book + "soft.vcf", card)
    dav.put_card(book + "keep.vcf", make_card("keep-1", "Kept Card"))
    r = dav.request("DELETE", book + "soft.vcf")
    assert r.status == 204

    assert dav.request("GET", book + "soft.vcf").status == 404
    assert dav.request("DELETE", book + "soft.vcf").status == 404
    r = dav.propfind(book, ["D:getetag"], depth="1")
    assert book + "soft.vcf" not in r.responses()
    assert book + "keep.vcf" in r.responses()

    rows = stored(server, user, "soft.vcf")
    assert [c.state for c in rows["contacts"]] == ["deleted"]
    assert rows["contacts"][0].vcard.encode() == card.encode()
    assert [rev.action for rev in rows["revisions"]] == ["create", "delete"]
    assert [ch.removed for ch in rows["changes"]] == [False, True]

    # The name and the UID are free again.
    assert dav.put_card(book + "soft.vcf", make_card("soft-1", "Soft Again")).status == 201


def test_every_write_records_a_revision_and_a_change(server, dav, book, user):
    dav.put_card(book + "hist.vcf", make_card("hist-1", "Hist One"))
    dav.put_card(book + "hist.vcf", make_card("hist-1", "Hist Two"))
    rows = stored(server, user, "hist.vcf")
    assert [r.action for r in rows["revisions"]] == ["create", "update"]
    assert all(r.door == "dav" for r in rows["revisions"])
    assert rows["revisions"][-1].etag == rows["contacts"][0].etag
    assert [c.removed for c in rows["changes"]] == [False, False]

    r = dav.request("MOVE", book + "hist.vcf", headers={"Destination": book + "hist2.vcf"})
    assert r.status == 201
    assert [c.removed for c in stored(server, user, "hist.vcf")["changes"]] == [False, False, True]
    moved = stored(server, user, "hist2.vcf")
    assert [r.action for r in moved["revisions"]] == ["create", "update", "move"]
    assert [c.removed for c in moved["changes"]] == [False]

    dav.request("DELETE", book + "hist2.vcf")
    moved = stored(server, user, "hist2.vcf")
    assert [r.action for r in moved["revisions"]] == ["create", "update", "move", "delete"]
    assert [c.removed for c in moved["changes"]] == [False, True]


def test_identical_put_adds_no_revision_change_or_ctag(server, dav, book, user):
    card = make_card("same-1", "Same Bytes")
    etag = etag_header(dav.put_card(book + "same.vcf", card))
    before = ctag(dav, book)
    counts = {k: len(v) for k, v in stored(server, user, "same.vcf").items()}

    r = dav.put_card(book + "same.vcf", card)
    assert r.status == 204
    assert etag_header(r) == etag
    r = dav.put_card(book + "same.vcf", card, {"If-Match": etag})
    assert r.status == 204
    assert {k: len(v) for k, v in stored(server, user, "same.vcf").items()} == counts
    assert ctag(dav, book) == before


def test_uid_change_on_update_of_same_href(server, dav, book, user):
    """SyncEvolution replaces the UID of a card it updates."""
    dav.put_card(book + "se.vcf", make_card("client-uid-1", "Sync Evo"))
    replaced = make_card("syncevolution-uid-2", "Sync Evo")
    r = dav.put_card(book + "se.vcf", replaced)
    assert r.status == 204
    assert dav.request("GET", book + "se.vcf").body == replaced.encode()
    assert stored(server, user, "se.vcf")["contacts"][0].uid == "syncevolution-uid-2"
    # The old UID is free, the new one is taken.
    assert dav.put_card(book + "old-uid.vcf", make_card("client-uid-1", "Old Uid")).status == 201
    r = dav.put_card(book + "dup.vcf", make_card("syncevolution-uid-2", "Dup"))
    assert r.status == 409
    r = multiget(dav, book, [book + "se.vcf"])
    assert "syncevolution-uid-2" in r.prop(book + "se.vcf", "C:address-data").text


@pytest.mark.parametrize("name", [
    "with space.vcf", "a@b.vcf", "plus+sign.vcf", "Jürgen M@x+&.vcf", "6F1C-uuid-like.vcf",
    "no-extension", "semi;colon,comma.vcf",
])
def test_any_resource_name_is_kept(dav, book, name):
    path = book + name
    card = make_card("name-" + quote(name, safe=""), "Named Card")
    r = dav.put_card(quote(path), card)
    assert r.status == 201, r.text
    r = dav.request("GET", quote(path))
    assert r.status == 200 and r.body == card.encode()

    r = dav.propfind(book, ["D:getetag"], depth="1")
    hrefs = [h.text for h in r.xml().iterfind("D:response/D:href", NS)]
    encoded = [h for h in hrefs if unquote(h) == path]
    assert len(encoded) == 1, hrefs
    href = encoded[0]
    assert href.isascii() and " " not in href and "&" not in href, href
    assert href.startswith(book)

    # The href as listed works for GET and multiget.
    assert dav.request("GET", href).body == card.encode()
    r = multiget(dav, book, [href])
    assert r.prop(path, "D:getetag") is not None
    assert dav.request("DELETE", href).status == 204


# --- MOVE / COPY ---------------------------------------------------------------------------


def test_move_card(server, dav, book):
    a = make_card("move-a", "Move A")
    dav.put_card(book + "a.vcf", a)
    dest = f"{server.base_url}{book}b.vcf"  # clients send an absolute URL
    r = dav.request("MOVE", book + "a.vcf", headers={"Destination": dest})
    assert r.status == 201
    assert dav.request("GET", book + "a.vcf").status == 404
    assert dav.request("GET", book + "b.vcf").body == a.encode()

    c = make_card("move-c", "Move C")
    dav.put_card(book + "c.vcf", c)
    r = dav.request("MOVE", book + "c.vcf", headers={"Destination": dest, "Overwrite": "T"})
    assert r.status == 204
    assert dav.request("GET", book + "b.vcf").body == c.encode()
    assert dav.request("GET", book + "c.vcf").status == 404
    # The card that was overwritten is gone, its UID free.
    assert dav.put_card(book + "a2.vcf", make_card("move-a", "Move A again")).status == 201

    d = make_card("move-d", "Move D")
    dav.put_card(book + "d.vcf", d)
    r = dav.request("MOVE", book + "d.vcf", headers={"Destination": dest, "Overwrite": "F"})
    assert r.status == 412
    assert dav.request("GET", book + "b.vcf").body == c.encode()
    assert dav.request("GET", book + "d.vcf").body == d.encode()


def test_copy_within_a_book_is_a_uid_conflict(server, dav, book, user):
    card = make_card("copy-1", "Copy Me")
    dav.put_card(book + "orig.vcf", card)
    r = dav.request("COPY", book + "orig.vcf", headers={"Destination": book + "copy.vcf"})
    assert r.status == 409
    assert r.condition() == f"{{{CARDDAV}}}no-uid-conflict"
    hrefs = [h.text for h in r.xml().iterfind(".//D:href", NS)]
    assert hrefs == [book + "orig.vcf"]
    assert dav.request("GET", book + "copy.vcf").status == 404
    assert stored(server, user, "copy.vcf")["contacts"] == []


def make_book(dav, user: str, slug: str) -> str:
    home = f"/dav/addressbooks/{user}/"
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            "</D:prop></D:set></D:mkcol>")
    r = dav.request("MKCOL", f"{home}{slug}/", body, {"Content-Type": "application/xml"})
    assert r.status == 201
    return f"{home}{slug}/"


def test_move_and_copy_between_books(server, dav, book, user):
    other = make_book(dav, user, "other")
    card = make_card("between-1", "Between Books")
    dav.put_card(book + "b.vcf", card)
    t_book, t_other = ctag(dav, book), ctag(dav, other)

    r = dav.request("COPY", book + "b.vcf", headers={"Destination": other + "b-copy.vcf"})
    assert r.status == 201
    assert dav.request("GET", other + "b-copy.vcf").body == card.encode()
    assert dav.request("GET", book + "b.vcf").body == card.encode()
    assert ctag(dav, book) == t_book and ctag(dav, other) != t_other

    # The UID is now taken in the other book: a MOVE there is a conflict.
    r = dav.request("MOVE", book + "b.vcf", headers={"Destination": other + "b.vcf"})
    assert r.status == 409
    assert r.condition() == f"{{{CARDDAV}}}no-uid-conflict"
    assert [h.text for h in r.xml().iterfind(".//D:href", NS)] == [other + "b-copy.vcf"]
    assert dav.request("GET", book + "b.vcf").status == 200

    dav.request("DELETE", other + "b-copy.vcf")
    t_book, t_other = ctag(dav, book), ctag(dav, other)
    r = dav.request("MOVE", book + "b.vcf", headers={"Destination": other + "b.vcf"})
    assert r.status == 201
    assert dav.request("GET", book + "b.vcf").status == 404
    assert dav.request("GET", other + "b.vcf").body == card.encode()
    assert ctag(dav, book) != t_book and ctag(dav, other) != t_other

    # A card goes only into a book, not into the plain part of the home.
    r = dav.request("MOVE", other + "b.vcf",
                    headers={"Destination": f"/dav/addressbooks/{user}/b.vcf"})
    assert r.status in (403, 409)
    assert dav.request("GET", other + "b.vcf").status == 200


def test_dead_properties_follow_a_moved_card_and_die_with_a_deleted_one(dav, book):
    ns = 'xmlns:X="http://example.com/ns/"'
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            f'{ns}><D:prop><X:color/></D:prop></D:propfind>')

    def color(path):
        r = dav.request("PROPFIND", path, body, {"Depth": "0"})
        el = r.prop(path, "{http://example.com/ns/}color")
        return None if el is None else el.text

    dav.put_card(book + "dp.vcf", make_card("dp-1", "Dead Props"))
    assert proppatch(dav, book + "dp.vcf", "<X:color>blue</X:color>", ns=ns).status == 207
    assert color(book + "dp.vcf") == "blue"
    assert dav.request("MOVE", book + "dp.vcf",
                       headers={"Destination": book + "dp2.vcf"}).status == 201
    assert color(book + "dp2.vcf") == "blue"

    assert dav.request("DELETE", book + "dp2.vcf").status == 204
    dav.put_card(book + "dp2.vcf", make_card("dp-1", "Dead Props Again"))
    assert color(book + "dp2.vcf") is None


# --- Sync state and listings ------------------------------------------------------------------


def test_ctag_and_sync_token_change_exactly_when_content_changes(dav, book):
    t0 = ctag(dav, book)
    assert ctag(dav, book) == t0
    etag = etag_header(dav.put_card(book + "ct.vcf", make_card("ct-1", "Ctag One")))
    t1 = ctag(dav, book)
    assert t1 != t0

    # Reads, refused writes and no-op writes leave it alone.
    dav.request("GET", book + "ct.vcf")
    dav.propfind(book, ["D:getetag"], depth="1")
    other = make_card("ct-1", "X")
    assert dav.put_card(book + "ct.vcf", other, {"If-Match": '"stale"'}).status == 412
    assert dav.put_card(book + "ct.vcf", other, {"If-None-Match": "*"}).status == 412
    assert dav.put_card(book + "bad.vcf", "BEGIN:VCARD\r\nEND:VCARD\r\n").status == 403
    assert dav.put_card(book + "ct.vcf", make_card("ct-1", "Ctag One")).status == 204
    assert dav.request("DELETE", book + "nothing.vcf").status == 404
    assert ctag(dav, book) == t1

    dav.put_card(book + "ct.vcf", make_card("ct-1", "Ctag Two"), {"If-Match": etag})
    t2 = ctag(dav, book)
    assert t2 not in (t0, t1)
    dav.request("MOVE", book + "ct.vcf", headers={"Destination": book + "ct2.vcf"})
    t3 = ctag(dav, book)
    assert t3 not in (t0, t1, t2)
    dav.request("DELETE", book + "ct2.vcf")
    assert ctag(dav, book) not in (t0, t1, t2, t3)


def test_propfind_depth1_lists_every_card_with_etag_and_type(dav, book):
    etags = {}
    for i in range(3):
        r = dav.put_card(f"{book}list-{i}.vcf", make_card(f"list-{i}", f"List {i}"))
        etags[f"{book}list-{i}.vcf"] = etag_header(r)
    r = dav.propfind(book, ["D:getetag", "D:getcontenttype", "D:resourcetype"], depth="1")
    assert r.status == 207
    responses = r.responses()
    assert set(responses) == {book, *etags}
    for href, etag in etags.items():
        assert r.prop(href, "D:getetag").text == etag
        assert r.prop(href, "D:getcontenttype").text.split(";")[0].strip() == "text/vcard"
        assert len(r.prop(href, "D:resourcetype")) == 0


# --- What particular clients write ---------------------------------------------------------


def test_thunderbird_puts_uid_vcf_in_vcard4_then_multigets(server, dav, book, user):
    uid = "5c2e1f0a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
    card = ("BEGIN:VCARD\r\nVERSION:4.0\r\nPRODID:-//Thunderbird//EN\r\n"
            "N:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\nEMAIL;PREF=1:ada@example.com\r\n"
            f"UID:{uid}\r\nEND:VCARD\r\n")
    href = f"{book}{uid}.vcf"
    r = dav.request("PUT", href, card, {"Content-Type": "text/vcard; charset=utf-8"})
    assert r.status == 201
    etag = etag_header(r)
    r = multiget(dav, book, [href])
    assert r.status == 207
    assert r.prop(href, "D:getetag").text == etag
    assert r.prop(href, "C:address-data").text == card
    assert stored(server, user, f"{uid}.vcf")["contacts"][0].version == "4.0"


VCARD_21 = ("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John\r\nFN:John Doe\r\n"
            "TEL;HOME;VOICE:555-1234\r\n"
            "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:J=C3=BCrgen=0D=0A=\r\nsecond line\r\n"
            "UID:v21-card\r\nEND:VCARD\r\n")
VCARD_40 = ("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:The Group\r\n"
            "MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af\r\n"
            "UID:urn:uuid:v40-group\r\nEND:VCARD\r\n")
VCARD_40_NO_FN = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:v40-no-fn\r\nEND:VCARD\r\n"


@pytest.mark.parametrize("card,version", [
    pytest.param(VCARD_21, "2.1", id="vcard-2.1-quoted-printable"),
    pytest.param(VCARD_40, "4.0", id="vcard-4.0-group"),
    pytest.param(VCARD_40_NO_FN, "4.0", id="vcard-4.0-without-fn"),
])
def test_vcard_21_and_40_bodies_are_accepted(server, dav, book, user, card, version):
    r = dav.put_card(book + "v.vcf", card)
    assert r.status == 201, r.text
    assert dav.request("GET", book + "v.vcf").body == card.encode()
    assert stored(server, user, "v.vcf")["contacts"][0].version == version


@pytest.mark.parametrize("content_type", [
    "text/x-vcard", "text/vcard;version=4.0", "TEXT/VCARD; charset=UTF-8", None,
])
def test_vcard_content_types_and_none_are_accepted(dav, book, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    card = make_card("ctype-1", "Content Type")
    r = dav.request("PUT", book + "ctype.vcf", card, headers)
    assert r.status == 201, r.text
    assert dav.request("GET", book + "ctype.vcf").body == card.encode()


def test_text_html_is_refused_with_supported_address_data(server, dav, book, user):
    r = dav.request("PUT", book + "html.vcf", make_card("html-1", "Html"),
                    {"Content-Type": "text/html"})
    assert r.status == 403
    assert r.condition() == f"{{{CARDDAV}}}supported-address-data"
    assert dav.request("GET", book + "html.vcf").status == 404
    assert stored(server, user, "html.vcf")["contacts"] == []


# --- PROPPATCH --------------------------------------------------------------------------------


def test_proppatch_book_displayname_and_description(server, dav, book, user):
    r = proppatch(dav, book,
                  "<D:displayname>Familie &amp; Freunde</D:displayname>"
                  "<C:addressbook-description>Alle Kontakte, äöü</C:addressbook-description>")
    assert r.status == 207
    for resp in r.xml().iterfind("D:response", NS):
        for ps in resp.iterfind("D:propstat", NS):
            assert ps.findtext("D:status", namespaces=NS) == "HTTP/1.1 200 OK"

    r = dav.propfind(book, ["D:displayname", "C:addressbook-description"])
    assert r.prop(book, "D:displayname").text == "Familie & Freunde"
    assert r.prop(book, "C:addressbook-description").text == "Alle Kontakte, äöü"
    row = book_row(server, user)
    assert (row.display_name, row.description) == ("Familie & Freunde", "Alle Kontakte, äöü")
    # And in the home listing.
    home = f"/dav/addressbooks/{user}/"
    r = dav.propfind(home, ["D:displayname"], depth="1")
    assert r.prop(book, "D:displayname").text == "Familie & Freunde"


def test_proppatch_unknown_dead_property_on_book_and_card(dav, book):
    dav.put_card(book + "dead.vcf", make_card("dead-1", "Dead Prop"))
    ns = 'xmlns:X="http://example.com/ns/"'
    for path in (book, book + "dead.vcf"):
        r = proppatch(dav, path, "<X:color>#ff0000</X:color>", ns=ns)
        assert r.status == 207, r.text
        status = r.xml().findtext("D:response/D:propstat/D:status", namespaces=NS)
        assert status == "HTTP/1.1 200 OK", r.text
        body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
                f'{ns}><D:prop><X:color/></D:prop></D:propfind>')
        r = dav.request("PROPFIND", path, body, {"Depth": "0"})
        assert r.status == 207
        value = r.responses()[path].find("D:propstat/D:prop/{http://example.com/ns/}color", NS)
        assert value is not None and value.text == "#ff0000", r.text

        r = proppatch(dav, path, remove_xml="<X:color/>", ns=ns)
        assert r.status == 207
        r = dav.request("PROPFIND", path, body, {"Depth": "0"})
        assert r.prop(path, "{http://example.com/ns/}color") is None


def test_apple_me_card_proppatch_on_home(dav, book, user):
    home = f"/dav/addressbooks/{user}/"
    dav.put_card(book + "me.vcf", make_card("me-1", "Me Myself"))
    r = proppatch(dav, home, f"<CS:me-card><D:href>{book}me.vcf</D:href></CS:me-card>")
    assert r.status == 207, r.text
    assert r.xml().findtext("D:response/D:propstat/D:status", namespaces=NS) == "HTTP/1.1 200 OK"
    r = dav.propfind(home, ["CS:me-card"])
    me = r.prop(home, "CS:me-card")
    assert me is not None and me.findtext("D:href", namespaces=NS) == book + "me.vcf"


# --- MKCOL, PROPFIND depth ----------------------------------------------------------------------


def test_extended_mkcol_creates_a_book(dav, user):
    home = f"/dav/addressbooks/{user}/"
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            "<D:displayname>Work Contacts</D:displayname>"
            "<C:addressbook-description>From the office</C:addressbook-description>"
            "</D:prop></D:set></D:mkcol>")
    r = dav.request("MKCOL", home + "work/", body, {"Content-Type": "application/xml"})
    assert r.status == 201, r.text

    r = dav.propfind(home, ["D:resourcetype", "D:displayname", "C:addressbook-description"],
                     depth="1")
    new = home + "work/"
    assert new in r.responses()
    assert r.prop(new, "D:resourcetype").find("C:addressbook", NS) is not None
    assert r.prop(new, "D:displayname").text == "Work Contacts"
    assert r.prop(new, "C:addressbook-description").text == "From the office"
    # It is a real book: cards go in.
    assert dav.put_card(new + "w.vcf", make_card("work-1", "Work One")).status == 201


def test_plain_mkcol_in_home_makes_a_plain_collection(dav, user):
    home = f"/dav/addressbooks/{user}/"
    r = dav.request("MKCOL", home + "files/")
    assert r.status == 201
    r = dav.propfind(home, ["D:resourcetype"], depth="1")
    rt = r.prop(home + "files/", "D:resourcetype")
    assert rt.find("D:collection", NS) is not None
    assert rt.find("C:addressbook", NS) is None


def test_mkcol_inside_a_book_is_403(dav, book):
    assert dav.request("MKCOL", book + "sub/").status == 403
    body = ('<?xml version="1.0"?>'
            f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            "</D:prop></D:set></D:mkcol>")
    r = dav.request("MKCOL", book + "nested/", body, {"Content-Type": "application/xml"})
    assert r.status == 403
    assert r.condition() == f"{{{CARDDAV}}}addressbook-collection-location-ok"
    r = dav.propfind(book, ["D:resourcetype"], depth="1")
    assert set(r.responses()) == {book}


def test_propfind_depth_infinity_is_403_finite_depth(dav, user):
    home = f"/dav/addressbooks/{user}/"
    r = dav.propfind(home, ["D:displayname"], depth="infinity")
    assert r.status == 403
    assert r.condition() == "{DAV:}propfind-finite-depth"


def test_locked_card_is_not_deleted_without_its_token(server, dav, user):
    """WsgiDAV checks only the parent's locks on DELETE; we check the target's too."""
    path = f"/dav/addressbooks/{user}/personal/locked.vcf"
    assert dav.put_card(path, make_card("locked", "Locked Person")).status == 201
    lock = dav.request("LOCK", path, '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
                       '</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
                       {"Content-Type": "application/xml", "Timeout": "Second-60"})
    assert lock.status == 200
    token = lock.header("Lock-Token").strip("<>")
    other = server.client(user)
    assert other.request("DELETE", path).status == 423
    assert other.request("DELETE", f"/dav/addressbooks/{user}/personal/").status in (403, 423)
    assert other.request("GET", path).status == 200
    assert other.request("DELETE", path, headers={"If": f"(<{token}>)"}).status == 204
    assert other.request("GET", path).status == 404
