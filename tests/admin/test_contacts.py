"""The contacts pages over HTTP: creating and editing through the form (and what DAV
clients then see), conflicts, validation, photos, listing with filters, search, sort
and keyset pages, bulk actions."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from html import unescape

from tests.admin.support import AdminClient, new_contact, signed_in
from tests.admin.test_security import contact_id_of, dav_put
from tests.conftest import Server, model_db


def card_of(server: Server, contact_id: int) -> str:
    """The stored vCard of a contact, as DAV serves it (GET by its href)."""
    from davcontacts.model import AddressBook, Contact, User
    with model_db(server.database_url):
        contact = Contact.get_by_id(contact_id)
        book = AddressBook.get_by_id(contact.book_id)
        owner = User.get_by_id(book.owner_user_id)
        href = f"/dav/addressbooks/{owner.username}/{book.slug}/{contact.name}"
    client = server.client(owner.username)
    try:
        resp = client.request("GET", href)
    finally:
        client.close()
    assert resp.status == 200, (href, resp.status)
    return resp.text.replace("\r\n ", "")


def names_on(page_text: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<span class="name">([^<]*)</span>', page_text)]


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_company_and_person_through_the_form(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    company = new_contact(client, "company", fn="Globex Corporation",
                          email_type="work", email_value="info@globex.example",
                          adr_type="billing", adr_pobox="", adr_ext="", adr_street="1 Main St",
                          adr_locality="Springfield", adr_region="", adr_code="12345",
                          adr_country="USA", tags="customer")
    person = new_contact(client, "person", given="Hank", family="Scorpio",
                         company="Globex Corporation", title="CEO",
                         email_type="work", email_value="hank@globex.example",
                         phone_type="cell", phone_value="+1 555 0100",
                         birthday="1961-04-02", tags="vip, board", note="Likes hammocks")
    card = card_of(server, person)
    assert "FN:Hank Scorpio" in card and "N:Scorpio;Hank;;;" in card
    assert "ORG:Globex Corporation" in card and "TITLE:CEO" in card
    assert "CATEGORIES:vip,board" in card and "BDAY:1961-04-02" in card
    assert "EMAIL;TYPE=WORK:hank@globex.example" in card and "TEL;TYPE=CELL:+1 555 0100" in card
    company_card = card_of(server, company)
    assert "X-ABShowAs:COMPANY" in company_card and "ORG:Globex Corporation" in company_card
    assert "X-ABLabel:Billing" in company_card
    from davcontacts.model import Contact, Revision
    with model_db(server.database_url):
        assert Contact.get_by_id(person).company_id == company
        revision = Revision.get(Revision.contact == person)
        assert (revision.door, revision.action) == ("admin", "create")
    page = client.get(f"/admin/contacts/{company}")
    assert "Hank Scorpio" in page.text and "People" in page.text
    page = client.get(f"/admin/contacts/{person}")
    assert f'href="/admin/contacts/{company}"' in page.text and "via admin" in page.text


def test_edit_keeps_what_the_form_does_not_show(server: Server) -> None:
    member = server.add_user()
    href = dav_put(server, member, "Ada Lovelace",
                   "X-SOCIALPROFILE;TYPE=twitter:https://x.example/ada\r\n"
                   "item1.URL:https://ada.example\r\nitem1.X-ABLabel:_$!<HomePage>!$_\r\n"
                   "TEL;TYPE=CELL,PREF:+44 20 7946 0000")
    cid = contact_id_of(server, href)
    client = signed_in(server, member)
    page = client.get(f"/admin/contacts/{cid}/edit")
    etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    assert 'value="cell,pref" selected' in page.text  # an unusual type set is offered as is
    page = client.post(f"/admin/contacts/{cid}/edit", [
        ("kind", "person"), ("etag", etag), ("given", "Ada"), ("family", "King"),
        ("email_type", "work"), ("email_value", f"{href.split('/')[-1][:-4]}@example.com"),
        ("phone_type", "cell,pref"), ("phone_value", "+44 20 7946 0000"),
        ("url_value", "https://ada.example"), ("tags", "math")])
    assert page.status == 302, page.errors()
    card = card_of(server, cid)
    assert "FN:Ada King" in card and "N:King;Ada;;;" in card and "CATEGORIES:math" in card
    assert "X-SOCIALPROFILE;TYPE=twitter:https://x.example/ada" in card
    assert "item1.URL:https://ada.example" in card and "TEL;TYPE=CELL,PREF:+44" in card
    history = client.get(f"/admin/contacts/{cid}").text
    assert history.count("via admin") == 1 and history.count("via dav") == 1


def test_websites_through_the_form(server: Server) -> None:
    member = server.add_user()
    href = dav_put(server, member, "Web Site",
                   "item1.URL:https://old.example\r\nitem1.X-ABLabel:_$!<HomePage>!$_\r\n"
                   "URL;TYPE=WORK:https://work.example/team")
    cid = contact_id_of(server, href)
    client = signed_in(server, member)
    page = client.get(f"/admin/contacts/{cid}/edit")
    assert 'value="https://old.example"' in page.text
    assert 'value="https://work.example/team"' in page.text
    etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    form = [("kind", "person"), ("etag", etag), ("fn", "Web Site"),
            ("url_value", "https://work.example/team"), ("url_value", "not a web address"),
            ("url_value", "")]
    page = client.post(f"/admin/contacts/{cid}/edit", form)
    assert page.status == 400 and "Enter a web address" in " ".join(page.errors())
    assert 'value="not a web address"' in page.text  # what was typed stays
    assert "https://old.example" in card_of(server, cid)  # nothing stored
    form[4] = ("url_value", "example.org/about")  # a bare host gets https://
    page = client.post(f"/admin/contacts/{cid}/edit", form)
    assert page.status == 302, page.errors()
    card = card_of(server, cid)
    assert "old.example" not in card and "HomePage" not in card  # removed with its label
    assert "URL;TYPE=WORK:https://work.example/team" in card  # kept as written
    assert "URL:https://example.org/about" in card
    page = client.get(f"/admin/contacts/{cid}")
    assert 'href="https://example.org/about" rel="noopener noreferrer"' in page.text


def test_concurrent_change_is_a_readable_conflict(server: Server) -> None:
    member = server.add_user()
    href = dav_put(server, member, "Grace Hopper")
    cid = contact_id_of(server, href)
    client = signed_in(server, member)
    page = client.get(f"/admin/contacts/{cid}/edit")
    etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    dav = server.client(member)
    try:  # a phone writes meanwhile
        changed = dav.request("GET", href).text.replace("END:VCARD", "TITLE:Admiral\r\nEND:VCARD")
        assert dav.put_card(href, changed).status == 204
    finally:
        dav.close()
    form = [("kind", "person"), ("etag", etag), ("given", "Grace"), ("family", "Hopper"),
            ("note", "my careful note")]
    page = client.post(f"/admin/contacts/{cid}/edit", form)
    assert page.status == 409
    assert "changed while you were editing" in page.text and "title" in page.text
    assert "my careful note" in page.text  # the user's input is still on the page
    assert "TITLE:Admiral" in card_of(server, cid) and "my careful note" not in card_of(
        server, cid)
    new_etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    assert new_etag != etag
    page = client.post(f"/admin/contacts/{cid}/edit",
                       [(k, new_etag if k == "etag" else v) for k, v in form])
    assert page.status == 302
    assert "NOTE:my careful note" in card_of(server, cid)


def test_validation_messages_and_nothing_stored(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    client.get("/admin/contacts/new?kind=person")
    page = client.post("/admin/contacts/new", [
        ("kind", "person"), ("given", "Val"), ("family", "Idation"),
        ("email_type", ""), ("email_value", "not-an-email"),
        ("phone_type", "cell"), ("phone_value", "call me maybe"),
        ("birthday", "1990-02-31"), ("reports_to", "Nobody Atall"), ("assignee", "ghost-user")])
    assert page.status == 400
    errors = " ".join(page.errors())
    for expected in ("email address", "digits", "YYYY-MM-DD", "No person", "No active user"):
        assert expected in errors, expected
    assert 'value="not-an-email"' in page.text  # what was typed stays
    assert names_on(client.get("/admin/?q=Idation").text) == []
    client.get("/admin/contacts/new?kind=company")
    page = client.post("/admin/contacts/new", [("kind", "company"), ("fn", "")])
    assert page.status == 400 and "company's name" in " ".join(page.errors())


def test_photo_upload_is_bounded_and_served_as_an_image(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    client.get("/admin/contacts/new?kind=person")
    image = png()
    page = client.post_multipart("/admin/contacts/new", [("kind", "person"), ("given", "Pic")],
                                 [("photo", "me.png", "image/png", image)])
    assert page.status == 302, page.errors()
    cid = int(page.location.rsplit("/", 1)[1])
    assert "PHOTO;ENCODING=b;TYPE=PNG:" in card_of(server, cid)
    photo = client.get(f"/admin/contacts/{cid}/photo")
    assert photo.status == 200 and photo.header("Content-Type") == "image/png"
    client.get("/admin/contacts/new?kind=person")
    page = client.post_multipart("/admin/contacts/new", [("kind", "person"), ("given", "Svg")],
                                 [("photo", "x.svg", "image/svg+xml",
                                   b"<svg onload=alert(1)></svg>")])
    assert page.status == 400 and "JPEG, PNG" in " ".join(page.errors())
    client.get("/admin/contacts/new?kind=person")
    big = image + b"\x00" * (512 * 1024)  # over the default dav.max_photo_size
    page = client.post_multipart("/admin/contacts/new", [("kind", "person"), ("given", "Big")],
                                 [("photo", "big.png", "image/png", big)])
    assert page.status == 400 and "larger than" in " ".join(page.errors())


def test_keyset_pages_walk_forward_and_back(server: Server) -> None:
    member = server.add_user()
    from davcontacts.contacts.actor import Actor
    from davcontacts.contacts.cards import put_card
    from davcontacts.model import AddressBook, User
    from tests.davclient import make_card
    names = [f"Page Person {i:03d}" for i in range(123)]
    with model_db(server.database_url):
        user = User.get(User.username == member)
        book = AddressBook.get(AddressBook.owner_user == user.id)
        for i, name in enumerate(names):
            uid = f"kp-{i}-{uuid.uuid4().hex[:6]}"
            extra = f"ADR;TYPE=work:;;;City {i % 7};;;\r\nORG:Org {i % 5}"
            put_card(Actor(user, "cli"), book, f"{uid}.vcf",
                     make_card(uid, name, extra=extra).encode(), max_size=1 << 20)
    client = signed_in(server, member)
    seen, path, pages = [], "/admin/?view=table", []
    while path:
        page = client.get(unescape(path))
        assert page.status == 200
        pages.append(page)
        seen += names_on(page.text)
        nxt = re.search(r'href="([^"]+)" rel="next"', page.text)
        path = nxt.group(1) if nxt else None
    assert seen == sorted(names) and len(pages) == 3
    prev = re.search(r'href="([^"]+)" rel="prev"', pages[-1].text).group(1)
    assert names_on(client.get(unescape(prev)).text) == sorted(names)[50:100]
    by_city = names_on(client.get("/admin/?sort=city&dir=desc").text)
    assert by_city[0] == max(n for i, n in enumerate(names) if i % 7 == 6)
    by_company = client.get("/admin/?sort=company").text
    assert "Org 0" in by_company and "Org 4" not in by_company.split("rel=\"next\"")[0][-2000:]


def test_filters_search_and_views(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    acme = new_contact(client, "company", fn="Acme Filters", tags="supplier")
    new_contact(client, "person", given="Wile", family="Coyote", company="Acme Filters",
                phone_type=["cell", "work"], phone_value=["+1 555 0001", "+1 555 7777"],
                tags="customer")
    assert names_on(client.get("/admin/?kind=company").text) == ["Acme Filters"]
    assert names_on(client.get("/admin/?kind=person").text) == ["Wile Coyote"]
    assert names_on(client.get("/admin/?tag=customer").text) == ["Wile Coyote"]
    assert names_on(client.get("/admin/?q=555%207777").text) == ["Wile Coyote"]  # 2nd phone
    assert names_on(client.get("/admin/?q=acme").text) == ["Acme Filters", "Wile Coyote"]
    assert names_on(client.get("/admin/?q=100%25").text) == []  # LIKE wildcards are text
    cards = client.get("/admin/?view=cards")
    assert cards.text.count('class="contact-card"') == 2
    assert 'class="contact-card"' in client.get("/admin/").text  # the view is remembered
    table = client.get("/admin/?view=table").text
    for column in ("Name", "Company", "City", "Phone", "Email", "Owner", "Tags"):
        assert f">{column}<" in table or f">{column}<span" in table, column
    assert f'href="/admin/contacts/{acme}"' in table


def test_bulk_tag_delete_archive_and_restore(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    ids = [new_contact(client, "person", given=f"Bulk{i}", family="Person") for i in range(3)]
    client.get("/admin/")
    page = client.post("/admin/contacts/bulk", [("action", "tag"), ("tag", "event-2026"),
                                                ("back", "/admin/"), *[("ids", str(i))
                                                                       for i in ids[:2]]])
    assert page.status == 302
    assert "CATEGORIES:event-2026" in card_of(server, ids[0])
    assert "CATEGORIES" not in card_of(server, ids[2])
    listing = client.get("/admin/?tag=event-2026").text
    assert names_on(listing) == ["Bulk0 Person", "Bulk1 Person"]
    client.post("/admin/contacts/bulk", [("action", "archive"), ("ids", str(ids[0])),
                                         ("back", "/admin/")])
    client.post("/admin/contacts/bulk", [("action", "delete"), ("ids", str(ids[1])),
                                         ("back", "/admin/")])
    assert names_on(client.get("/admin/?q=Bulk").text) == ["Bulk2 Person"]
    assert names_on(client.get("/admin/?q=Bulk&state=archived").text) == ["Bulk0 Person"]
    assert "Deleted" not in client.get("/admin/").text  # a member sees no deleted contacts
    assert names_on(client.get("/admin/?q=Bulk&state=deleted").text) == ["Bulk2 Person"]
    client.get("/admin/?state=archived")
    client.post("/admin/contacts/bulk", [("action", "restore"), ("ids", str(ids[0])),
                                         ("back", "/admin/")])
    assert names_on(client.get("/admin/?q=Bulk").text) == ["Bulk0 Person", "Bulk2 Person"]
    root = signed_in(server, server.add_user(role="superadmin"))
    assert "Bulk1 Person" in root.get("/admin/?q=Bulk1&state=deleted").text


def test_carddav_setup_lists_the_users_urls(server: Server) -> None:
    member = server.add_user()
    page = signed_in(server, member).get("/admin/setup")
    base = f"http://127.0.0.1:{server.port}"
    for url in (f"{base}/.well-known/carddav", f"{base}/dav/",
                f"{base}/dav/addressbooks/{member}/personal/"):
        assert url in page.text


def test_reports_to_and_assignee(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    boss = new_contact(client, "person", given="Big", family="Boss")
    worker = new_contact(client, "person", given="Worker", family="Bee",
                         reports_to="Big Boss", reports_to_id=str(boss), assignee=member)
    page = client.get(f"/admin/contacts/{worker}")
    assert f'href="/admin/contacts/{boss}">Big Boss' in page.text
    assert "Worker Bee" in client.get(f"/admin/contacts/{boss}").text  # listed as a report
    from davcontacts.model import Contact
    with model_db(server.database_url):
        row = Contact.get_by_id(worker)
        assert row.reports_to_id == boss and row.assignee.username == member


def test_company_picker_suggests_visible_companies(server: Server) -> None:
    member, other = server.add_user(), server.add_user()
    mine = signed_in(server, member)
    new_contact(mine, "company", fn="Picker Visible Inc")
    new_contact(signed_in(server, other), "company", fn="Picker Hidden Inc")
    data = mine.get("/admin/api/contacts?kind=company&q=picker").text
    assert "Picker Visible Inc" in data and "Picker Hidden Inc" not in data


def test_admins_see_every_book(server: Server) -> None:
    member = server.add_user()
    new_contact(signed_in(server, member), "person", given="Member", family="Owned")
    admin = AdminClient(server)
    admin.login(server.add_user(role="admin"))
    assert "Member Owned" in admin.get("/admin/?q=Owned").text


def test_owner_change_moves_the_card_between_books(server: Server) -> None:
    member = server.add_user()
    group = "own" + uuid.uuid4().hex[:6]
    from davcontacts.contacts.groups import create_group, set_membership
    with model_db(server.database_url):
        create_group(group)
        set_membership(group, member, "write")
    href = dav_put(server, member, "Moving Person")
    cid = contact_id_of(server, href)
    admin = signed_in(server, server.add_user(role="admin"))
    page = admin.get(f"/admin/contacts/{cid}/edit")  # another user's book stays selected
    etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    book = re.search(r'<option value="(\d+)" selected>', page.text).group(1)
    page = admin.post(f"/admin/contacts/{cid}/edit", [
        ("kind", "person"), ("etag", etag), ("fn", "Moving Person"), ("book", book),
        ("title", "Edited by an admin")])
    assert page.status == 302, page.errors()
    assert "TITLE:Edited by an admin" in card_of(server, cid)
    client = signed_in(server, member)
    page = client.get(f"/admin/contacts/{cid}/edit")
    etag = re.search(r'name="etag" value="([^"]+)"', page.text).group(1)
    group_book = re.search(r'<option value="(\d+)" >[^<]*\(group-', page.text).group(1)
    page = client.post(f"/admin/contacts/{cid}/edit", [
        ("kind", "person"), ("etag", etag), ("fn", "Moving Person"), ("book", group_book)])
    assert page.status == 302, page.errors()
    dav = server.client(member)
    try:
        name = href.rsplit("/", 1)[1]
        assert dav.request("GET", href).status == 404
        assert dav.request("GET", f"/dav/addressbooks/{member}/group-{group}/{name}"
                           ).status == 200
    finally:
        dav.close()
