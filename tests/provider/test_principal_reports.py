"""expand-property (RFC 3253 §3.8) and the principal searches of RFC 3744 §9.4–9.5,
which clients send during discovery."""

from tests.davclient import NS


def test_expand_property_follows_current_user_principal(dav, user):
    principal = f"/dav/principals/{user}/"
    body = ('<D:expand-property xmlns:D="DAV:"><D:property name="current-user-principal">'
            '<D:property name="displayname"/>'
            '<D:property name="addressbook-home-set" namespace="urn:ietf:params:xml:ns:carddav"/>'
            '</D:property><D:property name="no-such-property"/></D:expand-property>')
    r = dav.report(principal, body, depth="0")
    assert r.status == 207
    cup = r.prop(principal, "D:current-user-principal")
    nested = cup.find("D:response", NS)
    assert nested.findtext("D:href", namespaces=NS) == principal
    home = nested.find("D:propstat/D:prop/C:addressbook-home-set/D:href", NS).text
    assert home == f"/dav/addressbooks/{user}/"
    assert nested.find("D:propstat/D:prop/D:displayname", NS).text == user
    statuses = [s.text for s in r.xml().iterfind("D:response/D:propstat/D:status", NS)]
    assert statuses[0] == "HTTP/1.1 200 OK" and "HTTP/1.1 404 Not Found" in statuses


def test_principal_property_search_finds_only_yourself(server, dav, user):
    other = server.add_user()
    for needle, expected in ((user[:5], {f"/dav/principals/{user}/"}), (other, set()),
                             ("zzz-nobody", set())):
        body = ('<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop>'
                f'<D:displayname/></D:prop><D:match>{needle}</D:match></D:property-search>'
                '<D:prop><D:displayname/></D:prop></D:principal-property-search>')
        r = dav.report("/dav/principals/", body, depth="0")
        assert r.status == 207
        assert set(r.responses()) == expected
        assert other not in r.text


def test_principal_search_property_set(dav):
    r = dav.report("/dav/principals/", '<D:principal-search-property-set xmlns:D="DAV:"/>',
                   depth="0")
    assert r.status == 200
    assert r.xml().find("D:principal-search-property/D:prop/D:displayname", NS) is not None


def test_principal_supported_report_set_lists_these_reports(dav, user):
    principal = f"/dav/principals/{user}/"
    r = dav.propfind(principal, ["D:supported-report-set"])
    reports = {e[0][0].tag for e in r.prop(principal, "D:supported-report-set")}
    assert reports == {"{DAV:}expand-property", "{DAV:}principal-property-search",
                       "{DAV:}principal-search-property-set"}


def test_book_reports_are_refused_on_a_principal(dav, user):
    r = dav.report(f"/dav/principals/{user}/",
                   '<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1'
                   '</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>')
    assert r.status == 403
    assert r.condition() == "{DAV:}supported-report"
