"""The real-world corpus over HTTP (issue 4, items 9 and 10): every card of
tests/data/vcards/ (iOS/macOS, Android/DAVx5, Thunderbird, Outlook, Google, Evolution,
sources in its README.md) is stored byte for byte by PUT and served back unchanged by GET,
with the PUT's ETag; served in the other version (Accept on GET, address-data version in a
multiget), then written back by a client of that version and read in the original one,
it keeps every field of item 9. Run on SQLite and PostgreSQL like every server test."""

from __future__ import annotations

import pytest

from davcontacts.vcard import detect_version, parse_card
from tests.provider.support import etag_header, multiget, stored
from tests.vcard.test_corpus import (
    CORPUS,
    CORPUS_IDS,
    assert_item9_kept,
    corpus_slug,
    item9,
    target_versions,
    with_uid,
)

CREATE = {"If-None-Match": "*"}
# The contact row's derived columns, which must not depend on the version stored.
COLUMNS = ("kind", "display_name", "given_name", "family_name", "middle_name", "prefix",
           "suffix", "org", "email", "phone", "city", "nickname", "title", "has_photo")


def _accept(version: str) -> dict[str, str]:
    return {"Accept": f"text/vcard; version={version}"}


@pytest.mark.parametrize("rel, index, data", CORPUS, ids=CORPUS_IDS)
def test_card_round_trips_through_the_server(server, rel: str, index: int, data: bytes):
    slug = corpus_slug(rel, index)
    card = with_uid(data, slug)
    version = detect_version(card)
    other, back_to = target_versions(version)
    source = item9(card)
    writer, reader = server.add_user(), server.add_user()
    first, second = server.client(writer), server.client(reader)
    try:
        # Item 10: stored as sent, GET gives the same bytes and the PUT's ETag.
        path = f"/dav/addressbooks/{writer}/personal/{slug}.vcf"
        put = first.put_card(path, card, CREATE)
        assert put.status == 201, put.text
        etag = etag_header(put)
        got = first.request("GET", path)
        assert got.status == 200
        assert got.body == card
        assert etag_header(got) == etag
        # A client of the other version reads it converted, with a variant ETag.
        converted = first.request("GET", path, headers=_accept(other))
        assert converted.status == 200
        assert detect_version(converted.body) == other
        assert etag_header(converted) != etag
        assert_item9_kept(source, item9(converted.body))
        # ... and writes it as its own card (another user's book: UIDs are per book),
        path2 = f"/dav/addressbooks/{reader}/personal/{slug}.vcf"
        put2 = second.put_card(path2, converted.body,
                               {**CREATE, "Content-Type": f"text/vcard; version={other}"})
        assert put2.status == 201, put2.text
        assert second.request("GET", path2).body == converted.body
        # ... which a client of the original version reads with every item-9 field intact.
        back = second.request("GET", path2, headers=_accept(back_to))
        assert back.status == 200
        assert detect_version(back.body) == back_to
        assert_item9_kept(source, item9(back.body))
        # Both rows list and search alike (kind, names, first email and phone, city).
        mine = stored(server, writer, f"{slug}.vcf")["contacts"]
        theirs = stored(server, reader, f"{slug}.vcf")["contacts"]
        assert [c.version for c in mine + theirs] == [version, other]
        parsed = parse_card(card)
        for column in COLUMNS:
            if column == "display_name" and parsed.first("FN") is None:
                continue  # a 2.1 or 4.0 card without FN gets one in 3.0
            if column in ("given_name", "family_name") and parsed.first("N") is None:
                continue  # ... and an N
            assert getattr(theirs[0], column) == getattr(mine[0], column), column
    finally:
        first.close()
        second.close()


# One card of each shape, stored in one book and fetched in one multiget as 4.0.
MULTIGET = [
    "corpus/apple/ios17-person.vcf#0",  # 3.0: item groups, labels, photo
    "corpus/apple/macos14-company.vcf#0",  # 3.0 company
    "corpus/apple/macos14-group.vcf#0",  # 3.0 Apple group
    "corpus/outlook/outlook365-export-21.vcf#0",  # 2.1
    "corpus/thunderbird/tb115-person.vcf#0",  # stored as 4.0: served as is
]


def test_multiget_serves_address_data_version_4(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    cards = {}
    for rel, index, data in CORPUS:
        if f"{rel}#{index}" in MULTIGET:
            slug = corpus_slug(rel, index)
            card = with_uid(data, slug)
            put = dav.put_card(book + slug + ".vcf", card, CREATE)
            assert put.status == 201, put.text
            cards[book + slug + ".vcf"] = (card, etag_header(put))
    assert len(cards) == len(MULTIGET)
    r = multiget(dav, book, list(cards), props=(
        '<D:getetag/><C:address-data content-type="text/vcard" version="4.0"/>'))
    assert r.status == 207
    assert len(r.responses()) == len(cards)
    for href, (card, etag) in cards.items():
        served = r.prop(href, "C:address-data").text.encode()
        assert detect_version(served) == "4.0"
        assert_item9_kept(item9(card), item9(served))
        if detect_version(card) == "4.0":
            assert served == card
            assert r.prop(href, "D:getetag").text == etag
        else:
            assert r.prop(href, "D:getetag").text != etag
            # The same variant as a GET asking for 4.0, with the same ETag.
            got = dav.request("GET", href, headers=_accept("4.0"))
            assert got.body == served
            assert got.header("ETag") == r.prop(href, "D:getetag").text
