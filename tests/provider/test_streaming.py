"""Large answers are streamed (chunked) instead of built in memory, and the
keep-alive connection survives them (WSGIDAV.md §7, DESIGN.md "Scale")."""

import http.client

from lxml import etree

from davcontacts.contacts.actor import Actor
from davcontacts.contacts.cards import put_card
from davcontacts.model import AddressBook, User
from tests.conftest import TEST_PASSWORD, model_db
from tests.davclient import NS, make_card

NOTE = "NOTE:" + "x" * 1500


def _fill(server, user: str, count: int) -> None:
    with model_db(server.database_url):
        owner = User.get(User.username == user)
        book = AddressBook.get((AddressBook.owner_user == owner.id)
                               & (AddressBook.slug == "personal"))
        for i in range(count):
            card = make_card(f"big-{i}", f"Big {i}", extra=NOTE).encode()
            put_card(Actor.cli(), book, f"big-{i}.vcf", card, max_size=1 << 20)


def test_large_sync_and_listing_are_streamed_and_keep_alive_holds(server):
    user = server.add_user()
    _fill(server, user, 900)  # ~1.5 MB of address-data: over the 1 MiB threshold
    book = f"/dav/addressbooks/{user}/personal/"
    client = server.client(user, TEST_PASSWORD)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Authorization": client.auth, "Content-Type": "application/xml"}
    sync_body = ('<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
                 '<D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/>'
                 '<C:address-data/></D:prop></D:sync-collection>')
    conn.request("REPORT", book, sync_body, headers)
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 207
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert (resp.getheader("Connection") or "").lower() != "close"
    root = etree.fromstring(data)
    cards = [r for r in root.iterfind("D:response", NS)]
    assert len(cards) == 900
    assert all(NOTE in r.findtext("D:propstat/D:prop/C:address-data", namespaces=NS)
               for r in cards)
    assert root.findtext("D:sync-token", namespaces=NS).startswith("urn:")
    # the same connection goes on: a small answer comes with a Content-Length
    conn.request("PROPFIND", book, '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'
                 "</D:prop></D:propfind>", {**headers, "Depth": "0"})
    small = conn.getresponse()
    small.read()
    assert small.status == 207 and small.getheader("Content-Length")
    # multiget of every card in one request is streamed too, in the client's order
    hrefs = "".join(f"<D:href>{book}big-{i}.vcf</D:href>" for i in range(900))
    conn.request("REPORT", book, '<C:addressbook-multiget xmlns:D="DAV:" '
                 'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/>'
                 f"<C:address-data/></D:prop>{hrefs}</C:addressbook-multiget>", headers)
    multi = conn.getresponse()
    got = etree.fromstring(multi.read())
    assert multi.status == 207 and multi.getheader("Transfer-Encoding") == "chunked"
    assert [r.findtext("D:href", namespaces=NS) for r in got.iterfind("D:response", NS)] == \
        [f"{book}big-{i}.vcf" for i in range(900)]
    conn.close()
