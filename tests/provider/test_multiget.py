"""addressbook-multiget (RFC 6352 §8.7) details: property subsets of address-data,
unknown and foreign hrefs, hrefs in every form clients send."""

from urllib.parse import quote

from tests.davclient import NS, make_card


def _multiget(dav, book, hrefs, address_data="<C:address-data/>", depth="1"):
    body = ('<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            f'<D:prop><D:getetag/>{address_data}</D:prop>'
            + "".join(f"<D:href>{h}</D:href>" for h in hrefs) + "</C:addressbook-multiget>")
    return dav.report(book, body, depth=depth)


def test_address_data_subset_keeps_named_properties_and_their_item_groups(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("sub-1", "Ada Lovelace", extra="NOTE:first\r\n  continued\r\n"
                     "item1.TEL:+44 1\r\nitem1.X-ABLabel:lab\r\nitem2.URL:https://x.example")
    assert dav.put_card(book + "sub-1.vcf", card).status == 201
    r = _multiget(dav, book, [book + "sub-1.vcf"],
                  '<C:address-data><C:prop name="TEL"/><C:prop name="NOTE"/></C:address-data>')
    assert r.status == 207
    data = r.prop(book + "sub-1.vcf", "C:address-data").text
    assert data == ("BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:first\r\n  continued\r\n"
                    "item1.TEL:+44 1\r\nitem1.X-ABLabel:lab\r\nEND:VCARD\r\n")


def test_whole_card_when_no_prop_is_named(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("whole-1", "Grace Hopper")
    dav.put_card(book + "whole-1.vcf", card)
    r = _multiget(dav, book, [book + "whole-1.vcf"])
    assert r.prop(book + "whole-1.vcf", "C:address-data").text == card


def test_unknown_and_foreign_hrefs_answer_404_without_content(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    other = server.add_user()
    other_client = server.client(other)
    other_book = f"/dav/addressbooks/{other}/personal/"
    assert other_client.put_card(other_book + "secret.vcf",
                                 make_card("secret", "Secret Person")).status == 201
    dav.put_card(book + "mine.vcf", make_card("mine", "Mine Person"))
    r = _multiget(dav, book, [book + "mine.vcf", book + "missing.vcf", other_book + "secret.vcf"])
    assert r.status == 207
    got = r.responses()
    assert got[book + "missing.vcf"].findtext("D:status", namespaces=NS) == \
        "HTTP/1.1 404 Not Found"
    assert got[other_book + "secret.vcf"].findtext("D:status", namespaces=NS) == \
        "HTTP/1.1 404 Not Found"
    assert "Secret Person" not in r.text
    assert "Mine Person" in r.text


def test_hrefs_absolute_encoded_and_decoded(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    name = "Jürgen M@x+&.vcf"
    assert dav.put_card(book + quote(name), make_card("jm", "Jürgen Max")).status == 201
    for href in (book + quote(name), server.base_url + book + quote(name),
                 book + name.replace("&", "&amp;")):
        for depth in ("0", "1", None):
            r = _multiget(dav, book, [href], depth=depth)
            assert r.status == 207, (href, depth)
            assert "Jürgen Max" in r.text, (href, depth)
