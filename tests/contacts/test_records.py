"""Contacts as CRM records (issue 4): derived detail rows, kinds, company links, tags,
contact groups, business accounts, user links, assignee and reports-to. Cards go in
over HTTP; what the database derived is read through the model API."""

import pytest

from davcontacts.contacts import records
from davcontacts.contacts.actor import Actor
from davcontacts.errors import Conflict, Forbidden, InvalidInput, NotFound
from davcontacts.model import (
    AddressBook,
    Contact,
    ContactAddress,
    ContactGroupMember,
    ContactTag,
    ContactValue,
    Tag,
    User,
)
from tests.conftest import model_db

PERSON = """BEGIN:VCARD\r
VERSION:3.0\r
UID:{uid}\r
FN:{fn}\r
N:{family};{given};Q.;Dr.;PhD\r
ORG:{org};Sales\r
TITLE:Buyer\r
item1.EMAIL;TYPE=INTERNET:{uid}@work.example\r
item1.X-ABLabel:_$!<Work>!$_\r
EMAIL;TYPE=HOME:{uid}@home.example\r
TEL;TYPE=CELL:+1 555 0101\r
TEL;TYPE=WORK:+1 555 0102\r
ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA\r
item2.ADR:;;9 Dock Rd;Shelbyville;IL;62565;USA\r
item2.X-ABLabel:Billing\r
CATEGORIES:VIP,Lead\\,Hot\r
BDAY:1980-02-03\r
NOTE:Met at the fair\r
END:VCARD\r
"""


def company(uid: str, name: str, version: str = "3.0") -> str:
    if version == "3.0":
        return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;;;;\r\n"
                f"ORG:{name}\r\nX-ABShowAs:COMPANY\r\nEND:VCARD\r\n")
    return f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nKIND:org\r\nEND:VCARD\r\n"


def person(uid: str, fn: str = "Jane Roe", org: str = "Acme") -> str:
    family, given = fn.split(" ")[-1], fn.split(" ")[0]
    return PERSON.format(uid=uid, fn=fn, given=given, family=family, org=org)


def row(server, user: str, name: str) -> Contact:
    with model_db(server.database_url):
        owner = User.get(User.username == user)
        book = AddressBook.get((AddressBook.owner_user == owner.id)
                               & (AddressBook.slug == "personal"))
        return Contact.get((Contact.book == book.id) & (Contact.name == name)
                           & (Contact.state == "active"))


