"""Import, export and restore in the admin, over HTTP against the real server: a CSV
with foreign headers mapped by hand, its dry run and import row by row (checked over
DAV), a .vcf file, uploads that another user or another worker process reaches, the
export of a filter streamed as CSV and .vcf, and restores, the conflicting one too."""

from __future__ import annotations

import csv
import io
import re
import uuid
from html import unescape

from tests.admin.support import AdminClient, Page, new_contact, signed_in
from tests.admin.test_contacts import card_of, names_on
from tests.admin.test_security import contact_id_of, dav_put, dav_status
from tests.conftest import Server
from tests.davclient import make_card
from tests.test_serving import access_lines


def upload(client: AdminClient, name: str, data: bytes, book: str = "") -> Page:
    client.get("/admin/import")
    page = client.post_multipart("/admin/import", [("book", book)],
                                 [("file", name, "text/csv", data)])
    assert page.status == 302, (page.status, page.text[:500])
    return page


def token_of(page: Page) -> str:
    return re.search(r"/admin/import/([\w-]+)", page.location).group(1)


def outcomes(text: str) -> list[tuple[str, str, str]]:
    """(row, outcome, contact or reason) of a report table."""
    rows = re.findall(r'<tr class="outcome-(\w+)">\s*<td[^>]*>(\d+)</td>.*?'
                      r'<td data-label="Contact">(.*?)</td>', text, re.S)
    return [(number, outcome, unescape(re.sub(r"<[^>]+>", "", cell)))
            for outcome, number, cell in rows]


def dav_names(server: Server, user: str) -> set[str]:
    client = server.client(user)
    try:
        book = f"/dav/addressbooks/{user}/personal/"
        listing = client.propfind(book, ["D:getetag"], depth="1")
        return {client.request("GET", href).text.split("FN:")[1].split("\r\n")[0]
                for href in listing.responses() if href.endswith(".vcf")}
    finally:
        client.close()


FOREIGN = ("First Name,Last Name,E-mail Address,Organization,Shoe size,Labels\r\n"
           "Ada,Import,ada@import.example,Acme Import,42,vip\r\n"
           "Bob,Import,not an email,,41,\r\n"
           "Cy,Import,cy@import.example,,,\"a,b\"\r\n"
           "Dee,Import,dee@import.example,,,\r\n").encode()


