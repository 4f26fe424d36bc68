"""Contact groups in the admin, over HTTP against the real server: create a group, add
and remove members from the group's page and from a member's page, rename it; what a
DAV client then sees (the group card, its ETag, sync-collection); errors and the ACL."""

from __future__ import annotations

import re
import uuid
from html import unescape

from tests.admin.support import AdminClient, new_contact, signed_in
from tests.admin.test_contacts import card_of
from tests.admin.test_security import contact_id_of
from tests.conftest import Server, model_db
from tests.davclient import NS, make_card


def create_group(client: AdminClient, name: str) -> int:
    client.get("/admin/contacts/groups/new")
    page = client.post("/admin/contacts/groups/new", {"name": name, "book": ""})
    match = re.search(r"/admin/contacts/(\d+)$", page.location)
    assert page.status == 302 and match, (page.status, page.text[-500:])
    return int(match.group(1))


def uid_of(server: Server, contact_id: int) -> str:
    from davcontacts.model import Contact
    with model_db(server.database_url):
        return Contact.get_by_id(contact_id).uid


def href_of(server: Server, contact_id: int, user: str | None = None) -> str:
    """The card's href in `user`'s home (a group book's member), else its owner's."""
    from davcontacts.model import AddressBook, Contact, Group, User
    with model_db(server.database_url):
        contact = Contact.get_by_id(contact_id)
        book = AddressBook.get_by_id(contact.book_id)
        if book.owner_group_id is None:
            return (f"/dav/addressbooks/{User.get_by_id(book.owner_user_id).username}/"
                    f"{book.slug}/{contact.name}")
        group = Group.get_by_id(book.owner_group_id)
        return f"/dav/addressbooks/{user}/group-{group.name}/{contact.name}"


def group_card(server: Server, user: str, contact_id: int) -> str:
    dav = server.client(user)
    try:
        resp = dav.request("GET", href_of(server, contact_id, user))
    finally:
        dav.close()
    assert resp.status == 200, resp.status
    return resp.text.replace("\r\n ", "")