def test_details_are_derived_and_follow_every_write(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    assert dav.put_card(book + "p.vcf", person("p1")).status == 201
    c = row(server, user, "p.vcf")
    assert (c.kind, c.given_name, c.family_name, c.middle_name, c.prefix, c.suffix) == \
        ("person", "Jane", "Roe", "Q.", "Dr.", "PhD")
    assert (c.title, c.birthday, c.note, c.org, c.city) == \
        ("Buyer", "1980-02-03", "Met at the fair", "Acme", "Springfield")
    with model_db(server.database_url):
        values = [(v.field, v.types, v.value) for v in
                  ContactValue.select().where(ContactValue.contact == c.id)
                  .order_by(ContactValue.position)]
        kinds = [(a.kind, a.locality) for a in ContactAddress.select()
                 .where(ContactAddress.contact == c.id).order_by(ContactAddress.position)]
        tags = sorted(t.name for t in Tag.select().join(ContactTag)
                      .where(ContactTag.contact == c.id))
    assert values == [("EMAIL", "internet", "p1@work.example"),
                      ("EMAIL", "home", "p1@home.example"),
                      ("TEL", "cell", "+1 555 0101"), ("TEL", "work", "+1 555 0102")]
    assert kinds == [("work", "Springfield"), ("billing", "Shelbyville")]
    assert tags == ["Lead,Hot", "VIP"]
    # an edit from a client replaces the derived rows
    edited = person("p1").replace("EMAIL;TYPE=HOME:p1@home.example\r\n", "") \
        .replace("CATEGORIES:VIP,Lead\\,Hot", "CATEGORIES:VIP")
    assert dav.put_card(book + "p.vcf", edited).status == 204
    with model_db(server.database_url):
        emails = [v.value for v in ContactValue.select()
                  .where((ContactValue.contact == c.id) & (ContactValue.field == "EMAIL"))]
        tags = [t.name for t in Tag.select().join(ContactTag).where(ContactTag.contact == c.id)]
        shared = {t.name for t in Tag.select().where(Tag.book == c.book_id)}
    assert emails == ["p1@work.example"] and tags == ["VIP"]
    assert {"VIP", "Lead,Hot"} <= shared  # tags are shared per scope and stay
    assert dav.request("GET", book + "p.vcf").text == edited  # the card is not rewritten


def test_company_kinds_in_both_versions(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "c3.vcf", company("c3", "Three Ltd"))
    dav.put_card(book + "c4.vcf", company("c4", "Four Ltd", "4.0"),
                 {"Content-Type": "text/vcard; version=4.0"})
    assert row(server, user, "c3.vcf").kind == "company"
    assert row(server, user, "c4.vcf").kind == "company"


def test_org_links_to_exactly_one_visible_company(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "acme.vcf", company("acme", "Acme"))
    dav.put_card(book + "jane.vcf", person("jane", "Jane Roe", "Acme"))
    acme = row(server, user, "acme.vcf")
    assert row(server, user, "jane.vcf").company_id == acme.id
    with model_db(server.database_url):
        assert [p.name for p in records.company_people(acme)] == ["jane.vcf"]
    # a free-text ORG naming no company stays unlinked
    dav.put_card(book + "bob.vcf", person("bob", "Bob Poe", "Nobody Inc"))
    assert row(server, user, "bob.vcf").company_id is None
    # ambiguity never guesses
    dav.put_card(book + "twin1.vcf", company("twin1", "Twin"))
    dav.put_card(book + "twin2.vcf", company("twin2", "Twin"))
    dav.put_card(book + "tim.vcf", person("tim", "Tim Doe", "Twin"))
    assert row(server, user, "tim.vcf").company_id is None
    # another user's company of the same name is not visible, so not linked
    other = server.add_user()
    other_dav = server.client(other)
    other_dav.put_card(f"/dav/addressbooks/{other}/personal/p.vcf", person("o", "Oz Roe", "Acme"))
    assert row(server, other, "p.vcf").company_id is None


def test_contact_groups_in_both_forms(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    for uid in ("m1", "m2"):
        dav.put_card(f"{book}{uid}.vcf", person(uid, "Mem Ber"))
    v4 = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g4\r\nFN:Team Four\r\nKIND:group\r\n"
          "MEMBER:urn:uuid:m1\r\nMEMBER:urn:uuid:m2\r\nEND:VCARD\r\n")
    v3 = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g3\r\nFN:Team Three\r\nN:Team Three;;;;\r\n"
          "X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m2\r\n"
          "END:VCARD\r\n")
    dav.put_card(book + "g4.vcf", v4, {"Content-Type": "text/vcard; version=4.0"})
    dav.put_card(book + "g3.vcf", v3)
    for name, expected in (("g4.vcf", ["m1", "m2"]), ("g3.vcf", ["m2"])):
        g = row(server, user, name)
        assert g.kind == "group"
        with model_db(server.database_url):
            got = [m.member_uid for m in ContactGroupMember.select()
                   .where(ContactGroupMember.group == g.id).order_by(ContactGroupMember.position)]
        assert got == expected
    # a member that disappears leaves the group intact
    assert dav.request("DELETE", book + "m2.vcf").status == 204
    assert dav.request("GET", book + "g3.vcf").text == v3
    served = dav.request("GET", book + "g4.vcf", headers={"Accept": "text/vcard; version=3.0"})
    assert "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m1" in served.text