def test_csv_preview_mapping_dry_run_and_import(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    page = upload(client, "google.csv", FOREIGN)
    token = token_of(page)
    page = client.get(page.location)
    assert page.status == 200 and "Shoe size" in page.text and "Ada" in page.text
    selected = re.findall(r'<option value="([^"]+)" selected>', page.text)
    assert selected[:6] == ["given", "family", "email", "company", "-", "tags"]
    mapping = [("map_0", "given"), ("map_1", "family"), ("map_2", "email"),
               ("map_3", "company"), ("map_4", "-"), ("map_5", "tags")]
    page = client.post(f"/admin/import/{token}", [*mapping, ("action", "check")])
    assert page.status == 200 and "Dry run: nothing was written" in page.text
    assert outcomes(page.text) == []  # the email is not checked by the importer: fine
    assert dav_names(server, member) == set()
    page = client.post(f"/admin/import/{token}", [*mapping[:4], ("map_4", "note"),
                                                  ("map_5", "note"), ("action", "check")])
    assert page.status == 400 and "appears more than once" in page.text
    page = client.post(f"/admin/import/{token}", [*mapping, ("action", "import")])
    assert page.status == 200 and "Imported google.csv" in page.text
    rows = outcomes(page.text)
    assert [(n, o) for n, o, _ in rows] == [("2", "created"), ("3", "created"),
                                            ("4", "created"), ("5", "created")]
    assert rows[0][2] == "Ada Import"
    assert dav_names(server, member) == {"Ada Import", "Bob Import", "Cy Import", "Dee Import"}
    cid = int(re.search(r'href="/admin/contacts/(\d+)">Ada Import', page.text).group(1))
    card = card_of(server, cid)
    assert "ORG:Acme Import" in card and "CATEGORIES:vip" in card and ":42" not in card
    from davcontacts.model import Revision
    from tests.conftest import model_db
    with model_db(server.database_url):
        assert Revision.get(Revision.contact == cid).door == "import"
    assert client.get(f"/admin/import/{token}").status == 404  # gone after the import


def test_a_bad_row_is_reported_and_the_others_imported(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    data = ("fn,email,birthday\r\nGood One,one@x.example,1980-01-02\r\n"
            "Bad Date,bad@x.example,1980-13-45\r\nGood Two,two@x.example,\r\n").encode()
    token = token_of(upload(client, "people.csv", data))
    page = client.post(f"/admin/import/{token}", [("action", "check")])
    assert outcomes(page.text) == [("3", "failed", "birthday '1980-13-45' is not a date: "
                                               "write YYYY-MM-DD, or --MM-DD without a year")]
    assert "<strong>2</strong> to create" in page.text
    page = client.post(f"/admin/import/{token}", [("action", "import")])
    assert [(n, o) for n, o, _ in outcomes(page.text)] == [
        ("2", "created"), ("3", "failed"), ("4", "created")]
    assert dav_names(server, member) == {"Good One", "Good Two"}


def test_vcf_import_and_a_second_import_updates(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    uid = uuid.uuid4().hex
    data = (make_card(uid, "Vcf Person") + make_card(uid + "b", "Vcf Other")
            + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n").encode()
    token = token_of(upload(client, "cards.vcf", data))
    page = client.get(f"/admin/import/{token}")
    assert "Vcf Person" in page.text and "3 cards" in page.text
    page = client.post(f"/admin/import/{token}", [("action", "import")])
    assert [(n, o) for n, o, _ in outcomes(page.text)] == [
        ("1", "created"), ("2", "created"), ("3", "failed")]
    assert "the vCard has no UID" in page.text
    changed = make_card(uid, "Vcf Person").replace("END:VCARD", "TITLE:Updated\r\nEND:VCARD")
    token = token_of(upload(client, "again.vcf", changed.encode()))
    page = client.post(f"/admin/import/{token}", [("action", "import")])
    assert [(n, o) for n, o, _ in outcomes(page.text)] == [("1", "updated")]
    assert "Vcf Person" in dav_names(server, member)


def test_uploads_belong_to_their_uploader_and_can_be_discarded(server: Server) -> None:
    alice = signed_in(server, server.add_user())
    token = token_of(upload(alice, "mine.csv", b"fn\r\nSecret Row\r\n"))
    bob = signed_in(server, server.add_user())
    assert bob.get(f"/admin/import/{token}").status == 404
    bob.get("/admin/")
    assert bob.post(f"/admin/import/{token}", [("action", "import")]).status == 404
    alice.get(f"/admin/import/{token}")
    page = alice.post(f"/admin/import/{token}", [("action", "discard")])
    assert page.status == 302 and page.location == "/admin/import"
    assert alice.get(f"/admin/import/{token}").status == 404
    alice.get("/admin/import")
    page = alice.post_multipart("/admin/import", [], [("file", "x.xlsx", "application/zip",
                                                        b"PK\x03\x04")])
    assert page.status == 400 and "choose a .csv or .vcf file" in page.text
    token = token_of(upload(alice, "latin.csv", "fn\r\nJosé\r\n".encode("latin-1")))
    page = alice.get(f"/admin/import/{token}")
    assert page.status == 400 and "not UTF-8" in page.text


def test_export_streams_the_current_filter(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    new_contact(client, "company", fn="Export Co", tags="partner")
    for i in range(3):
        new_contact(client, "person", given=f"Exp{i}", family="Person", company="Export Co",
                    tags="partner" if i else "other")
    listing = client.get("/admin/?tag=partner")
    link = unescape(re.search(r'href="([^"]*/export\?[^"]*format=csv[^"]*)"',
                              listing.text).group(1))
    assert "tag=partner" in link
    resp = client.get(link)
    assert resp.status == 200 and resp.header("Content-Type").startswith("text/csv")
    assert "attachment" in resp.header("Content-Disposition")
    assert resp.header("Content-Length") is None  # streamed
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert sorted(r["fn"] for r in rows) == ["Exp1 Person", "Exp2 Person", "Export Co"]
    assert {r["owner"] for r in rows} == {member}
    resp = client.get("/admin/export?format=vcf&kind=person")
    assert resp.header("Content-Type").startswith("text/vcard")
    assert resp.text.count("BEGIN:VCARD") == 3 and "Export Co\r\nX-ABShowAs" not in resp.text
    assert client.get("/admin/export?format=xlsx").status == 400
    other = signed_in(server, server.add_user())
    assert "Export Co" not in other.get("/admin/export?format=csv").text


def test_restore_one_by_one_and_in_bulk_as_super_admin(server: Server) -> None:
    member = server.add_user()
    href = dav_put(server, member, "Restore Me")
    cid = contact_id_of(server, href)
    etag = server.client(member).request("GET", href).header("ETag")
    owner = signed_in(server, member)
    owner.get(f"/admin/contacts/{cid}")
    assert owner.post(f"/admin/contacts/{cid}/delete", {}).status == 302
    assert dav_status(server, member, href) == 404
    assert owner.get(f"/admin/contacts/{cid}").status == 404  # deleted: super admins only
    root = signed_in(server, server.add_user(role="superadmin"))
    page = root.get("/admin/?state=deleted&q=Restore%20Me")
    assert names_on(page.text) == ["Restore Me"] and 'value="restore"' in page.text
    # meanwhile the phone creates a card with the same UID and name again
    dav = server.client(member)
    try:
        again = make_card(href.rsplit("/", 1)[1][:-4], "Restore Me Again")
        assert dav.put_card(href, again).status == 201
    finally:
        dav.close()
    root.get(f"/admin/contacts/{cid}")
    page = root.post(f"/admin/contacts/{cid}/restore", {})
    assert page.status == 302 and "taken=" in page.location
    live = int(re.search(r"taken=(\d+)", page.location).group(1))
    page = root.get(page.location)
    text = unescape(page.text)
    assert "“Restore Me” cannot be restored: the contact “Restore Me Again” now uses its " \
        "file name" in text and "Archive or delete that contact first" in text
    assert f'href="/admin/contacts/{live}">Open' in page.text
    page = root.post("/admin/contacts/bulk", [("action", "restore"), ("ids", str(cid)),
                                              ("back", "/admin/?state=deleted")])
    assert "cannot be restored" in unescape(root.get(page.location).text)  # in bulk too
    root.post(f"/admin/contacts/{live}/archive", {})
    page = root.post("/admin/contacts/bulk", [("action", "restore"), ("ids", str(cid)),
                                              ("back", "/admin/?state=deleted")])
    assert page.status == 302
    dav = server.client(member)
    try:
        resp = dav.request("GET", href)
        assert resp.status == 200 and resp.header("ETag") == etag
        assert "FN:Restore Me\r\n" in resp.text
    finally:
        dav.close()


def test_an_upload_is_seen_by_every_worker_process(two_workers: Server) -> None:
    """Preview, check and import are separate requests, each on a new connection that
    either process may take: the file waits in the database, not in one of them."""
    server = two_workers
    member = server.add_user()
    client = signed_in(server, member)
    token = token_of(upload(client, "w.csv", b"fn\r\nWorker One\r\nWorker Two\r\n"))
    for _ in range(6):
        page = client.get(f"/admin/import/{token}")
        assert page.status == 200 and "Worker Two" in page.text
        page = client.post(f"/admin/import/{token}", [("action", "check")])
        assert "<strong>2</strong> to create" in page.text
    page = client.post(f"/admin/import/{token}", [("action", "import")])
    assert "<strong>2</strong> created" in page.text
    assert dav_names(server, member) == {"Worker One", "Worker Two"}
    pids = {m["pid"] for m in access_lines(server, 14) if "/admin/import/" in m.group(0)}
    assert len(pids) == 2, "the test needs both workers to answer"


def test_new_forms_need_the_csrf_token_and_pages_have_no_inline_code(server: Server) -> None:
    admin_name = server.add_user(role="admin")
    admin = signed_in(server, admin_name)
    person = new_contact(admin, "person", given="Csrf", family="Person")
    token = token_of(upload(admin, "t.csv", b"fn\r\nCsrf Row\r\n"))
    for path, data in ((f"/admin/contacts/{person}/roles", {"role": "client"}),
                       (f"/admin/contacts/{person}/roles/client/remove", {}),
                       (f"/admin/contacts/{person}/user/create", {"username": "csrfuser"}),
                       (f"/admin/contacts/{person}/user/link", {"username": admin_name}),
                       (f"/admin/contacts/{person}/user/unlink", {}),
                       ("/admin/account/app-passwords", {"label": "x"}),
                       ("/admin/account/app-passwords/abc/revoke", {}),
                       (f"/admin/users/{admin_name}/app-passwords/abc/revoke", {}),
                       (f"/admin/import/{token}", {"action": "import"}),
                       ("/admin/import", {})):
        assert admin.post(path, data, token=False).status == 400, path
    assert "Csrf Row" not in admin.get("/admin/?q=Csrf").text
    assert admin.get(f"/admin/contacts/{person}").text.count("No. ") == 0
    pages = ["/admin/account/", "/admin/import", f"/admin/import/{token}",
             f"/admin/contacts/{person}", f"/admin/users/{admin_name}"]
    admin.get(f"/admin/import/{token}")
    checked = admin.post(f"/admin/import/{token}", [("action", "check")]).text
    admin.get(f"/admin/contacts/{person}")
    created = admin.post(f"/admin/contacts/{person}/user/create",
                         {"username": "inline" + uuid.uuid4().hex[:6], "role": "member"}).text
    for text in [admin.get(path).text for path in pages] + [checked, created]:
        assert "<script>" not in text and "<style" not in text
        assert " style=" not in text and " onclick=" not in text