def flashes(page_text: str) -> list[str]:
    return [unescape(m).strip() for m in
            re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', page_text)]


def member_lines(card: str) -> list[str]:
    return [line for line in card.split("\r\n") if "MEMBER:" in line]


def sync(server: Server, user: str, book: str, token: str = "") -> tuple[set[str], str]:
    client = server.client(user)
    try:
        resp = client.report(book, (
            '<D:sync-collection xmlns:D="DAV:"><D:sync-token>' + token
            + "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
            "</D:sync-collection>"))
    finally:
        client.close()
    assert resp.status == 207, resp.text
    return set(resp.responses()), resp.xml().findtext("D:sync-token", namespaces=NS)


def test_create_fill_rename_and_empty_a_group(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    person = new_contact(client, "person", given="Gina", family="Grouped")
    company = new_contact(client, "company", fn="Grouped Works Ltd")
    book = f"/dav/addressbooks/{member}/personal/"
    _, token = sync(server, member, book)

    group = create_group(client, "Newsletter")
    card = card_of(server, group)
    assert "X-ADDRESSBOOKSERVER-KIND:group" in card and "FN:Newsletter" in card
    assert member_lines(card) == []
    page = client.get(f"/admin/contacts/{group}")
    assert "Contact group" in page.text and "This group has no members yet." in page.text
    assert "Newsletter" in client.get("/admin/?kind=group").text

    # from the group's page, by name (case does not matter)
    page = client.post(f"/admin/contacts/{group}/members/add", {"name": "gina grouped"})
    assert page.status == 302 and page.location.endswith(f"/admin/contacts/{group}#members")
    # from the company's page, by choosing the group
    page = client.get(f"/admin/contacts/{company}")
    assert f'<option value="{group}">Newsletter</option>' in page.text
    page = client.post(f"/admin/contacts/{company}/groups/add", {"group": str(group)})
    assert page.location.endswith(f"/admin/contacts/{company}#groups")
    page = client.get(f"/admin/contacts/{group}")
    assert "Gina Grouped" in page.text and "Grouped Works Ltd" in page.text
    card = card_of(server, group)
    assert member_lines(card) == [
        f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{uid_of(server, person)}",
        f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{uid_of(server, company)}"]
    changed, token = sync(server, member, book, token)
    assert changed == {href_of(server, group)}  # the group card; its members are untouched

    # a vCard 4 client sees KIND:group and MEMBER
    dav = server.client(member)
    try:
        resp = dav.request("GET", href_of(server, group),
                           headers={"Accept": "text/vcard; version=4.0"})
    finally:
        dav.close()
    assert "KIND:group" in resp.text and f"MEMBER:urn:uuid:{uid_of(server, person)}" in resp.text

    # the person's page shows its group; remove it there
    page = client.get(f"/admin/contacts/{person}")
    assert re.search(rf'href="/admin/contacts/{group}">Newsletter</a>', page.text)
    page = client.post(f"/admin/contacts/{person}/groups/remove", {"group": str(group)})
    assert page.location.endswith(f"/admin/contacts/{person}#groups")
    assert "In no group." in client.get(f"/admin/contacts/{person}").text
    assert member_lines(card_of(server, group)) == [
        f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{uid_of(server, company)}"]

    page = client.post(f"/admin/contacts/{group}/rename", {"name": "  Board   of  Friends "})
    assert page.status == 302
    card = card_of(server, group)
    assert "FN:Board of Friends" in card and "N:Board of Friends;;;;" in card
    company_uid = uid_of(server, company)
    client.post(f"/admin/contacts/{group}/members/remove", {"uid": company_uid})
    assert member_lines(card_of(server, group)) == []
    page = client.get(f"/admin/contacts/{group}")
    assert "This group has no members yet." in page.text
    assert "Removed from Board of Friends." in flashes(page.text)
    changed, _ = sync(server, member, book, token)
    assert changed == {href_of(server, group)}


def test_a_clients_group_keeps_its_lines_and_unknown_members(server: Server) -> None:
    member = server.add_user()
    gone, uid = uuid.uuid4().hex, uuid.uuid4().hex
    href = f"/dav/addressbooks/{member}/personal/{uid}.vcf"
    group_card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iOS 18.0//EN\r\n"
                  f"N:Family\r\nFN:Family\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"
                  f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{gone}\r\nX-APPLE-SORT:1\r\n"
                  f"UID:{uid}\r\nREV:2024-01-01T00:00:00Z\r\nEND:VCARD\r\n")
    dav = server.client(member)
    try:
        assert dav.put_card(href, group_card).status == 201
        old_etag = dav.request("GET", href).header("ETag")
        kid_href = f"/dav/addressbooks/{member}/personal/kid.vcf"
        assert dav.put_card(kid_href, make_card("kid-uid", "Kid Family")).status == 201
    finally:
        dav.close()
    group = contact_id_of(server, href)
    client = signed_in(server, member)
    page = client.get(f"/admin/contacts/{group}")
    assert "Not a live contact of this book" in page.text and gone[:20] in page.text
    client.post(f"/admin/contacts/{group}/members/add", {"name": "Kid Family"})
    card = card_of(server, group)
    for line in group_card.split("\r\n")[:-2]:  # every line the client wrote is still there
        assert line in card.split("\r\n"), line
    assert member_lines(card) == [f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{gone}",
                                  "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:kid-uid"]
    dav = server.client(member)
    try:
        stale = dav.put_card(href, group_card, {"If-Match": old_etag})
        assert stale.status == 412  # the admin's change moved the ETag
    finally:
        dav.close()
    # the unknown member can be taken out; the known one stays
    client.post(f"/admin/contacts/{group}/members/remove", {"uid": gone})
    assert member_lines(card_of(server, group)) == [
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:kid-uid"]
    # adding it twice changes nothing
    before = card_of(server, group)
    client.post(f"/admin/contacts/{group}/members/add", {"name": "Kid Family"})
    assert card_of(server, group) == before


def test_errors_are_messages_and_change_nothing(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    client.get("/admin/contacts/groups/new")
    page = client.post("/admin/contacts/groups/new", {"name": "   ", "book": ""})
    assert page.status == 400 and "give the group a name" in page.text
    group = create_group(client, "Errors")
    new_contact(client, "person", fn="Twin Name", given="Twin", family="One")
    new_contact(client, "person", fn="Twin Name", given="Twin", family="Two")
    before = card_of(server, group)
    for name, message in (("Nobody Here", "No contact named “Nobody Here”"),
                          ("twin name", "Several contacts are named “twin name”"),
                          ("Errors", "No contact named “Errors”")):  # not itself
        client.post(f"/admin/contacts/{group}/members/add", {"name": name})
        assert any(message in f for f in flashes(client.get(f"/admin/contacts/{group}").text)), \
            name
    client.post(f"/admin/contacts/{group}/groups/add", {"group": str(group)})
    assert "a group cannot list itself" in flashes(client.get(f"/admin/contacts/{group}").text)
    client.post(f"/admin/contacts/{group}/members/remove", {"uid": "not-a-member"})
    assert "the group does not list that member" in flashes(
        client.get(f"/admin/contacts/{group}").text)
    person = new_contact(client, "person", given="Plain", family="Person")
    client.post(f"/admin/contacts/{group}/rename", {"name": "x" * 256})
    assert any("at most 255 characters" in f
               for f in flashes(client.get(f"/admin/contacts/{group}").text))
    client.post(f"/admin/contacts/{person}/groups/add", {"group": str(person)})
    assert "That contact is not a contact group." in flashes(
        client.get(f"/admin/contacts/{person}").text)
    assert card_of(server, group) == before

    # another member sees neither the group nor the person: 404, nothing changes
    stranger = signed_in(server, server.add_user())
    stranger.get("/admin/")
    assert stranger.post(f"/admin/contacts/{group}/members/add",
                         {"name": "Plain Person"}).status == 404
    assert stranger.post(f"/admin/contacts/{person}/groups/add",
                         {"group": str(group)}).status == 404
    assert card_of(server, group) == before


def test_groups_list_only_contacts_of_their_book_and_respect_read_access(
        server: Server) -> None:
    from davcontacts.contacts.groups import create_group as create_user_group
    from davcontacts.contacts.groups import set_membership
    writer, reader = server.add_user(), server.add_user()
    team = "team" + uuid.uuid4().hex[:6]
    with model_db(server.database_url):
        create_user_group(team)
        set_membership(team, writer, "write")
        set_membership(team, reader, "read")
    client = signed_in(server, writer)
    outsider = new_contact(client, "person", given="Personal", family="Book")
    client.get("/admin/contacts/groups/new")
    page = client.get("/admin/contacts/groups/new")
    team_book = re.search(r'<option value="(\d+)"[^>]*>[^<]*\(group-' + team, page.text).group(1)
    page = client.post("/admin/contacts/groups/new", {"name": "Team list", "book": team_book})
    group = int(re.search(r"/admin/contacts/(\d+)$", page.location).group(1))
    assert href_of(server, group, writer).startswith(f"/dav/addressbooks/{writer}/group-{team}/")
    # a contact of the writer's personal book is not offered and cannot be added
    assert "Add to group" not in client.get(f"/admin/contacts/{outsider}").text
    client.post(f"/admin/contacts/{outsider}/groups/add", {"group": str(group)})
    assert "a group lists only live contacts of its own address book" in flashes(
        client.get(f"/admin/contacts/{outsider}").text)
    client.post(f"/admin/contacts/{group}/members/add",
                {"member_id": str(outsider), "name": "Personal Book"})  # a forged pick
    assert "a group lists only live contacts of its own address book" in flashes(
        client.get(f"/admin/contacts/{group}").text)
    # the picker's suggestions come from the group's book only
    api = client.get(f"/admin/api/contacts?kind=person&q=Book&book={team_book}")
    assert api.status == 200 and api.text.strip() == "[]"
    assert "Personal Book" in client.get("/admin/api/contacts?kind=person&q=Book").text
    assert client.get("/admin/api/contacts?kind=person&book=x").status == 400
    assert member_lines(group_card(server, writer, group)) == []

    # a reader sees the group and its members but may not change them
    dav = server.client(writer)
    try:
        href = f"/dav/addressbooks/{writer}/group-{team}/mate.vcf"
        assert dav.put_card(href, make_card("mate-uid", "Team Mate")).status == 201
    finally:
        dav.close()
    client.post(f"/admin/contacts/{group}/members/add", {"name": "Team Mate"})
    watcher = signed_in(server, reader)
    page = watcher.get(f"/admin/contacts/{group}")
    assert "Team Mate" in page.text and "Add member" not in page.text
    watcher.post(f"/admin/contacts/{group}/members/remove", {"uid": "mate-uid"})
    assert "read-only access to this address book" in flashes(
        watcher.get(f"/admin/contacts/{group}").text)
    assert member_lines(group_card(server, writer, group)) == [
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:mate-uid"]


def test_a_group_has_no_business_roles(server: Server) -> None:
    client = signed_in(server, server.add_user())
    group = create_group(client, "No roles")
    assert 'id="roles"' not in client.get(f"/admin/contacts/{group}").text
    client.post(f"/admin/contacts/{group}/roles", {"role": "client", "number": "G-1"})
    assert "a contact group has no business roles; give them to its members" in flashes(
        client.get(f"/admin/contacts/{group}").text)
    from davcontacts.model import BusinessAccount
    with model_db(server.database_url):
        assert not BusinessAccount.select().where(BusinessAccount.contact == group).exists()
