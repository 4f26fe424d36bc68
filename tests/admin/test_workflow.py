"""The admin's whole workflow in a real browser (Debian's Chromium through Playwright),
as an admin and a super admin, each step checked from the CardDAV side:

  create a company, a person linked to it, set tags, give the person the client
  role, create a system user for them, archive two contacts at once, delete one,
  restore it as super admin, import a CSV with one bad row (the dry run shows the
  row's error, the import creates the good rows), export the list.

After each step a DAV request (GET, PROPFIND, or an incremental sync-collection
REPORT) shows what a syncing client sees. The person's new account then makes an app
password, which syncs but does not open the admin. Full-page screenshots of the pages
(contact page with roles and account, import preview, dry run and report, account
page, contacts table and cards, contact form) at 1280×800 and 390×844 go to
tests/artifacts/admin-screenshots/*-workflow-*.png.
"""

from __future__ import annotations

import csv
import re
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.admin.test_browser import SHOTS, SIZES, browser, open_page  # noqa: F401
from tests.conftest import TEST_PASSWORD, Server
from tests.davclient import NS, DavClient, make_card

__all__ = ["browser"]


class Dav:
    """What a syncing client of one user's personal book sees."""

    def __init__(self, server: Server, username: str, password: str = TEST_PASSWORD):
        self.client: DavClient = server.client(username, password)
        self.book = f"/dav/addressbooks/{username}/personal/"

    def close(self) -> None:
        self.client.close()

    def token(self) -> str:
        resp = self.client.propfind(self.book, ["D:sync-token"])
        return resp.prop(self.book, "D:sync-token").text

    def changes(self, token: str) -> dict[str, str]:
        """{href: "200" or "404"} of an incremental sync from `token`."""
        body = ('<D:sync-collection xmlns:D="DAV:"><D:sync-token>' + token
                + "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
                "</D:prop></D:sync-collection>")
        resp = self.client.report(self.book, body)
        assert resp.status == 207, resp.text
        out = {}
        for href, element in resp.responses().items():
            status = element.findtext("D:status", namespaces=NS)
            out[href] = status.split()[1] if status else "200"
        return out

    def cards(self) -> dict[str, str]:
        """{href: card text, unfolded} of every card in the book."""
        listing = self.client.propfind(self.book, ["D:getetag"], depth="1")
        assert listing.status == 207
        return {href: self.client.request("GET", href).text.replace("\r\n ", "")
                for href in listing.responses() if href.endswith(".vcf")}

    def find(self, fn: str) -> tuple[str, str]:
        """(href, text) of the card with this FN."""
        for href, text in self.cards().items():
            if f"\r\nFN:{fn}\r\n" in text:
                return href, text
        raise AssertionError(f"no card {fn!r} over DAV")

    def get(self, href: str):
        return self.client.request("GET", href)


