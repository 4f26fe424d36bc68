"""sync-collection (RFC 6578): initial and incremental syncs from the change log,
removed members, truncation with a continuable token, and token errors."""

from tests.davclient import NS, make_card


def sync(dav, book, token="", limit=None, props="<D:getetag/>", level="1", depth=None):
    lim = f"<D:limit><D:nresults>{limit}</D:nresults></D:limit>" if limit else ""
    body = ('<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>{level}</D:sync-level>"
            f"{lim}<D:prop>{props}</D:prop></D:sync-collection>")
    return dav.report(book, body, depth=depth)


def members(r):
    """{href: status} of the member responses, and the new token."""
    out = {}
    for href, resp in r.responses().items():
        status = resp.findtext("D:status", namespaces=NS)
        out[href] = status.split()[1] if status else "200"
    return out, r.xml().findtext("D:sync-token", namespaces=NS)


def test_initial_then_incremental_reports_only_changes(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    for i in range(5):
        assert dav.put_card(f"{book}c{i}.vcf", make_card(f"c{i}", f"Card {i}")).status == 201
    got, token = members(sync(dav, book))
    assert got == {f"{book}c{i}.vcf": "200" for i in range(5)}
    # no change: nothing listed, same token
    got2, token2 = members(sync(dav, book, token))
    assert got2 == {} and token2 == token
    dav.put_card(f"{book}c1.vcf", make_card("c1", "Card One Edited"))
    dav.request("DELETE", f"{book}c2.vcf")
    dav.put_card(f"{book}new.vcf", make_card("new", "New Card"))
    got3, token3 = members(sync(dav, book, token))
    assert got3 == {f"{book}c1.vcf": "200", f"{book}c2.vcf": "404", f"{book}new.vcf": "200"}
    assert token3 != token
    # a removed member comes back with only href and status (no propstat)
    r = sync(dav, book, token)
    assert r.responses()[f"{book}c2.vcf"].find("D:propstat", NS) is None


def test_token_and_ctag_move_exactly_with_content(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"

    def ctag():
        r = dav.propfind(book, ["CS:getctag", "D:sync-token"])
        assert r.prop(book, "CS:getctag").text == r.prop(book, "D:sync-token").text
        return r.prop(book, "CS:getctag").text

    start = ctag()
    card = make_card("same", "Same Card")
    dav.put_card(book + "same.vcf", card)
    after_put = ctag()
    assert after_put != start
    dav.put_card(book + "same.vcf", card)  # identical bytes: not a change
    assert ctag() == after_put
    dav.request("PROPPATCH", book, '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                '<D:displayname>Renamed</D:displayname></D:prop></D:set></D:propertyupdate>')
    assert ctag() == after_put  # book properties are not member content
    dav.request("DELETE", book + "same.vcf")
    assert ctag() != after_put


def test_limit_truncates_with_507_and_a_token_that_continues(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    _, token = members(sync(dav, book))
    names = [f"{book}t{i}.vcf" for i in range(7)]
    for i, href in enumerate(names):
        dav.put_card(href, make_card(f"t{i}", f"Trunc {i}"))
    seen = set()
    for _ in range(10):
        r = sync(dav, book, token, limit=3)
        assert r.status == 207
        got, token = members(r)
        truncated = got.pop(book, None) == "507"
        assert len(got) <= 3
        seen |= set(got)
        if not truncated:
            break
    assert seen == set(names)
    assert members(sync(dav, book, token))[0] == {}


def test_initial_sync_over_limit_is_refused_with_507(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    for i in range(3):
        dav.put_card(f"{book}i{i}.vcf", make_card(f"i{i}", f"Init {i}"))
    r = sync(dav, book, limit=2)
    assert r.status == 507
    assert r.condition() == "{DAV:}number-of-matches-within-limits"


def test_unknown_foreign_and_future_tokens_get_valid_sync_token(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    other = server.add_user()
    other_dav = server.client(other)
    other_book = f"/dav/addressbooks/{other}/personal/"
    _, foreign = members(sync(other_dav, other_book))
    _, mine = members(sync(dav, book))
    future = mine.rsplit(":", 1)[0] + ":999999999999"
    for token in ("garbage", "http://example.com/sync/1", foreign, future):
        r = sync(dav, book, token)
        assert r.status == 400, token
        assert r.condition() == "{DAV:}valid-sync-token", token


def test_depth_and_sync_level(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "d.vcf", make_card("d", "Depth Card"))
    for depth in ("0", "1", None):
        assert book + "d.vcf" in members(sync(dav, book, depth=depth))[0]
    assert book + "d.vcf" in members(sync(dav, book, level="infinite"))[0]
    assert sync(dav, book, level="2").status == 400


def test_address_data_inside_sync_collection(dav, user):
    """Thunderbird asks for address-data inside sync-collection."""
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("ad", "Address Data")
    dav.put_card(book + "ad.vcf", card)
    r = sync(dav, book, props="<D:getetag/><C:address-data/>")
    assert r.prop(book + "ad.vcf", "C:address-data").text == card
