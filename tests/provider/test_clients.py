"""What each real client sends, request for request (CLIENTS.md "Discovery",
"Response shape", "Writes", and the sync requests those sections rely on).
test_discovery.py covers the plain discovery chain; this file covers the rest.

Not here: a read-only (group) book answering writes with 403 DAV:need-privileges
needs a group book fixture (issue 5)."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import quote, urljoin, urlparse

import pytest

from tests.davclient import NS, Response, make_card
from tests.provider.support import CARDDAV, book_row, counts, etag_header, multiget, stored

PRINCIPAL_PROPFIND = ('<?xml version="1.0" encoding="utf-8"?>'
                      '<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>')
CARD_CONTENT = "text/vcard"


@pytest.fixture
def book(user) -> str:
    return f"/dav/addressbooks/{user}/personal/"


def fill(dav, book: str, n: int, prefix: str = "c") -> dict[str, str]:
    """n cards in the book; returns {href: etag}."""
    out = {}
    for i in range(n):
        href = f"{book}{prefix}{i:03d}.vcf"
        r = dav.put_card(href, make_card(f"{prefix}-{i:03d}", f"Card {prefix}{i:03d}"))
        assert r.status == 201
        out[href] = etag_header(r)
    return out


def follow(dav, method: str, path: str, body: str | None, headers: dict[str, str],
           *, auth: bool = True, limit: int = 5):
    """Send a request and follow redirects keeping the method and body, as DAVx5
    (okhttp keeps PROPFIND across redirects) and Thunderbird do."""
    for _ in range(limit):
        r = dav.request(method, path, body, headers, auth=auth)
        if r.status not in (301, 302, 303, 307, 308):
            return r, path
        location = r.header("Location")
        assert location, f"{r.status} without Location on {path}"
        path = urlparse(urljoin(f"http://127.0.0.1{path}", location)).path
    raise AssertionError(f"too many redirects from {path}")


def statuses(response_el) -> list[str]:
    return [s.text for s in response_el.iterfind("D:propstat/D:status", NS)]


def sync_collection(dav, book: str, token: str, props: str, depth: str | None) -> object:
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<sync-collection xmlns="DAV:" xmlns:CARD="{CARDDAV}">'
            + (f"<sync-token>{token}</sync-token>" if token else "<sync-token/>")
            + f"<sync-level>1</sync-level><prop>{props}</prop></sync-collection>")
    return dav.report(book, body, depth=depth)


def token_of(r) -> str:
    return r.xml().findtext("D:sync-token", namespaces=NS)


# --- Discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dav/", "/dav/principals/", "/dav/addressbooks/{user}/",
                                  "/dav/addressbooks/{user}/personal/"])
def test_ios_first_request_without_credentials_gets_basic_challenge(server, user, path):
    """iOS and SyncEvolution send their first request (to whatever URL the user
    typed) without credentials; the answer must be a Basic challenge, never a
    multistatus with a DAV:unauthenticated principal (DAVx5 gives up on that)."""
    c = server.client()
    r = c.request("PROPFIND", path.format(user=user), PRINCIPAL_PROPFIND, {"Depth": "0"},
                  auth=False)
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Basic realm=")
    assert b"unauthenticated" not in r.body and b"multistatus" not in r.body
    c.close()


@pytest.mark.parametrize("start", ["/.well-known/carddav", "/"])
def test_ios_discovery_without_credentials_ends_in_basic_challenge(server, start):
    c = server.client()
    r, path = follow(c, "PROPFIND", start, PRINCIPAL_PROPFIND, {"Depth": "0"}, auth=False)
    assert path == "/dav/"
    assert r.status == 401 and r.header("WWW-Authenticate").startswith("Basic realm=")
    c.close()


@pytest.mark.parametrize("start", ["/.well-known/carddav/", "/.well-known/carddav"])
def test_outlook_propfind_on_well_known_reaches_the_principal(dav, user, start):
    """Outlook's add-in sends PROPFIND to /.well-known/carddav/ (with the slash)."""
    r, path = follow(dav, "PROPFIND", start, PRINCIPAL_PROPFIND, {"Depth": "0"})
    assert r.status == 207, (path, r.status)
    principal = r.prop(path, "D:current-user-principal").findtext("D:href", namespaces=NS)
    assert principal == f"/dav/principals/{user}/"


