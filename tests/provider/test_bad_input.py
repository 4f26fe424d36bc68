"""Bad input over HTTP: each refusal carries the right status and precondition, and
leaves what is stored exactly as it was (RFC 6352 §6.3.2.1, RFC 4918 §8.7, RFC 7617,
WSGIDAV.md §5 and §8 for the WsgiDAV defects the guard covers)."""

from __future__ import annotations

import base64
import http.client
import socket
import threading
from urllib.parse import quote, unquote

import pytest

from tests.davclient import NS, Response, make_card
from tests.provider.support import (
    CARDDAV,
    counts,
    etag_header,
    multiget,
    proppatch,
    raw_request,
    read_response,
    stored,
)

MAX_RESOURCE_SIZE = 1024 * 1024  # the default dav.max_resource_size
VALID = f"{{{CARDDAV}}}valid-address-data"
SUPPORTED = f"{{{CARDDAV}}}supported-address-data"


@pytest.fixture
def book(user) -> str:
    return f"/dav/addressbooks/{user}/personal/"


@pytest.fixture
def existing(server, dav, book, user):
    """A card already stored at `book/old.vcf`: (path, bytes, etag)."""
    data = make_card("old-card", "Old Card").encode()
    r = dav.put_card(book + "old.vcf", data)
    assert r.status == 201
    return book + "old.vcf", data, etag_header(r)


def assert_unchanged(server, dav, user, existing, before: dict[str, int]) -> None:
    path, data, etag = existing
    r = dav.request("GET", path)
    assert r.status == 200
    assert r.body == data
    assert r.header("ETag") == etag
    assert counts(server, user, path.rsplit("/", 1)[1]) == before


def assert_not_created(server, dav, user, path: str) -> None:
    assert dav.request("GET", path).status == 404
    assert stored(server, user, path.rsplit("/", 1)[1])["contacts"] == []


# --- vCard bodies --------------------------------------------------------------------------

