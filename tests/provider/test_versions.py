"""Serving the vCard version a client can read (CLIENTS.md "vCard content"): cards go
out as stored unless the request asks for a version, or the client is Apple's, which
rejects 4.0; a converted variant has its own ETag, accepted back in If-Match."""

from tests.davclient import NS, make_card

APPLE_UA = "macOS/14.1 (23B74) AddressBookCore/2498.2.1"
CARD4 = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:v4-card\r\nFN:Acme Corp\r\nKIND:org\r\n"
         "ORG:Acme Corp\r\nTEL;TYPE=work;PREF=1:+1 555 0100\r\nitem1.EMAIL:hq@acme.example\r\n"
         "item1.X-ABLabel:Head office\r\nEND:VCARD\r\n")


def _put4(dav, user):
    path = f"/dav/addressbooks/{user}/personal/v4.vcf"
    r = dav.put_card(path, CARD4, {"Content-Type": "text/vcard; version=4.0"})
    assert r.status == 201
    return path, r.header("ETag")


def test_get_serves_stored_bytes_by_default(dav, user):
    path, etag = _put4(dav, user)
    r = dav.request("GET", path)
    assert r.body == CARD4.encode() and r.header("ETag") == etag
    assert "Accept" in r.header("Vary")


def test_accept_header_selects_the_version(dav, user):
    path, etag = _put4(dav, user)
    r = dav.request("GET", path, headers={"Accept": "text/vcard; version=3.0"})
    assert r.status == 200
    assert "VERSION:3.0\r\n" in r.text and "X-ABShowAs:COMPANY" in r.text
    assert "item1.X-ABLabel:Head office" in r.text
    assert r.header("ETag") != etag
    assert int(r.header("Content-Length")) == len(r.body)
    same = dav.request("GET", path, headers={"Accept": "text/vcard; version=4.0"})
    assert same.body == CARD4.encode() and same.header("ETag") == etag


def test_apple_clients_get_3_0_and_can_write_back_with_the_variant_etag(dav, user):
    path, stored_etag = _put4(dav, user)
    apple = {"User-Agent": APPLE_UA}
    r = dav.request("GET", path, headers=apple)
    assert "VERSION:3.0" in r.text
    variant = r.header("ETag")
    assert variant != stored_etag
    book = path.rsplit("/", 1)[0] + "/"
    listing = dav.request("PROPFIND", book, '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
                          '</D:prop></D:propfind>', {"Depth": "1", **apple})
    assert listing.prop(path, "D:getetag").text == variant
    edited = r.text.replace("FN:Acme Corp", "FN:Acme Corporation")
    put = dav.put_card(path, edited, {"If-Match": variant, **apple})
    assert put.status == 204
    assert dav.request("GET", path).text == edited


def test_stale_variant_etag_is_refused(dav, user):
    path, stored_etag = _put4(dav, user)
    apple = {"User-Agent": APPLE_UA}
    variant = dav.request("GET", path, headers=apple).header("ETag")
    dav.put_card(path, CARD4.replace("Acme Corp", "Acme Two"))
    r = dav.put_card(path, make_card("v4-card", "Late Writer"), {"If-Match": variant, **apple})
    assert r.status == 412


def test_multiget_address_data_version(dav, user):
    path, etag = _put4(dav, user)
    book = path.rsplit("/", 1)[0] + "/"
    three = make_card("v3-card", "Three Person")
    path3 = book + "v3.vcf"
    dav.put_card(path3, three)
    body = ('<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            '<D:prop><D:getetag/><C:address-data content-type="text/vcard" version="{v}"/>'
            f'</D:prop><D:href>{path}</D:href><D:href>{path3}</D:href></C:addressbook-multiget>')
    r = dav.report(book, body.format(v="3.0"), depth="1")
    assert "VERSION:3.0" in r.prop(path, "C:address-data").text
    assert r.prop(path, "D:getetag").text != etag
    assert r.prop(path3, "C:address-data").text == three
    r = dav.report(book, body.format(v="4.0"), depth="1")
    assert r.prop(path, "C:address-data").text == CARD4
    assert r.prop(path, "D:getetag").text == etag
    assert "VERSION:4.0" in r.prop(path3, "C:address-data").text
    assert r.xml().find("D:response/D:propstat/D:status", NS).text == "HTTP/1.1 200 OK"