def test_propfind_on_server_root_leads_to_current_user_principal(dav, user):
    """Thunderbird and DAVx5 try PROPFIND on `/` when the user types only the host."""
    r, path = follow(dav, "PROPFIND", "/", PRINCIPAL_PROPFIND, {"Depth": "0"})
    assert r.status == 207, (path, r.status, r.header("Content-Type"))
    principal = r.prop(path, "D:current-user-principal").findtext("D:href", namespaces=NS)
    assert principal == f"/dav/principals/{user}/"


@pytest.mark.parametrize("path", ["/dav", "/dav/", "/dav/principals/{user}/",
                                  "/dav/addressbooks/", "/dav/addressbooks/{user}/",
                                  "/dav/addressbooks/{user}/personal/",
                                  "/dav/addressbooks/{user}/personal"])
def test_any_typed_dav_url_answers_current_user_principal(dav, user, path):
    """DAVx5 and Thunderbird PROPFIND whatever URL the user typed (a book URL, the
    home, the principal) for current-user-principal."""
    r, final = follow(dav, "PROPFIND", path.format(user=user), PRINCIPAL_PROPFIND,
                      {"Depth": "0"})
    assert r.status == 207
    (resp,) = r.responses().values()
    cup = resp.find("D:propstat/D:prop/D:current-user-principal", NS)
    assert cup is not None, r.text
    assert cup.findtext("D:href", namespaces=NS) == f"/dav/principals/{user}/"


def test_davx5_needs_addressbook_in_dav_header_on_home_and_card(dav, user, book):
    dav.put_card(book + "opt.vcf", make_card("opt-1", "Options"))
    for path in (f"/dav/addressbooks/{user}/", book + "opt.vcf", f"/dav/principals/{user}/"):
        r = dav.request("OPTIONS", path)
        assert r.status == 200, path
        classes = [c.strip() for c in r.header("DAV").split(",")]
        assert "addressbook" in classes
        assert "calendar-access" not in classes and "calendar-schedule" not in classes
        allow = [m.strip() for m in r.header("Allow").split(",")]
        assert "MKCALENDAR" not in allow and "PROPFIND" in allow


def test_advertised_extended_mkcol_works(dav, user):
    """Don't advertise what you don't do: extended-mkcol in DAV means an RFC 5689
    MKCOL with a body creates a book."""
    home = f"/dav/addressbooks/{user}/"
    classes = [c.strip() for c in dav.request("OPTIONS", home).header("DAV").split(",")]
    if "extended-mkcol" not in classes:
        return
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<mkcol xmlns="DAV:" xmlns:C="{CARDDAV}"><set><prop>'
            "<resourcetype><collection/><C:addressbook/></resourcetype>"
            "</prop></set></mkcol>")
    r = dav.request("MKCOL", home + "advertised/", body, {"Content-Type": "application/xml"})
    assert r.status == 201


def test_principal_propfind_has_what_davx5_follows(dav, user):
    principal = f"/dav/principals/{user}/"
    r = dav.propfind(principal, ["D:displayname", "D:resourcetype", "C:addressbook-home-set",
                                 "D:group-membership", "D:principal-URL"])
    assert r.status == 207
    assert statuses(r.responses()[principal]) == ["HTTP/1.1 200 OK"], r.text
    assert r.prop(principal, "D:displayname").text
    assert r.prop(principal, "D:group-membership") is not None


