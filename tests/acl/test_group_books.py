"""Group books over DAV: every member sees the group's book in their home, with the
same sync state whichever URL is used; read-only members get 403 with
DAV:need-privileges on every write and change nothing (CLIENTS.md "Writes");
non-members see nothing."""

import uuid

import pytest

from davcontacts.contacts.groups import create_group, remove_membership, set_membership
from tests.conftest import model_db
from tests.davclient import NS, make_card


@pytest.fixture
def team(server):
    """A group with a writer and a reader, and an outsider."""
    name = "g" + uuid.uuid4().hex[:8]
    writer, reader, outsider = server.add_user(), server.add_user(), server.add_user()
    with model_db(server.database_url):
        create_group(name)
        set_membership(name, writer, "write")
        set_membership(name, reader, "read")
    return {"group": name, "writer": writer, "reader": reader, "outsider": outsider,
            "segment": f"group-{name}"}


def book_of(user: str, segment: str) -> str:
    return f"/dav/addressbooks/{user}/{segment}/"


def test_members_see_the_group_book_and_outsiders_do_not(server, team):
    for who in ("writer", "reader"):
        user = team[who]
        r = server.client(user).propfind(f"/dav/addressbooks/{user}/",
                                         ["D:resourcetype", "D:current-user-privilege-set"],
                                         depth="1")
        assert book_of(user, team["segment"]) in r.responses(), who
    outsider = team["outsider"]
    r = server.client(outsider).propfind(f"/dav/addressbooks/{outsider}/", ["D:resourcetype"],
                                         depth="1")
    assert not any(team["segment"] in href for href in r.responses())
    for path in (book_of(outsider, team["segment"]), book_of(team["writer"], team["segment"])):
        assert server.client(outsider).propfind(path, ["D:displayname"]).status == 404


def test_privilege_sets_follow_access(server, team):
    def privileges(who):
        user = team[who]
        book = book_of(user, team["segment"])
        r = server.client(user).propfind(book, ["D:current-user-privilege-set"])
        return {p[0].tag.split("}")[1] for p in r.prop(book, "D:current-user-privilege-set")}
    assert {"read", "write", "write-content", "bind", "unbind"} <= privileges("writer")
    reader = privileges("reader")
    assert "read" in reader and not reader & {"write", "write-content", "bind", "unbind"}


def test_read_only_member_cannot_write_and_nothing_changes(server, team):
    writer, reader = server.client(team["writer"]), server.client(team["reader"])
    wbook, rbook = book_of(team["writer"], team["segment"]), book_of(team["reader"],
                                                                     team["segment"])
    card = make_card("shared-1", "Shared Person")
    assert writer.put_card(wbook + "shared-1.vcf", card).status == 201
    etag = writer.request("GET", wbook + "shared-1.vcf").header("ETag")
    got = reader.request("GET", rbook + "shared-1.vcf")
    assert got.status == 200 and got.text == card and got.header("ETag") == etag

    attempts = [
        reader.put_card(rbook + "shared-1.vcf", make_card("shared-1", "Changed")),
        reader.put_card(rbook + "new.vcf", make_card("new", "New"), {"If-None-Match": "*"}),
        reader.request("DELETE", rbook + "shared-1.vcf"),
        reader.request("PROPPATCH", rbook, '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                       "<D:displayname>Mine now</D:displayname></D:prop></D:set>"
                       "</D:propertyupdate>"),
    ]
    for r in attempts[:3]:
        assert r.status == 403, r.text
        assert r.condition() == "{DAV:}need-privileges", r.text
    proppatch = attempts[3]
    assert proppatch.status in (207, 403)
    if proppatch.status == 207:
        assert " 403 " in proppatch.xml().findtext("D:response/D:propstat/D:status",
                                                    namespaces=NS)
    after = writer.request("GET", wbook + "shared-1.vcf")
    assert after.text == card and after.header("ETag") == etag
    assert writer.request("GET", wbook + "new.vcf").status == 404
    r = writer.propfind(wbook, ["D:displayname"])
    assert r.prop(wbook, "D:displayname").text != "Mine now"


def test_same_sync_state_through_every_members_url(server, team):
    writer, reader = server.client(team["writer"]), server.client(team["reader"])
    wbook, rbook = book_of(team["writer"], team["segment"]), book_of(team["reader"],
                                                                     team["segment"])
    writer.put_card(wbook + "s.vcf", make_card("s", "Synced"))
    tokens = [c.propfind(b, ["D:sync-token"]).prop(b, "D:sync-token").text
              for c, b in ((writer, wbook), (reader, rbook))]
    assert tokens[0] == tokens[1]
    body = ('<D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token>'
            "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>")
    writer.put_card(wbook + "t.vcf", make_card("t", "Later"))
    r = reader.report(rbook, body.format(tokens[0]))
    assert set(r.responses()) == {rbook + "t.vcf"}


def test_removing_a_member_removes_the_book_from_their_home(server, team):
    reader = team["reader"]
    client = server.client(reader)
    with model_db(server.database_url):
        remove_membership(team["group"], reader)
    r = client.propfind(f"/dav/addressbooks/{reader}/", ["D:resourcetype"], depth="1")
    assert not any(team["segment"] in href for href in r.responses())
    assert client.request("GET", book_of(reader, team["segment"]) + "x.vcf").status == 404