ONE = make_card("two-1", "First Card")
INVALID_BODIES = {
    "garbage": (b"this is not a vCard at all\r\n", VALID),
    "empty": (b"", VALID),
    "missing-end": (make_card("no-end", "No End").replace("END:VCARD\r\n", "").encode(), VALID),
    "wrong-end": (make_card("bad-end", "Bad End").replace("END:VCARD", "END:VCALENDAR").encode(),
                  VALID),
    "two-vcards": ((ONE + make_card("two-2", "Second Card")).encode(), VALID),
    "missing-uid": (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nN:Uid;No;;;\r\nEND:VCARD\r\n",
                    VALID),
    "empty-uid": (b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:\r\nFN:Empty Uid\r\nEND:VCARD\r\n", VALID),
    "v3-without-fn": (b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:no-fn\r\nN:Fn;No;;;\r\nEND:VCARD\r\n",
                      VALID),
    "no-version": (b"BEGIN:VCARD\r\nUID:no-version\r\nFN:No Version\r\nEND:VCARD\r\n", VALID),
    "not-utf8": (make_card("latin1", "J\u00fcrgen M\u00fcller").encode("latin-1"), VALID),
    "nul-byte": (make_card("nul", "Nul\x00Byte").encode(), VALID),
    "vcalendar": (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", VALID),
    "version-5": (make_card("v5", "Future Card", version="5.0").encode(), SUPPORTED),
}


@pytest.mark.parametrize("body,condition", list(INVALID_BODIES.values()),
                         ids=list(INVALID_BODIES))
def test_invalid_vcard_replacing_a_card_changes_nothing(server, dav, user, existing, body,
                                                        condition):
    before = counts(server, user, "old.vcf")
    r = dav.put_card(existing[0], body)
    assert r.status == 403, r.body
    assert r.condition() == condition, r.body
    assert_unchanged(server, dav, user, existing, before)
    # With the client's precondition too (DAVx5 sends If-Match on update).
    r = dav.put_card(existing[0], body, {"If-Match": existing[2]})
    assert r.status == 403 and r.condition() == condition
    assert_unchanged(server, dav, user, existing, before)


@pytest.mark.parametrize("body,condition", list(INVALID_BODIES.values()),
                         ids=list(INVALID_BODIES))
def test_invalid_vcard_creating_a_card_stores_nothing(server, dav, user, book, body, condition):
    r = dav.put_card(book + "new.vcf", body, {"If-None-Match": "*"})
    assert r.status == 403, r.body
    assert r.condition() == condition
    assert_not_created(server, dav, user, book + "new.vcf")


def test_duplicate_uid_in_another_resource_is_409_with_its_href(server, dav, user, book,
                                                                existing):
    before = counts(server, user, "old.vcf")
    # A create with the UID of old.vcf.
    r = dav.put_card(book + "dup.vcf", make_card("old-card", "Someone Else"))
    assert r.status == 409
    assert r.condition() == f"{{{CARDDAV}}}no-uid-conflict"
    assert [h.text for h in r.xml().iterfind("*/D:href", NS)] == [book + "old.vcf"]
    assert_not_created(server, dav, user, book + "dup.vcf")
    assert_unchanged(server, dav, user, existing, before)

    # An update that takes the UID of old.vcf.
    other = make_card("other-card", "Other Card").encode()
    other_etag = etag_header(dav.put_card(book + "other.vcf", other))
    other_before = counts(server, user, "other.vcf")
    r = dav.put_card(book + "other.vcf", make_card("old-card", "Other Card"))
    assert r.status == 409
    assert r.condition() == f"{{{CARDDAV}}}no-uid-conflict"
    assert [h.text for h in r.xml().iterfind("*/D:href", NS)] == [book + "old.vcf"]
    assert_unchanged(server, dav, user, (book + "other.vcf", other, other_etag), other_before)
    assert_unchanged(server, dav, user, existing, before)


def test_duplicate_uid_href_is_percent_encoded(server, dav, user, book):
    name = "Jürgen M@x+&.vcf"
    dav.put_card(quote(book + name), make_card("encoded-holder", "Holder"))
    r = dav.put_card(book + "clash.vcf", make_card("encoded-holder", "Clash"))
    assert r.status == 409
    hrefs = [h.text for h in r.xml().iterfind("*/D:href", NS)]
    assert len(hrefs) == 1 and hrefs[0].isascii() and " " not in hrefs[0]
    assert unquote(hrefs[0]) == book + name


# --- Size ---------------------------------------------------------------------------------------


def card_of_size(uid: str, size: int) -> bytes:
    base = make_card(uid, "Big Card", extra="NOTE:").encode()
    data = base.replace(b"NOTE:", b"NOTE:" + b"x" * (size - len(base)))
    assert len(data) == size
    return data


def put_chunked(server, dav, path: str, data: bytes, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        hdrs = {"Authorization": dav.auth, "Content-Type": "text/vcard"}
        hdrs.update(headers or {})
        chunks = (data[i:i + 65536] for i in range(0, len(data), 65536))
        conn.request("PUT", path, body=chunks, headers=hdrs, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


def test_card_of_exactly_max_resource_size_is_accepted(server, dav, book):
    data = card_of_size("max-size", MAX_RESOURCE_SIZE)
    r = dav.put_card(book + "max.vcf", data)
    assert r.status == 201, r.body
    assert dav.request("GET", book + "max.vcf").body == data


@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
def test_card_over_max_resource_size_is_403(server, dav, user, book, existing, transfer):
    data = card_of_size("old-card", MAX_RESOURCE_SIZE + 100 * 1024)
    before = counts(server, user, "old.vcf")
    for path in (existing[0], book + "big.vcf"):
        if transfer == "chunked":
            status, body, _ = put_chunked(server, dav, path, data)
        else:
            r = dav.put_card(path, data)
            status, body = r.status, r.body
        assert status == 403, body
        assert Response(status, None, body).condition() == f"{{{CARDDAV}}}max-resource-size"
    assert_unchanged(server, dav, user, existing, before)
    assert_not_created(server, dav, user, book + "big.vcf")


# --- XML bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method,body", [
    ("PROPFIND", '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'),
    ("PROPFIND", "<D:propfind><D:prop/></D:propfind>"),  # undeclared prefix
    ("PROPFIND", "not xml at all"),
    ("PROPPATCH", '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x'),
    ("PROPPATCH", '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"></D:propfind>'),
    ("REPORT", f'<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:href>'),
], ids=["propfind-truncated", "propfind-undeclared-prefix", "propfind-not-xml",
        "proppatch-truncated", "proppatch-mismatched-tags", "report-truncated"])
def test_malformed_xml_is_400(dav, book, method, body):
    r = dav.request(method, book, body, {"Content-Type": "application/xml", "Depth": "0"})
    assert r.status == 400, r.body
    assert b"WsgiDAV" not in r.body
    # The display name is untouched and the connection still serves.
    r = dav.propfind(book, ["D:displayname"])
    assert r.status == 207 and r.prop(book, "D:displayname").text


MARKER = "ENTITY-WAS-EXPANDED"
INTERNAL = f'<!DOCTYPE x [<!ENTITY m "{MARKER}">]>'
LAUGHS = ('<!DOCTYPE x [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "' + (f"&lol{i - 1};" if i > 1 else "&lol;") * 10 + '">'
                    for i in range(1, 10)) + "]>")


def entity_bodies(book: str, dtd: str, ref: str) -> list[tuple[str, str]]:
    decl = '<?xml version="1.0" encoding="utf-8"?>'
    return [
        ("PROPFIND", f'{decl}{dtd}<D:propfind xmlns:D="DAV:" xmlns:X="urn:x:{ref}"><D:prop>'
                     f"<D:displayname/><X:p>{ref}</X:p></D:prop></D:propfind>"),
        ("PROPPATCH", f'{decl}{dtd}<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                      f"<D:displayname>{ref}</D:displayname></D:prop></D:set></D:propertyupdate>"),
        ("REPORT", f'{decl}{dtd}<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
                   f"<D:prop><D:getetag/></D:prop><D:href>{book}{ref}.vcf</D:href>"
                   "</C:addressbook-multiget>"),
        ("REPORT", f'{decl}{dtd}<D:sync-collection xmlns:D="DAV:"><D:sync-token>{ref}'
                   "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
                   "</D:sync-collection>"),
    ]


@pytest.mark.parametrize("kind", ["internal-entity", "external-entity", "billion-laughs"])
def test_entities_are_never_expanded(server, dav, book, kind, tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("FILE-CONTENT-" + MARKER)
    if kind == "internal-entity":
        dtd, ref = INTERNAL, "&m;"
    elif kind == "external-entity":
        dtd, ref = f'<!DOCTYPE x [<!ENTITY m SYSTEM "file://{secret_file}">]>', "&m;"
    else:
        dtd, ref = LAUGHS, "&lol9;"
    name_before = dav.propfind(book, ["D:displayname"]).prop(book, "D:displayname").text
    for method, body in entity_bodies(book, dtd, ref):
        r = dav.request(method, book, body, {"Content-Type": "application/xml", "Depth": "0"})
        assert r.status == 400 or r.status in (200, 207), (method, r.status, r.body)
        assert MARKER.encode() not in r.body and b"lollollol" not in r.body, (method, r.body)
    # Nothing was stored from them, and the server still answers.
    r = dav.propfind(book, ["D:displayname"])
    assert r.status == 207
    assert r.prop(book, "D:displayname").text == name_before
    assert MARKER.encode() not in r.body


def test_unknown_report_is_403_supported_report(dav, book):
    for body in ('<X:frobnicate xmlns:X="urn:example:x"/>',
                 '<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">'
                 "<D:prop><D:getetag/></D:prop></C:calendar-query>"):
        r = dav.report(book, body, depth="1")
        assert r.status == 403, r.body
        assert r.condition() == "{DAV:}supported-report"


def test_oversized_xml_body_is_refused(server, dav, book):
    """A PROPFIND body of 5 MiB (more than any client sends) is not parsed."""
    padding = "<!-- " + "x" * (5 * 1024 * 1024) + " -->"
    body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:">' + padding
            + "<D:prop><D:displayname/></D:prop></D:propfind>").encode()
    head = (f"PROPFIND {book} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {dav.auth}\r\n"
            f"Depth: 0\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            "\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        # Send in the background: the server may answer before reading the body.
        sender = threading.Thread(target=_send_quietly, args=(sock, head + body), daemon=True)
        sender.start()
        resp, _ = read_response(sock)
    assert resp.status == 413, resp.body
    assert dav.propfind(book, ["D:displayname"]).status == 207


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic !!!not*base64***",
    "Basic " + base64.b64encode(b"\xff\xfe:\xffpassword").decode(),
    "Basic",
    "Basic    ",
    "basic " + base64.b64encode(b"\x00\x01").decode(),
], ids=["no-colon", "bad-base64", "not-utf8", "no-token", "blank-token", "lowercase-binary"])
def test_malformed_basic_header_is_401(server, header):
    c = server.client()
    for method in ("PROPFIND", "GET"):
        r = c.request(method, "/dav/", headers={"Authorization": header, "Depth": "0"},
                      auth=False)
        assert r.status == 401, (method, r.status, r.body)
        assert r.header("WWW-Authenticate").startswith("Basic realm=")
    c.close()


# --- Paths and framing (raw sockets) ------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/dav/../admin", "/dav/addressbooks/../x", "/dav/%2e%2e/admin",
    "/dav/addressbooks/{user}/personal/../../../../admin/",
])
@pytest.mark.parametrize("method", ["GET", "PROPFIND"])
def test_dot_dot_paths_are_400_with_a_body(server, dav, user, path, method):
    request = (f"{method} {path.format(user=user)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: {dav.auth}\r\nDepth: 0\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n").encode()
    resp, extra = raw_request(server.port, request)
    assert resp.status == 400
    assert resp.body  # read_response checked that Content-Length bytes arrived
    assert int(resp.headers["content-length"]) == len(resp.body)
    assert extra == b""