def test_home_depth1_gives_every_book_a_displayname_and_description(dav, user):
    """A book made without a displayname still lists one (Thunderbird and Outlook
    show it as the book's name), and every book answers addressbook-description."""
    home = f"/dav/addressbooks/{user}/"
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            "</D:prop></D:set></D:mkcol>")
    assert dav.request("MKCOL", home + "unnamed/", body,
                       {"Content-Type": "application/xml"}).status == 201
    r = dav.propfind(home, ["D:resourcetype", "D:displayname", "D:owner",
                            "D:current-user-privilege-set", "C:addressbook-description"],
                     depth="1")
    books = [href for href, el in r.responses().items()
             if el.find("D:propstat/D:prop/D:resourcetype/C:addressbook", NS) is not None]
    assert sorted(books) == sorted([home + "personal/", home + "unnamed/"])
    for href in books:
        assert statuses(r.responses()[href]) == ["HTTP/1.1 200 OK"], r.text
        assert r.prop(href, "D:displayname").text
        assert r.prop(href, "C:addressbook-description") is not None
        privs = {p[0].tag for p in r.prop(href, "D:current-user-privilege-set")}
        assert {"{DAV:}write-content", "{DAV:}bind", "{DAV:}read"} <= privs


# --- Response shape ------------------------------------------------------------------------------


def test_hrefs_are_encoded_absolute_paths_and_collections_end_in_slash(dav, user, book):
    dav.put_card(quote(book + "Jürgen M@x+&.vcf"), make_card("shape-1", "Shape One"))
    assert dav.request("MKCOL", quote(f"/dav/addressbooks/{user}/plain files/")).status == 201
    for path in (f"/dav/addressbooks/{user}/", book):
        r = dav.propfind(path, ["D:resourcetype"], depth="1")
        for resp in r.xml().iterfind("D:response", NS):
            href = resp.findtext("D:href", namespaces=NS)
            assert href.startswith("/dav/"), href
            assert href.isascii() and " " not in href, href
            is_collection = resp.find("D:propstat/D:prop/D:resourcetype/D:collection",
                                      NS) is not None
            assert href.endswith("/") == is_collection, href


def test_cardbook_multiget_with_decoded_hrefs(dav, book):
    names = ["Jürgen M@x+&.vcf", "with space.vcf", "plain.vcf"]
    for i, name in enumerate(names):
        assert dav.put_card(quote(book + name), make_card(f"cb-{i}", f"Card Book{i}")).status \
            == 201
    decoded = [(book + n).replace("&", "&amp;") for n in names]  # XML-escaped, not URL-encoded
    r = multiget(dav, book, decoded, depth="1")
    assert r.status == 207
    responses = r.responses()
    for name in names:
        assert book + name in responses, r.text
        assert r.prop(book + name, "D:getetag") is not None
        assert r.prop(book + name, "C:address-data") is not None


def test_multiget_accepts_absolute_url_hrefs(server, dav, book):
    hrefs = fill(dav, book, 2, "abs")
    r = multiget(dav, book, [server.base_url + h for h in hrefs], depth="1")
    assert r.status == 207
    for href, etag in hrefs.items():
        assert r.prop(href, "D:getetag").text == etag


def test_thunderbird_reads_the_first_status_as_200(dav, book):
    """Thunderbird compares the first <status> of a response with 'HTTP/1.1 200 OK',
    in PROPFIND Depth 1 and in its REPORTs, even when it asks for a property the
    server lacks."""
    hrefs = fill(dav, book, 3, "tb")
    missing = '<X:nothing xmlns:X="urn:example:none"/>'
    checks = [
        dav.propfind(book, ["D:getetag", "D:getcontenttype", "D:nonexistent"], depth="1"),
        multiget(dav, book, list(hrefs), props="<D:getetag/><C:address-data/>" + missing),
        sync_collection(dav, book, "", "<getetag/><CARD:address-data/>" + missing, "1"),
    ]
    for r in checks:
        assert r.status == 207
        for href in hrefs:
            resp = r.responses()[href]
            assert statuses(resp)[0] == "HTTP/1.1 200 OK", r.text


