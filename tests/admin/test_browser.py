"""The admin in a real browser (Debian's Chromium driven by Playwright; no browser is
downloaded): sign in, create a company and a person linked to it with tags, and
check over CardDAV that ORG and CATEGORIES reached the card; build a contact group.
Screenshots of the contacts page (table and cards) and the contact form at desktop and
phone sizes, and of a group, go to tests/artifacts/admin-screenshots/ (ignored by git),
for a human to look at.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import REPO, TEST_PASSWORD, Server
from tests.davclient import make_card

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = REPO / "tests" / "artifacts" / "admin-screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def browser() -> Browser:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def open_page(browser: Browser, server: Server, username: str, size: str) -> tuple[Page, list]:
    """A signed-in page of the given size, and the list its console errors land in
    (a Content-Security-Policy violation is one)."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.base_url}/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text(re.compile("Contacts"))
    return page, errors


def card_texts(server: Server, username: str) -> list[str]:
    """Every card of the user's personal book, fetched over CardDAV."""
    dav = server.client(username)
    try:
        book = f"/dav/addressbooks/{username}/personal/"
        listing = dav.propfind(book, ["D:getetag"], depth="1")
        assert listing.status == 207
        return [dav.request("GET", href).text.replace("\r\n ", "")
                for href in listing.responses() if href.endswith(".vcf")]
    finally:
        dav.close()


def shoot(page: Page, server: Server, name: str, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{server.backend}-{name}-{size}.png"))


def test_create_company_and_linked_person_in_a_browser(browser: Browser, server: Server,
                                                       capsys) -> None:
    username = server.add_user()
    company = f"Initech {uuid.uuid4().hex[:4]}"
    page, errors = open_page(browser, server, username, "desktop")

    page.click("text=New company")
    page.fill("input[name=fn]", company)
    page.fill("input[name=email_value]", "info@initech.example")
    page.fill("input[name=adr_locality]", "Austin")
    page.fill("input[name=tags]", "supplier")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_have_text(company)

    page.click("nav >> text=Contacts")
    page.click("text=New person")
    page.fill("input[name=given]", "Peter")
    page.fill("input[name=family]", "Gibbons")
    picker = page.locator("input[name=company]")
    picker.fill(company[:6])  # the picker asks the server for matching companies
    expect(page.locator("#dl-company option")).to_have_count(1)
    assert page.locator("#dl-company option").get_attribute("value") == company
    picker.fill(company)
    page.fill("input[name=title]", "Programmer")
    page.fill("input[name=email_value]", "peter@initech.example")
    page.click("text=+ Add email")
    expect(page.locator("input[name=email_value]")).to_have_count(2)
    page.locator("input[name=email_value]").nth(1).fill("peter@home.example")
    page.fill("input[name=phone_value]", "+1 512 555 0199")
    page.fill("input[name=tags]", "vip, newsletter")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_have_text("Peter Gibbons")
    expect(page.locator(".subtitle a")).to_have_text(company)  # linked to the company

    person = next(c for c in card_texts(server, username) if "FN:Peter Gibbons" in c)
    assert f"ORG:{company}" in person
    assert "CATEGORIES:vip,newsletter" in person
    assert "EMAIL:peter@home.example" in person and "TITLE:Programmer" in person

    page.click(f"text={company}")
    expect(page.locator(".people")).to_contain_text("Peter Gibbons")

    # Bulk: select one row and add a tag, through the page's own script.
    page.goto(f"{server.base_url}/admin/?view=table")
    page.check("input[aria-label='Select Peter Gibbons']")
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"),
                                      dialog.dismiss()))
    page.fill("input[name=tag]", "browser-tag")
    page.press("input[name=tag]", "Enter")  # adds the tag; never the Delete button
    expect(page.locator(".flash-success")).to_contain_text("Tagged")
    person = next(c for c in card_texts(server, username) if "FN:Peter Gibbons" in c)
    assert "browser-tag" in person

    for size in SIZES:
        if size != "desktop":
            page.context.close()
            page, more = open_page(browser, server, username, size)
            errors += more
        page.goto(f"{server.base_url}/admin/?view=table")
        shoot(page, server, "contacts-table", size)
        page.goto(f"{server.base_url}/admin/?view=cards")
        expect(page.locator(".contact-card")).to_have_count(2)
        shoot(page, server, "contacts-cards", size)
        page.click("text=Peter Gibbons")
        page.click("text=Edit")
        expect(page.locator("input[name=given]")).to_have_value("Peter")
        shoot(page, server, "contact-form", size)
    page.context.close()
    assert errors == []
    with capsys.disabled():
        print(f"\nadmin screenshots: {SHOTS}")


def test_contact_group_in_a_browser(browser: Browser, server: Server) -> None:
    """Create a contact group, pick a member from the suggestions of the group's book,
    see the group on the member's page; the card a client fetches lists the member."""
    username = server.add_user()
    dav = server.client(username)
    try:
        book = f"/dav/addressbooks/{username}/personal/"
        for uid, fn in (("reader-1", "Rita Reader"), ("reader-2", "Rob Reader")):
            assert dav.put_card(f"{book}{uid}.vcf", make_card(uid, fn)).status == 201
    finally:
        dav.close()
    page, errors = open_page(browser, server, username, "desktop")
    page.click("text=New group")
    page.fill("input[name=name]", "Book club")
    page.click("button:has-text('Create group')")
    expect(page.locator("h1")).to_have_text("Book club")
    expect(page.locator("#members")).to_contain_text("This group has no members yet.")

    picker = page.locator("#members input[data-suggest]")
    picker.fill("Reader")  # the picker asks the server for people of this book
    expect(page.locator("#dl-members option")).to_have_count(2)
    picker.fill("Rita Reader")
    page.click("button:has-text('Add member')")
    expect(page.locator("#members .members")).to_contain_text("Rita Reader")
    shoot(page, server, "contact-group", "desktop")
    group = next(c for c in card_texts(server, username) if "FN:Book club" in c)
    assert "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:reader-1" in group
    assert "reader-2" not in group

    page.click("#members >> text=Rita Reader")
    expect(page.locator("h1")).to_have_text("Rita Reader")
    expect(page.locator("#groups")).to_contain_text("Book club")
    page.click("#groups button:has-text('Remove')")
    expect(page.locator("#groups")).to_contain_text("In no group.")
    page.select_option("#groups select[name=group]", label="Book club")
    page.click("button:has-text('Add to group')")
    expect(page.locator("#groups .group-list")).to_contain_text("Book club")
    assert errors == []
