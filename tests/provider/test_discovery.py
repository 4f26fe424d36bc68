"""Discovery as clients do it: well-known, root, principal, home, books
(RFC 6764, RFC 6352 §7, CLIENTS.md "Discovery")."""

from tests.davclient import NS


def test_well_known_redirects_with_and_without_slash(server):
    c = server.client()
    for path in ("/.well-known/carddav", "/.well-known/carddav/"):
        r = c.request("GET", path, auth=False)
        assert r.status == 301
        assert r.header("Location") == "/dav/"
        r = c.request("PROPFIND", path, auth=False)
        assert r.status == 301


def test_unauthenticated_propfind_gets_basic_challenge(server):
    r = server.client().request("PROPFIND", "/dav/", headers={"Depth": "0"}, auth=False)
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Basic realm=")


def test_wrong_password_is_401(server, user):
    r = server.client(user, "not the password").propfind("/dav/", ["D:current-user-principal"])
    assert r.status == 401


def test_discovery_chain_reaches_personal_book(server, user, dav):
    r = dav.propfind("/dav/", ["D:current-user-principal"])
    assert r.status == 207
    principal = r.prop("/dav/", "D:current-user-principal").findtext("D:href", namespaces=NS)
    assert principal == f"/dav/principals/{user}/"

    r = dav.propfind(principal, ["C:addressbook-home-set", "D:displayname", "D:resourcetype",
                                 "D:principal-URL", "D:group-membership"])
    assert r.status == 207
    home = r.prop(principal, "C:addressbook-home-set").findtext("D:href", namespaces=NS)
    assert home == f"/dav/addressbooks/{user}/"
    assert r.prop(principal, "D:resourcetype").find("D:principal", NS) is not None
    assert r.prop(principal, "D:principal-URL").findtext("D:href", namespaces=NS) == principal

    r = dav.propfind(home, ["D:resourcetype", "D:displayname", "D:owner",
                            "D:current-user-privilege-set", "C:addressbook-description",
                            "CS:getctag", "D:sync-token", "C:supported-address-data",
                            "D:supported-report-set", "C:max-resource-size"], depth="1")
    assert r.status == 207
    book = f"/dav/addressbooks/{user}/personal/"
    assert book in r.responses()
    rt = r.prop(book, "D:resourcetype")
    assert rt.find("D:collection", NS) is not None and rt.find("C:addressbook", NS) is not None
    assert r.prop(book, "D:displayname").text
    privs = {p[0].tag for p in r.prop(book, "D:current-user-privilege-set")}
    for name in ("read", "write", "write-content", "write-properties", "bind", "unbind",
                 "read-current-user-privilege-set"):
        assert "{DAV:}" + name in privs
    assert r.prop(book, "CS:getctag").text.startswith("urn:")
    assert r.prop(book, "D:sync-token").text == r.prop(book, "CS:getctag").text
    versions = {e.get("version") for e in r.prop(book, "C:supported-address-data")}
    assert versions == {"3.0", "4.0"}
    reports = {e[0][0].tag for e in r.prop(book, "D:supported-report-set")}
    assert "{DAV:}sync-collection" in reports
    assert "{urn:ietf:params:xml:ns:carddav}addressbook-multiget" in reports
    assert int(r.prop(book, "C:max-resource-size").text) > 0
    assert r.prop(book, "D:owner").findtext("D:href", namespaces=NS) == principal


def test_first_status_is_exactly_http11_200(dav, user):
    """Thunderbird compares the first <status> with 'HTTP/1.1 200 OK'."""
    r = dav.propfind(f"/dav/addressbooks/{user}/personal/", ["D:displayname", "D:nonexistent"])
    first = r.xml().find("D:response/D:propstat/D:status", NS).text
    assert first == "HTTP/1.1 200 OK"


def test_options_announces_addressbook_on_principal_and_book(dav, user):
    for path in (f"/dav/principals/{user}/", f"/dav/addressbooks/{user}/personal/", "/dav/"):
        r = dav.request("OPTIONS", path)
        assert r.status == 200, path
        dav_header = r.header("DAV")
        assert "addressbook" in dav_header and "calendar-access" not in dav_header
        assert "REPORT" in r.header("Allow")
        assert "MKCALENDAR" not in r.header("Allow")


def test_other_users_principal_and_home_are_invisible(server, user, dav):
    other = server.add_user()
    for path in (f"/dav/principals/{other}/", f"/dav/addressbooks/{other}/",
                 f"/dav/addressbooks/{other}/personal/"):
        r = dav.propfind(path, ["D:displayname"])
        assert r.status in (403, 404), path
        # The error may echo the requested path, never anything stored there.
        assert "contacts" not in r.text and "<D:href" not in r.text


def test_book_lists_supported_collations(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    r = dav.propfind(book, ["C:supported-collation-set"])
    names = [e.text for e in r.prop(book, "C:supported-collation-set")]
    assert sorted(names) == ["i;ascii-casemap", "i;octet", "i;unicode-casemap"]