def test_outlook_and_vdirsyncer_listings_carry_etag_and_content_type(dav, book):
    hrefs = fill(dav, book, 3, "ol")
    vdirsyncer = ('<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop>'
                  "<resourcetype/><getcontenttype/><getetag/></prop></propfind>")
    allprop = '<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>'
    for body in (vdirsyncer, allprop, None):
        r = dav.request("PROPFIND", book, body, {"Depth": "1"})
        assert r.status == 207
        for href, etag in hrefs.items():
            assert r.prop(href, "D:getetag").text == etag, r.text
            assert r.prop(href, "D:getcontenttype").text.startswith(CARD_CONTENT)


@pytest.mark.parametrize("depth", ["0", "1", None],
                         ids=["davx5-0", "thunderbird-1", "vdirsyncer-none"])
def test_report_depth_0_1_or_absent_is_accepted(dav, book, depth):
    hrefs = fill(dav, book, 2, "d")
    r = multiget(dav, book, list(hrefs), depth=depth)
    assert r.status == 207
    assert {h: r.prop(h, "D:getetag").text for h in hrefs} == hrefs
    r = sync_collection(dav, book, "", "<getetag/>", depth)
    assert r.status == 207
    assert set(hrefs) <= set(r.responses())
    assert token_of(r)


# --- Sync (the requests the sections above depend on) --------------------------------------------


def test_davx5_initial_sync_collection_depth0_empty_token_getetag_only(dav, book):
    hrefs = fill(dav, book, 5, "dx")
    r = sync_collection(dav, book, "", "<getetag/>", "0")
    assert r.status == 207
    responses = r.responses()
    assert set(responses) == set(hrefs)
    for href, etag in hrefs.items():
        assert r.prop(href, "D:getetag").text == etag
        assert responses[href].find("D:propstat/D:prop/C:address-data", NS) is None
    token = token_of(r)
    assert token == dav.propfind(book, ["D:sync-token"]).prop(book, "D:sync-token").text
    # Nothing changed: the next sync is empty and keeps the token.
    r = sync_collection(dav, book, token, "<getetag/>", "0")
    assert r.status == 207 and r.responses() == {} and token_of(r) == token


def test_davx5_multigets_10_hrefs_at_a_time_in_parallel(server, dav, book):
    hrefs = fill(dav, book, 40, "par")
    batches = [list(hrefs)[i:i + 10] for i in range(0, 40, 10)]
    results: dict[int, tuple] = {}

    def run(i: int, batch: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            body = ('<?xml version="1.0" encoding="utf-8"?>'
                    f'<CARD:addressbook-multiget xmlns="DAV:" xmlns:CARD="{CARDDAV}">'
                    "<prop><getcontenttype/><getetag/><CARD:address-data/></prop>"
                    + "".join(f"<href>{h}</href>" for h in batch)
                    + "</CARD:addressbook-multiget>")
            out = []
            for _ in range(2):  # two requests on one keep-alive connection
                conn.request("REPORT", book, body, {"Authorization": dav.auth, "Depth": "0",
                                                    "Content-Type": "application/xml"})
                resp = conn.getresponse()
                out.append((resp.status, resp.will_close, resp.read()))
            results[i] = out
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(4))
    for i, batch in enumerate(batches):
        for status, will_close, body in results[i]:
            assert status == 207 and not will_close
            r = Response(status, None, body)
            assert set(r.responses()) == set(batch)
            for href in batch:
                assert r.prop(href, "D:getetag").text == hrefs[href]
                assert r.prop(href, "C:address-data").text.startswith("BEGIN:VCARD")