def accept_next_dialog(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


def contact_url(page: Page) -> str:
    match = re.search(r"/admin/contacts/(\d+)", page.url)
    assert match, page.url
    return page.url.split("?")[0].split("#")[0]


def shoot(page: Page, server: Server, name: str, size: str) -> None:
    """The whole page; the form only as far as the viewport shows it (its sticky Save
    bar would land mid-page in a full-page shot)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{server.backend}-{name}-{size}.png"),
                    full_page="form" not in name)


def shoot_here(page: Page, server: Server, name: str) -> None:
    """The page as it is, at every size (a result that cannot be loaded again)."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, server, name, size)
    page.set_viewport_size(dict(zip(("width", "height"), SIZES["desktop"], strict=True)))


def shoot_sizes(browser: Browser, server: Server, username: str, shots: dict[str, str],
                errors: list[str]) -> None:
    """Screenshots of `shots` ({name: path}) at every size, signed in afresh per size."""
    for size in SIZES:
        page, more = open_page(browser, server, username, size)
        errors += more
        for name, path in shots.items():
            page.goto(f"{server.base_url}{path}")
            page.wait_for_load_state("networkidle")
            shoot(page, server, name, size)
        page.context.close()


def app_password_for(browser: Browser, server: Server, username: str, password: str
                     ) -> list[str]:
    """The new user signs in, makes an app password for their phone on their account
    page; it syncs over DAV but does not open the admin."""
    width, height = SIZES["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        def sign_in(secret: str) -> None:
            page.goto(f"{server.base_url}/admin/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", secret)
            page.click("button[type=submit]")

        sign_in(password)
        expect(page.locator("h1")).to_have_text(re.compile("Contacts"))
        page.click(".who")
        expect(page.locator("h1")).to_have_text("Your account")
        page.fill("input[name=label]", "Hank's phone")
        page.click("button:has-text('Create app password')")
        app_password = page.locator("[data-secret]").inner_text().strip()
        expect(page.locator("#app-passwords table")).to_contain_text("Hank's phone")
        shoot_here(page, server, "workflow-account")
        phone = Dav(server, username, app_password)
        try:
            assert phone.client.propfind(phone.book, ["D:displayname"]).status == 207
        finally:
            phone.close()
        page.click("button:has-text('Log out')")
        sign_in(app_password)
        expect(page.locator(".flash-error")).to_contain_text("Wrong user name or password")
    finally:
        context.close()
    return [e for e in errors if "401" not in e]  # the refused sign-in's status


def test_the_whole_workflow_as_admin_and_super_admin(browser: Browser, server: Server,
                                                     capsys) -> None:
    tag = uuid.uuid4().hex[:4]
    admin = server.add_user(f"admin{tag}", role="admin")
    root = server.add_user(f"root{tag}", role="superadmin")
    company, person = f"Globex {tag}", "Hank Scorpio"
    dav = Dav(server, admin)
    page, errors = open_page(browser, server, admin, "desktop")
    try:
        # 1. A company.
        page.click("text=New company")
        page.fill("input[name=fn]", company)
        page.fill("input[name=email_value]", "info@globex.example")
        page.fill("input[name=adr_locality]", "Cypress Creek")
        page.click("button:has-text('Create')")
        expect(page.locator("h1")).to_have_text(company)
        company_url = contact_url(page)
        _, text = dav.find(company)
        assert "X-ABShowAs:COMPANY" in text and f"ORG:{company}" in text

        # 2. A person linked to it (picked from the company picker's suggestions).
        page.click("text=Add person")
        expect(page.locator("input[name=company]")).to_have_value(company)
        page.fill("input[name=given]", "Hank")
        page.fill("input[name=family]", "Scorpio")
        page.fill("input[name=title]", "CEO")
        page.fill("input[name=email_value]", "hank@globex.example")
        page.fill("input[name=tags]", "vip")
        page.click("button:has-text('Create')")
        expect(page.locator("h1")).to_have_text(person)
        expect(page.locator(".subtitle a")).to_have_text(company)
        person_url = contact_url(page)
        person_href, text = dav.find(person)
        assert f"ORG:{company}" in text and "CATEGORIES:vip" in text

        # 3. Tags, set on the form.
        page.click("text=Edit")
        page.fill("input[name=tags]", "vip, board, newsletter")
        page.click("button:has-text('Save')")
        expect(page.locator(".flash-success")).to_contain_text("saved")
        text = dav.get(person_href).text
        assert "CATEGORIES:vip,board,newsletter" in text

        # 4. The client role: beside the card, which does not change.
        etag = dav.get(person_href).header("ETag")
        token = dav.token()
        page.fill("#roles input[name=number]", "C-1001")
        page.fill("#roles input[name=status]", "active")
        page.fill("#roles textarea[name=details]", "Net 30, invoices by email")
        page.click("#roles button:has-text('Add role')")
        expect(page.locator("#roles .role-number")).to_have_text("No. C-1001")
        expect(page.locator("#roles .badge-client")).to_be_visible()
        assert dav.get(person_href).header("ETag") == etag and dav.changes(token) == {}

        # 5. A system user for the person, created from the contact.
        page.click("text=Create a user for this person")
        username = page.input_value("#account details input[name=username]")
        assert username.startswith("hank")
        page.click("#account button:has-text('Create and link')")
        expect(page.locator("h1")).to_have_text(f"User {username} created")
        password = page.locator("[data-secret]").inner_text().strip()
        linked = Dav(server, username, password)
        try:
            assert linked.client.propfind(linked.book, ["D:displayname"]).status == 207
        finally:
            linked.close()
        page.goto(person_url)
        expect(page.locator("#account")).to_contain_text(username)
        shots = {"workflow-contact-page": person_url.split(str(server.port))[1]}
        errors += app_password_for(browser, server, username, password)

        # 6. Archive two contacts at once: they leave every client.
        extra = {}
        for name in ("Temp One", "Temp Two", "Temp Three"):
            uid = uuid.uuid4().hex
            href = dav.book + f"{uid}.vcf"
            assert dav.client.put_card(href, make_card(uid, name)).status == 201
            extra[name] = href
        token = dav.token()
        page.goto(f"{server.base_url}/admin/?view=table&q=Temp")
        page.check("input[aria-label='Select Temp One']")
        page.check("input[aria-label='Select Temp Two']")
        expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
        page.click("#bulk button[value=archive]")
        expect(page.locator(".flash-success")).to_contain_text("Archived 2 contacts")
        assert dav.changes(token) == {extra["Temp One"]: "404", extra["Temp Two"]: "404"}
        assert dav.get(extra["Temp One"]).status == 404

        # 7. Delete one, from its page.
        three_etag = dav.get(extra["Temp Three"]).header("ETag")
        token = dav.token()
        page.click("text=Temp Three")
        accept_next_dialog(page)
        page.click("button:has-text('Delete')")
        expect(page.locator(".flash-success")).to_contain_text("Temp Three deleted")
        assert dav.changes(token) == {extra["Temp Three"]: "404"}
    finally:
        page.context.close()

    # 8. The super admin restores it: back under its name, with the same ETag.
    token = dav.token()
    page, more = open_page(browser, server, root, "desktop")
    errors += more
    try:
        page.goto(f"{server.base_url}/admin/?state=deleted&q=Temp%20Three")
        page.click("text=Temp Three")
        page.click("button:has-text('Restore')")
        expect(page.locator(".flash-success")).to_contain_text("Temp Three restored")
        assert dav.changes(token) == {extra["Temp Three"]: "200"}
        restored = dav.get(extra["Temp Three"])
        assert restored.status == 200 and restored.header("ETag") == three_etag
    finally:
        page.context.close()

    # 9. Import a CSV with one bad row: the dry run names it, the import skips only it.
    rows = [("Ivy", "Import", "ivy@import.example", "vip"),
            ("Bad", "Birthday", "bad@import.example", "1999-02-30"),
            ("Jon", "Import", "jon@import.example", "")]
    data = ("First Name,Last Name,E-mail Address,Birthday\r\n"
            + "".join(",".join(r) + "\r\n" for r in rows)).replace(",vip\r\n", ",\r\n")
    page, more = open_page(browser, server, admin, "desktop")
    errors += more
    try:
        token = dav.token()
        page.click("text=Import")
        page.set_input_files("input[name=file]", files=[
            {"name": "people.csv", "mimeType": "text/csv", "buffer": data.encode()}])
        page.click("button:has-text('Upload and preview')")
        expect(page.locator("h1")).to_have_text("people.csv")
        expect(page.locator("select[name=map_0]")).to_have_value("given")
        expect(page.locator("select[name=map_2]")).to_have_value("email")
        expect(page.locator("select[name=map_3]")).to_have_value("birthday")
        shoot_here(page, server, "workflow-import-preview")
        page.click("button:has-text('Check (dry run)')")
        expect(page.locator(".report h2")).to_have_text("Dry run: nothing was written")
        failed = page.locator("tr.outcome-failed")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("1999-02-30")
        expect(failed.locator("td").first).to_have_text("3")
        shoot_here(page, server, "workflow-import-check")
        assert dav.changes(token) == {}
        page.click("button:has-text('Import')")
        expect(page.locator("h1")).to_have_text("Imported people.csv")
        expect(page.locator("tr.outcome-created")).to_have_count(2)
        expect(page.locator("tr.outcome-failed")).to_have_count(1)
        shoot_here(page, server, "workflow-import-result")
        changed = dav.changes(token)
        assert len(changed) == 2 and set(changed.values()) == {"200"}
        imported = {dav.find(name)[1].split("EMAIL:")[1].split("\r\n")[0]
                    for name in ("Ivy Import", "Jon Import")}
        assert imported == {"ivy@import.example", "jon@import.example"}

        # 10. Export the list as CSV: every live contact, the archived ones not.
        page.goto(f"{server.base_url}/admin/?view=table")
        page.click("summary:has-text('Export')")
        shoot_here(page, server, "workflow-export-menu")
        with page.expect_download() as info:
            page.click("text=CSV (spreadsheet)")
        with open(info.value.path(), encoding="utf-8") as file:
            exported = [row for row in csv.DictReader(file) if row["owner"] == admin]
        names = {row["fn"] for row in exported}  # an admin exports every book: the admin's
        assert names == {company, person, "Temp Three", "Ivy Import", "Jon Import"}
        client_row = next(r for r in exported if r["fn"] == person)
        assert client_row["company"] == company and client_row["tags"] == "vip, board, newsletter"
    finally:
        page.context.close()
        dav.close()

    shots.update({"workflow-company-page": company_url.split(str(server.port))[1],
                  "workflow-contacts-table": "/admin/?view=table",
                  "workflow-contacts-cards": "/admin/?view=cards",
                  "workflow-contact-form": person_url.split(str(server.port))[1] + "/edit"})
    shoot_sizes(browser, server, admin, shots, errors)
    assert errors == []
    with capsys.disabled():
        print("\nworkflow screenshots: tests/artifacts/admin-screenshots/*-workflow-*.png")