def test_chunked_propfind_is_honoured_and_keep_alive_survives(server, dav, book):
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" '
            b'xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:displayname/></D:prop>'
            b"</D:propfind>")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("PROPFIND", book, body=iter([body[:17], body[17:60], body[60:]]),
                     headers={"Authorization": dav.auth, "Depth": "0",
                              "Content-Type": "application/xml"}, encode_chunked=True)
        sock = conn.sock
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 207
        assert not resp.will_close
        parsed = Response(resp.status, resp.headers, data)
        props = [el.tag for el in parsed.xml().iterfind(".//D:prop/*", NS)]
        assert props == ["{DAV:}displayname"], data  # not an allprop answer

        # The next request on the same connection is read correctly.
        conn.request("PROPFIND", book, body=body, headers={"Authorization": dav.auth,
                                                           "Depth": "0"})
        resp = conn.getresponse()
        assert conn.sock is sock
        assert resp.status == 207
        resp.read()
    finally:
        conn.close()


def test_chunked_proppatch_is_honoured(server, dav, book):
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set>'
            b"<D:prop><D:displayname>Chunked Name</D:displayname></D:prop></D:set>"
            b"</D:propertyupdate>")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("PROPPATCH", book, body=iter([body[:30], body[30:]]),
                     headers={"Authorization": dav.auth, "Content-Type": "application/xml"},
                     encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 207
    finally:
        conn.close()
    assert dav.propfind(book, ["D:displayname"]).prop(book, "D:displayname").text == \
        "Chunked Name"


def test_proppatch_with_bad_values_changes_nothing(dav, book):
    """PROPPATCH is all or nothing (RFC 4918 §9.2): a protected property fails the
    whole request, and the display name set beside it is not kept."""
    before = dav.propfind(book, ["D:displayname"]).prop(book, "D:displayname").text
    r = proppatch(dav, book, "<D:displayname>Half Done</D:displayname>"
                             "<D:getetag>\"forged\"</D:getetag>")
    assert r.status == 207
    statuses = [ps.findtext("D:status", namespaces=NS)
                for ps in r.xml().iterfind("D:response/D:propstat", NS)]
    assert "HTTP/1.1 200 OK" not in statuses, r.body
    assert dav.propfind(book, ["D:displayname"]).prop(book, "D:displayname").text == before


def test_multiget_of_unknown_and_foreign_hrefs_is_404_per_href(server, dav, book, existing):
    other = server.add_user()
    hrefs = [existing[0], book + "missing.vcf", f"/dav/addressbooks/{other}/personal/x.vcf",
             "/dav/../admin", "http://elsewhere.example/dav/x.vcf"]
    r = multiget(dav, book, hrefs)
    assert r.status == 207
    by_href = {}
    for resp in r.xml().iterfind("D:response", NS):
        by_href[resp.findtext("D:href", namespaces=NS)] = resp
    assert by_href[existing[0]].find("D:propstat", NS) is not None
    for href in hrefs[1:]:
        assert href in by_href, (href, r.body)
        assert by_href[href].findtext("D:status", namespaces=NS) == "HTTP/1.1 404 Not Found"


def test_no_answer_is_a_wsgidav_html_page(server, dav, user, book, existing):
    """WsgiDAV renders some answers itself (201s, errors inside DELETE/MOVE/COPY):
    none may come as its HTML page naming WsgiDAV."""
    home = f"/dav/addressbooks/{user}/"
    answers = [
        dav.put_card(book + "fresh.vcf", make_card("fresh-1", "Fresh")),
        dav.request("MKCOL", home + "plain/"),
        dav.request("MOVE", book + "fresh.vcf", headers={"Destination": book + "moved.vcf"}),
        dav.request("DELETE", book),
        dav.request("DELETE", home),
        dav.request("MOVE", book + "moved.vcf", headers={"Destination": home + "moved.vcf"}),
        dav.request("COPY", existing[0], headers={"Destination": book + "copy.vcf"}),
        dav.request("MOVE", book, headers={"Destination": home + "renamed/"}),
        dav.request("MKCOL", book + "inside/"),
    ]
    for r in answers:
        ctype = (r.header("Content-Type") or "").lower()
        assert not ctype.startswith("text/html"), (r.status, r.body)
        assert b"wsgidav" not in r.body.lower(), (r.status, r.body)
        if r.status >= 400:
            assert r.body, r.status