def test_business_accounts_do_not_touch_the_card(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    card = company("client-co", "Client Co")
    dav.put_card(book + "cc.vcf", card)
    etag = dav.request("GET", book + "cc.vcf").header("ETag")
    c = row(server, user, "cc.vcf")
    with model_db(server.database_url):
        actor = Actor(User.get(User.username == user), "admin")
        records.assign_role(actor, c, "client", number="C-001", details="net 30")
        records.assign_role(actor, c, "supplier", number="S-9")
        records.assign_role(actor, c, "client", number="C-002", status="on hold")
        assert [(a.role, a.number, a.status) for a in records.roles(c)] == \
            [("client", "C-002", "on hold"), ("supplier", "S-9", "active")]
        records.remove_role(actor, c, "supplier")
        assert [a.role for a in records.roles(c)] == ["client"]
        with pytest.raises(InvalidInput):
            records.assign_role(actor, c, "partner")
    again = dav.request("GET", book + "cc.vcf")
    assert again.text == card and again.header("ETag") == etag


def test_user_link_follows_the_contact(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "me.vcf", person("me", "Mia Lee"))
    target = server.add_user()
    c = row(server, user, "me.vcf")
    with model_db(server.database_url):
        records.link_user(Actor.cli(), c, target)
        u = User.get(User.username == target)
        assert (u.display_name, u.email) == ("Mia Lee", "me@work.example")
    dav.put_card(book + "me.vcf", person("me", "Mia Lee-Smith"))
    with model_db(server.database_url):
        assert User.get(User.username == target).display_name == "Mia Lee-Smith"
        dav.put_card(book + "two.vcf", person("two", "Tom Two"))
        with pytest.raises(Conflict):
            records.link_user(Actor.cli(), row(server, user, "two.vcf"), target)
        member = Actor(User.get(User.username == user), "admin")
        with pytest.raises(Forbidden):  # a member may not link users (admins only)
            records.link_user(member, row(server, user, "two.vcf"), server.add_user())
        records.unlink_user(Actor.cli(), c)
        assert Contact.get_by_id(c.id).linked_user_id is None


def test_assignee_and_reports_to(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "boss.vcf", person("boss", "Big Boss"))
    dav.put_card(book + "emp.vcf", person("emp", "Eve Emp"))
    boss, emp = row(server, user, "boss.vcf"), row(server, user, "emp.vcf")
    with model_db(server.database_url):
        actor = Actor(User.get(User.username == user), "admin")
        records.set_assignee(actor, emp, user)
        records.set_reports_to(actor, emp, boss)
        fresh = Contact.get_by_id(emp.id)
        assert fresh.assignee.username == user and fresh.reports_to_id == boss.id
        with pytest.raises(InvalidInput):
            records.set_reports_to(actor, emp, emp)
        stranger = Actor(User.get(User.username == server.add_user()), "admin")
        with pytest.raises(NotFound):  # a book you cannot see does not exist for you
            records.set_assignee(stranger, emp, None)


def _fold(line: str) -> str:
    return "\r\n ".join(line[i:i + 74] for i in range(0, len(line), 74))


def test_photos_are_kept_byte_exact_and_bounded(server, dav, user):
    import base64
    import os

    book = f"/dav/addressbooks/{user}/personal/"
    small = base64.b64encode(os.urandom(20_000)).decode()
    v3 = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ph3\r\nFN:Photo Three\r\n"
          + _fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{small}") + "\r\nEND:VCARD\r\n")
    v4 = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ph4\r\nFN:Photo Four\r\n"
          + _fold(f"PHOTO:data:image/jpeg;base64,{small}") + "\r\nEND:VCARD\r\n")
    assert dav.put_card(book + "ph3.vcf", v3).status == 201
    assert dav.put_card(book + "ph4.vcf", v4, {"Content-Type": "text/vcard; version=4.0"}) \
        .status == 201
    assert dav.request("GET", book + "ph3.vcf").text == v3
    assert dav.request("GET", book + "ph4.vcf").text == v4
    assert row(server, user, "ph3.vcf").has_photo and row(server, user, "ph4.vcf").has_photo
    # no derived column carries the image: only the card text does
    derived = row(server, user, "ph3.vcf").__data__
    assert all(small[:40] not in str(value) for key, value in derived.items() if key != "vcard")
    big = base64.b64encode(os.urandom(600 * 1024)).decode()  # over 512 KiB, card under 1 MiB
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:huge\r\nFN:Huge Photo\r\n"
            + _fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{big}") + "\r\nEND:VCARD\r\n")
    assert len(card) < 1024 * 1024
    r = dav.put_card(book + "huge.vcf", card)
    assert r.status == 403
    assert r.condition() == "{urn:ietf:params:xml:ns:carddav}max-resource-size"
    assert "PHOTO" in r.text
    assert dav.request("GET", book + "huge.vcf").status == 404


def test_renaming_a_company_rewrites_org_on_its_people(server, dav, user):
    book = f"/dav/addressbooks/{user}/personal/"
    dav.put_card(book + "co.vcf", company("co", "Globex"))
    dav.put_card(book + "p1.vcf", person("p1", "Ann One", "Globex"))
    dav.put_card(book + "p2.vcf", person("p2", "Ben Two", "Globex"))
    dav.put_card(book + "free.vcf", person("free", "Cy Free", "Globex Partners"))
    sync = ('<D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token>'
            "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>")
    token = dav.propfind(book, ["D:sync-token"]).prop(book, "D:sync-token").text
    renamed = company("co", "Globex").replace("Globex", "Initech")
    assert dav.put_card(book + "co.vcf", renamed).status == 204
    for name in ("p1.vcf", "p2.vcf"):
        text = dav.request("GET", book + name).text
        assert "ORG:Initech;Sales\r\n" in text
        assert text.replace("ORG:Initech;Sales", "ORG:Globex;Sales") == \
            person(name[:2], {"p1.vcf": "Ann One", "p2.vcf": "Ben Two"}[name], "Globex")
        assert row(server, user, name).company_id == row(server, user, "co.vcf").id
    assert "ORG:Globex Partners;Sales" in dav.request("GET", book + "free.vcf").text
    changed = set(dav.report(book, sync.format(token)).responses())
    assert changed == {book + "co.vcf", book + "p1.vcf", book + "p2.vcf"}