def test_thunderbird_multigets_all_hrefs_in_one_depth1_request(dav, book):
    hrefs = fill(dav, book, 60, "all")
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="{CARDDAV}">'
            "<d:prop><d:getetag/><card:address-data/></d:prop>"
            + "".join(f"<d:href>{h}</d:href>" for h in hrefs)
            + "</card:addressbook-multiget>")
    r = dav.report(book, body, depth="1")
    assert r.status == 207
    assert set(r.responses()) == set(hrefs)
    for href, etag in hrefs.items():
        assert r.prop(href, "D:getetag").text == etag
        assert r.prop(href, "C:address-data").text == dav.request("GET", href).text


def test_thunderbird_sync_collection_with_address_data(dav, book):
    hrefs = fill(dav, book, 3, "tbs")
    first, second, third = hrefs
    r = sync_collection(dav, book, "", "<getetag/><CARD:address-data/>", "1")
    assert set(r.responses()) == set(hrefs)
    for href in hrefs:
        assert r.prop(href, "C:address-data").text == dav.request("GET", href).text
    token = token_of(r)

    updated = make_card("tbs-000", "Card Updated")
    dav.put_card(first, updated)
    dav.request("DELETE", second)
    added = make_card("tbs-new", "Card Added")
    dav.put_card(book + "tbs-new.vcf", added)

    r = sync_collection(dav, book, token, "<getetag/><CARD:address-data/>", "1")
    assert r.status == 207
    responses = r.responses()
    assert set(responses) == {first, second, book + "tbs-new.vcf"}
    assert r.prop(first, "C:address-data").text == updated
    assert r.prop(book + "tbs-new.vcf", "C:address-data").text == added
    gone = responses[second]
    assert gone.findtext("D:status", namespaces=NS) == "HTTP/1.1 404 Not Found"
    assert gone.find("D:propstat", NS) is None
    assert third not in responses
    assert token_of(r) != token


@pytest.mark.parametrize("token", [
    "urn:x-davcontacts:sync:999999:1", "garbage", "http://example.com/other-server/token/7",
    "urn:x-davcontacts:sync:{book_id}:999999999",
])
def test_unknown_sync_token_is_400_valid_sync_token(server, dav, user, book, token):
    """Thunderbird resyncs only on a 400; DAVx5 and Apple act on the body."""
    token = token.format(book_id=book_row(server, user).id)
    r = sync_collection(dav, book, token, "<getetag/>", "1")
    assert r.status == 400, r.body
    assert r.condition() == "{DAV:}valid-sync-token"


