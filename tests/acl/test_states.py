"""Visibility states and owner change as a sync client sees them (issue 5): archive,
soft delete and restore through the model API, observed over HTTP; who may restore
what; a PUT over a deleted card's UID; the change of owner; the assignee through the
ACL; and a UID too long for the database."""

from __future__ import annotations

import uuid

import pytest

from davcontacts.contacts import cards, records
from davcontacts.contacts.actor import Actor
from davcontacts.contacts.groups import create_group, set_membership
from davcontacts.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from davcontacts.model import AddressBook, Change, Contact, Group, Revision, User
from tests.conftest import model_db
from tests.davclient import NS, make_card


def sync(dav, book: str, token: str = "") -> tuple[dict[str, str], str]:
    """{href: status} of a sync-collection, and the new token."""
    body = ('<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>")
    r = dav.report(book, body)
    assert r.status == 207, r.text
    out = {}
    for href, resp in r.responses().items():
        status = resp.findtext("D:status", namespaces=NS)
        out[href] = status.split()[1] if status else "200"
    return out, r.xml().findtext("D:sync-token", namespaces=NS)


def actor(name: str) -> Actor:
    """An admin-door actor for a username (bind the model first)."""
    return Actor(user=User.get(User.username == name), door="admin")


def personal(username: str) -> AddressBook:
    return (AddressBook.select().join(User, on=(AddressBook.owner_user == User.id))
            .where((User.username == username) & (AddressBook.slug == "personal")).get())


def row(username: str, name: str, state: str | None = "active") -> Contact:
    cond = (Contact.book == personal(username).id) & (Contact.name == name)
    if state:
        cond &= Contact.state == state
    return Contact.get(cond)


@pytest.fixture
def staff(server) -> dict[str, str]:
    return {"admin": server.add_user(role="admin"), "super": server.add_user(role="superadmin")}


def test_archive_and_restore_seen_by_sync(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("arch-" + uuid.uuid4().hex, "Archived Person")
    assert dav.put_card(book + "a.vcf", card).status == 201
    etag = dav.request("GET", book + "a.vcf").header("ETag")
    _, token = sync(dav, book)

    with model_db(server.database_url):
        cards.archive_card(actor(user), row(user, "a.vcf"))
    got, token2 = sync(dav, book, token)
    assert got == {book + "a.vcf": "404"}
    assert dav.request("GET", book + "a.vcf").status == 404
    assert book + "a.vcf" not in dav.propfind(book, ["D:getetag"], depth="1").responses()

    with model_db(server.database_url):
        archived = row(user, "a.vcf", "archived")
        cards.restore_card(actor(user), archived)
        actions = [r.action for r in Revision.select().where(Revision.contact == archived.id)
                   .order_by(Revision.id)]
    assert actions == ["create", "archive", "restore"]
    got, _ = sync(dav, book, token2)
    assert got == {book + "a.vcf": "200"}
    again = dav.request("GET", book + "a.vcf")
    assert again.body == card.encode() and again.header("ETag") == etag


def test_deleted_card_is_restored_by_a_super_admin_only(server, dav, user, staff):
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("del-" + uuid.uuid4().hex, "Deleted Person")
    dav.put_card(book + "d.vcf", card)
    etag = dav.request("GET", book + "d.vcf").header("ETag")
    _, token = sync(dav, book)
    assert dav.request("DELETE", book + "d.vcf").status == 204
    got, token2 = sync(dav, book, token)
    assert got == {book + "d.vcf": "404"}

    with model_db(server.database_url):
        deleted = row(user, "d.vcf", "deleted")
        # The owner and an admin do not even see it; nothing changes.
        for who in (user, staff["admin"]):
            with pytest.raises(NotFound):
                cards.restore_card(actor(who), deleted)
            with pytest.raises(NotFound):
                records.get_record(actor(who), deleted.id)
            assert deleted.id not in {c.id for c in records.list_contacts(
                actor(who), state=None)}
        assert Contact.get_by_id(deleted.id).state == "deleted"
        assert sync(dav, book, token2)[0] == {}
        cards.restore_card(actor(staff["super"]), deleted)
    got, _ = sync(dav, book, token2)
    assert got == {book + "d.vcf": "200"}
    again = dav.request("GET", book + "d.vcf")
    assert again.body == card.encode() and again.header("ETag") == etag


def test_put_over_a_deleted_uid_makes_a_new_card_and_restore_then_conflicts(
        server, dav, user, staff):
    """Design decision (docs/design-notes.md): the UID and the name of a hidden card
    are free for a new live card; the hidden one keeps its row and history, and
    restoring it answers Conflict naming the live card."""
    book = f"/dav/addressbooks/{user}/personal/"
    uid = "reuse-" + uuid.uuid4().hex
    old = make_card(uid, "First Life")
    dav.put_card(book + "old.vcf", old)
    dav.request("DELETE", book + "old.vcf")
    new = make_card(uid, "Second Life")
    assert dav.put_card(book + "new.vcf", new).status == 201  # same UID, another name
    with model_db(server.database_url):
        deleted = row(user, "old.vcf", "deleted")
        with pytest.raises(cards.CardTaken) as err:
            cards.restore_card(actor(staff["super"]), deleted)
        assert "new.vcf" in err.value.reason and err.value.existing.name == "new.vcf"
        assert Contact.get_by_id(deleted.id).state == "deleted"
        assert Revision.select().where(Revision.contact == deleted.id).count() == 2
    assert dav.request("GET", book + "new.vcf").body == new.encode()
    assert dav.request("GET", book + "old.vcf").status == 404


def test_restore_refuses_when_the_name_is_taken_and_changes_nothing(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    first = make_card("n1-" + uuid.uuid4().hex, "First Holder")
    dav.put_card(book + "n.vcf", first)
    with model_db(server.database_url):
        cards.archive_card(actor(user), row(user, "n.vcf"))
    second = make_card("n2-" + uuid.uuid4().hex, "Second Holder")
    assert dav.put_card(book + "n.vcf", second).status == 201
    _, token = sync(dav, book)
    with model_db(server.database_url):
        archived = row(user, "n.vcf", "archived")
        with pytest.raises(Conflict) as err:
            cards.restore_card(actor(user), archived)
        assert "Second Holder" in err.value.reason
        # Deleting the archived one does not report the live card at that name removed.
        cards.delete_card(actor(user), archived)
    assert sync(dav, book, token)[0] == {}
    assert dav.request("GET", book + "n.vcf").body == second.encode()


def test_archived_card_in_a_group_book_leaves_every_members_sync(server):
    group = "g" + uuid.uuid4().hex[:8]
    writer, reader = server.add_user(), server.add_user()
    with model_db(server.database_url):
        create_group(group)
        set_membership(group, writer, "write")
        set_membership(group, reader, "read")
    wdav, rdav = server.client(writer), server.client(reader)
    wbook = f"/dav/addressbooks/{writer}/group-{group}/"
    rbook = f"/dav/addressbooks/{reader}/group-{group}/"
    wdav.put_card(wbook + "g.vcf", make_card("g-" + uuid.uuid4().hex, "Group Card"))
    _, token = sync(rdav, rbook)
    with model_db(server.database_url):
        book = AddressBook.get(AddressBook.owner_group == Group.get(Group.name == group).id)
        card = Contact.get((Contact.book == book.id) & (Contact.name == "g.vcf"))
        with pytest.raises(Forbidden):  # read access: sees it, may not archive it
            cards.archive_card(actor(reader), card)
        cards.archive_card(actor(writer), card)
        with pytest.raises(Forbidden):  # nor restore it
            cards.restore_card(actor(reader), card)
    assert sync(rdav, rbook, token)[0] == {rbook + "g.vcf": "404"}
    with model_db(server.database_url):
        cards.restore_card(actor(writer), Contact.get_by_id(card.id))
    assert sync(rdav, rbook, token)[0] == {rbook + "g.vcf": "200"}


def test_owner_change_is_seen_by_sync_on_both_books(server):
    group = "g" + uuid.uuid4().hex[:8]
    alice, bob = server.add_user(), server.add_user()
    with model_db(server.database_url):
        create_group(group)
        set_membership(group, alice, "write")
        set_membership(group, bob, "read")
    adav, bdav = server.client(alice), server.client(bob)
    mine, shared = f"/dav/addressbooks/{alice}/personal/", f"/dav/addressbooks/{bob}/group-{group}/"
    card = make_card("own-" + uuid.uuid4().hex, "Moving Person", extra="CATEGORIES:VIP")
    adav.put_card(mine + "m.vcf", card)
    adav.put_card(mine + "m.vcf", card.replace("Moving Person", "Moving Person Jr"))
    etag = adav.request("GET", mine + "m.vcf").header("ETag")
    _, token_mine = sync(adav, mine)
    _, token_shared = sync(bdav, shared)

    with model_db(server.database_url):
        contact = row(alice, "m.vcf")
        source, etag_before = contact.book_id, contact.etag
        history = [r.id for r in Revision.select().where(Revision.contact == contact.id)]
        dest = AddressBook.get(AddressBook.owner_group == Group.get(Group.name == group).id)
        cards.change_owner(actor(alice), contact, dest)
        moved = Contact.get_by_id(contact.id)
        revisions = list(Revision.select().where(Revision.contact == contact.id)
                         .order_by(Revision.id))
        tags = [t.tag.book_id for t in moved.tag_links]
        changes = {c.book_id for c in Change.select().where(
            (Change.name == "m.vcf") & (Change.id > int(token_mine.rsplit(":", 1)[1])))}
    assert moved.book_id == dest.id and moved.etag == etag_before
    assert [r.id for r in revisions[:-1]] == history and revisions[-1].action == "owner"
    assert tags == [dest.id]  # the tag now belongs to the new scope
    assert changes == {source, dest.id}
    assert sync(adav, mine, token_mine)[0] == {mine + "m.vcf": "404"}
    assert sync(bdav, shared, token_shared)[0] == {shared + "m.vcf": "200"}
    got = bdav.request("GET", shared + "m.vcf")
    assert got.header("ETag") == etag and b"Moving Person Jr" in got.body


def test_owner_change_refuses_a_clash_in_the_destination(server, staff):
    alice, bob = server.add_user(), server.add_user()
    uid = "clash-" + uuid.uuid4().hex
    server.client(alice).put_card(f"/dav/addressbooks/{alice}/personal/a.vcf",
                                  make_card(uid, "Alice Copy"))
    server.client(bob).put_card(f"/dav/addressbooks/{bob}/personal/b.vcf",
                                make_card(uid, "Bob Copy"))
    server.client(bob).put_card(f"/dav/addressbooks/{bob}/personal/a.vcf",
                                make_card("other-" + uid, "Bob Other"))
    with model_db(server.database_url):
        admin = actor(staff["admin"])
        contact = row(alice, "a.vcf")
        with pytest.raises(cards.CardTaken) as err:
            cards.change_owner(admin, contact, personal(bob))
        assert err.value.existing.name == "a.vcf" and "Bob Other" in err.value.reason
        # Rename away the name clash: the UID still clashes.
        cards.move_card(Actor.cli(), row(bob, "a.vcf"), personal(bob), "c.vcf", overwrite=False)
        with pytest.raises(cards.CardTaken) as err:
            cards.change_owner(admin, contact, personal(bob))
        assert err.value.existing.name == "b.vcf"
        assert Contact.get_by_id(contact.id).book_id == personal(alice).id


def test_assignee_goes_through_the_acl(server, staff):
    group = "g" + uuid.uuid4().hex[:8]
    writer, reader, outsider = server.add_user(), server.add_user(), server.add_user()
    with model_db(server.database_url):
        create_group(group)
        set_membership(group, writer, "write")
        set_membership(group, reader, "read")
    server.client(writer).put_card(f"/dav/addressbooks/{writer}/group-{group}/x.vcf",
                                   make_card("as-" + uuid.uuid4().hex, "Assigned Person"))
    with model_db(server.database_url):
        book = AddressBook.get(AddressBook.owner_group == Group.get(Group.name == group).id)
        card = Contact.get((Contact.book == book.id) & (Contact.name == "x.vcf"))
        with pytest.raises(Forbidden):
            records.set_assignee(actor(reader), card, writer)
        with pytest.raises(NotFound):
            records.set_assignee(actor(outsider), card, writer)
        records.set_assignee(actor(writer), card, reader)
        records.set_assignee(actor(staff["admin"]), card, writer)
        assert Contact.get_by_id(card.id).assignee.username == writer
        cards.delete_card(actor(writer), card)
        with pytest.raises(NotFound):  # deleted: only a super admin reaches it
            records.set_assignee(actor(staff["admin"]), Contact.get_by_id(card.id), None)
        records.set_assignee(actor(staff["super"]), Contact.get_by_id(card.id), None)


def test_uid_longer_than_512_characters_is_400(dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    r = dav.put_card(book + "long.vcf", make_card("u" * 513, "Long Uid"))
    assert r.status == 400, r.text
    assert "UID" in r.text
    assert dav.request("GET", book + "long.vcf").status == 404
    assert dav.put_card(book + "long.vcf", make_card("u" * 512, "Long Uid")).status == 201


def test_a_stale_caller_never_brings_a_hidden_card_back(server, dav, user):
    """Each state change compares and swaps the state: an object read before someone
    else deleted the card cannot move, archive or restore it."""
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "s.vcf", make_card("stale-" + uuid.uuid4().hex, "Stale Person"))
    other = server.add_user()
    with model_db(server.database_url):
        me, stale = actor(user), row(user, "s.vcf")
        cards.delete_card(Actor.cli(), row(user, "s.vcf"))
        for call in (lambda: cards.archive_card(me, stale),
                     lambda: cards.change_owner(Actor.cli(), stale, personal(other))):
            with pytest.raises(PreconditionFailed):
                call()
        after = Contact.get_by_id(stale.id)
        assert (after.state, after.book_id, after.name_key) == ("deleted", stale.book_id, None)
    assert dav.request("GET", book + "s.vcf").status == 404