def test_sync_token_of_another_book_is_refused(server, dav, user, book):
    home = f"/dav/addressbooks/{user}/"
    body = ('<?xml version="1.0"?>'
            f'<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            "</D:prop></D:set></D:mkcol>")
    assert dav.request("MKCOL", home + "second/", body,
                       {"Content-Type": "application/xml"}).status == 201
    fill(dav, home + "second/", 1, "s")
    token = token_of(sync_collection(dav, home + "second/", "", "<getetag/>", "1"))
    r = sync_collection(dav, book, token, "<getetag/>", "1")
    assert r.status == 400 and r.condition() == "{DAV:}valid-sync-token"


# --- Writes --------------------------------------------------------------------------------------


def test_davx5_write_cycle_with_preconditions(server, dav, user, book):
    """DAVx5: create with If-None-Match: *, update and delete with If-Match; a stale
    If-Match gets 412 and DAVx5 re-downloads with multiget."""
    href = book + "davx5.vcf"
    card = ("BEGIN:VCARD\r\nVERSION:4.0\r\nPRODID:DAVx5/4.3\r\nUID:davx5-1\r\n"
            "FN:Dav Five\r\nN:Five;Dav;;;\r\nKIND:individual\r\nEND:VCARD\r\n")
    headers = {"Content-Type": "text/vcard; version=4.0; charset=utf-8"}
    r = dav.request("PUT", href, card, {**headers, "If-None-Match": "*"})
    assert r.status == 201
    etag = etag_header(r)
    # A retried create (the answer was lost) does not duplicate anything.
    r = dav.request("PUT", href, card, {**headers, "If-None-Match": "*"})
    assert r.status == 412
    assert counts(server, user, "davx5.vcf") == {"contacts": 1, "revisions": 1, "changes": 1}

    changed = card.replace("FN:Dav Five", "FN:Dav Five Changed")
    r = dav.request("PUT", href, changed, {**headers, "If-Match": etag})
    assert r.status == 204
    new_etag = etag_header(r)

    r = dav.request("PUT", href, card, {**headers, "If-Match": etag})
    assert r.status == 412
    r = multiget(dav, book, [href], depth="0")
    assert r.prop(href, "D:getetag").text == new_etag
    assert r.prop(href, "C:address-data").text == changed

    r = dav.request("DELETE", href, headers={"If-Match": new_etag})
    assert r.status == 204
    assert dav.request("GET", href).status == 404


def test_thunderbird_and_syncevolution_write_without_preconditions(server, dav, user, book):
    href = book + "noprecond.vcf"
    card = make_card("noprecond-1", "No Precond")
    r = dav.request("PUT", href, card, {"Content-Type": "text/vcard; charset=utf-8"})
    assert r.status == 201
    etag = etag_header(r)
    # A retry of the same create is harmless: same ETag, nothing new recorded.
    r = dav.request("PUT", href, card, {"Content-Type": "text/vcard; charset=utf-8"})
    assert r.status == 204 and etag_header(r) == etag
    assert counts(server, user, "noprecond.vcf") == {"contacts": 1, "revisions": 1,
                                                     "changes": 1}
    r = dav.request("PUT", href, make_card("noprecond-1", "Changed"),
                    {"Content-Type": "text/vcard"})
    assert r.status == 204 and etag_header(r) != etag
    assert dav.request("DELETE", href).status == 204


def test_apple_writes_vcard3_groups_and_companies_verbatim(server, dav, user, book):
    group = ("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\n"
             "N:Friends\r\nFN:Friends\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"
             "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:11111111-2222-3333-4444-555555555555\r\n"
             "REV:2024-01-01T00:00:00Z\r\nUID:A1B2C3D4-GROUP\r\nEND:VCARD\r\n")
    company = ("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\n"
               "N:;;;;\r\nFN:ACME Inc.\r\nORG:ACME Inc.;\r\nX-ABShowAs:COMPANY\r\n"
               "UID:A1B2C3D4-COMPANY\r\nEND:VCARD\r\n")
    for name, card, kind in (("A1B2C3D4-GROUP.vcf", group, "group"),
                             ("A1B2C3D4-COMPANY.vcf", company, "company")):
        r = dav.put_card(book + name, card, {"If-None-Match": "*"})
        assert r.status == 201
        assert dav.request("GET", book + name).body == card.encode()
        assert stored(server, user, name)["contacts"][0].kind == kind


def test_post_add_member_is_advertised_only_if_it_works(server, dav, book):
    """SyncEvolution POSTs to the collection when RFC 5995 add-member is advertised:
    then POST must answer 201 with an absolute-path Location and an ETag."""
    r = dav.propfind(book, ["D:add-member"])
    add_member = r.prop(book, "D:add-member")
    if add_member is None:
        return
    target = add_member.findtext("D:href", namespaces=NS)
    card = make_card("posted-1", "Posted Card")
    r = dav.request("POST", target, card, {"Content-Type": "text/vcard"})
    assert r.status == 201
    location = r.header("Location")
    assert location and (location.startswith("/dav/")
                         or location.startswith(server.base_url + "/dav/")), location
    etag = etag_header(r)
    path = urlparse(location).path
    r = dav.request("GET", path)
    assert r.status == 200 and r.body == card.encode() and r.header("ETag") == etag
