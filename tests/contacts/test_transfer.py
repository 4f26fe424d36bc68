"""Import and export through the model API (contacts/transfer.py), on SQLite and
PostgreSQL: .vcf files with many real cards, CSV with every column, bad rows in the
middle, dry runs, re-imports, owners and assignees, round trips; and over HTTP, that an
imported card is served with the bytes the importer built."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from peewee import IntegrityError

from davcontacts.contacts import cards as cards_module
from davcontacts.contacts import transfer
from davcontacts.contacts.actor import Actor
from davcontacts.contacts.groups import create_group, set_membership
from davcontacts.errors import InvalidInput
from davcontacts.model import (
    AddressBook,
    Change,
    Contact,
    ContactAddress,
    ContactTag,
    ContactValue,
    Revision,
    Tag,
    User,
)
from davcontacts.vcard import split_cards
from davcontacts.vcard.build import CardRecord, build_card, record_from_card, same_values
from tests.conftest import REPO, model_db

SAMPLES = REPO / "tests" / "data" / "vcards"
HEADER = transfer.COLUMNS


def with_uid(text: str, uid: str) -> str:
    """The card with a UID line after BEGIN:VCARD, in the card's own line ending."""
    m = re.match(r"BEGIN:VCARD(\r*\n|\r)", text, re.I)
    assert m
    return f"{text[:m.end()]}UID:{uid}{m.group(1)}{text[m.end():]}"


def sample_cards() -> list[str]:
    """Every card of tests/data/vcards, each with a UID (most real exports have none)."""
    out = []
    for path in sorted(SAMPLES.glob("*.vcf")):
        for k, text in enumerate(split_cards(path.read_bytes())):
            if not re.search(r"^UID[;:]", text, re.M | re.I):
                text = with_uid(text, f"sample-{path.stem}-{k}-{uuid.uuid4().hex[:6]}")
            out.append(text if text.endswith("\n") else text + "\r\n")
    return out


def personal(username: str) -> AddressBook:
    owner = User.get(User.username == username)
    return AddressBook.get((AddressBook.owner_user == owner.id)
                           & (AddressBook.slug == "personal"))


def actor(username: str) -> Actor:
    return Actor(User.get(User.username == username), door="import")


def live(book: AddressBook) -> dict[str, Contact]:
    """The book's active cards by UID."""
    return {c.uid: c for c in Contact.select().where((Contact.book == book.id)
                                                     & (Contact.state == "active"))}


def footprint(book: AddressBook) -> tuple[int, ...]:
    """Rows of every kind an import writes for a book."""
    ids = Contact.select(Contact.id).where(Contact.book == book.id)
    return (Contact.select().where(Contact.book == book.id).count(),
            Revision.select().where(Revision.contact.in_(ids)).count(),
            Change.select().where(Change.book == book.id).count(),
            Tag.select().where(Tag.book == book.id).count(),
            ContactTag.select().where(ContactTag.contact.in_(ids)).count(),
            ContactValue.select().where(ContactValue.contact.in_(ids)).count(),
            ContactAddress.select().where(ContactAddress.contact.in_(ids)).count())


def csv_text(rows: list[dict[str, str]], columns=HEADER, delimiter=",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def full_row(uid: str, **changes: str) -> dict[str, str]:
    row = {"kind": "person", "uid": uid, "fn": "", "prefix": "Dr.", "given": "Ann",
           "middle": "Q.", "family": "Lee", "suffix": "PhD", "nickname": "Annie",
           "company": "Acme, Inc.", "department": "Sales", "title": "Buyer",
           "email": "work,pref: ann@acme.example | home: ann@home.example",
           "phone": "cell: +1 555 0101 | +1 555 0102",
           "address_billing": "PO Box 5; ; 9 Dock Rd; Shelbyville; IL; 62565; USA",
           "address_shipping": "1 Dock Rd; Shelbyville",
           "address_work": "pref: 2 Main St\\; Suite 4; Springfield; IL; 62701; USA",
           "address_home": "7 Elm Ave; Springfield", "address_other": "",
           "url": "https://acme.example/ann | https://ann.example",
           "birthday": "1980-02-03", "note": "Met at the fair; likes tea,\ncoffee",
           "tags": "VIP, Lead", "owner": "", "assignee": ""}
    row.update(changes)
    return row


# .vcf ------------------------------------------------------------------------------


def test_vcf_import_stores_every_card_verbatim_and_reports_the_bad_one(server):
    user = server.add_user()
    samples = sample_cards()
    bad = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID here\r\nEND:VCARD\r\n"
    cards = samples[:5] + [bad] + samples[5:]
    seen = []
    with model_db(server.database_url):
        book = personal(user)
        report = transfer.import_vcf(actor(user), "".join(cards).encode(), book=book,
                                     progress=lambda done, total: seen.append((done, total)))
        assert report.failed == [(6, "the vCard has no UID")]
        assert (report.total, report.created, report.updated, report.unchanged) == \
            (len(cards), len(samples), 0, 0)
        assert seen[-1] == (len(cards), len(cards)) and len(seen) == len(cards)
        stored = live(book)
        for text in samples:
            uid = record_from_card(text).uid
            assert stored[uid].vcard == text  # byte for byte, line endings included
            assert stored[uid].name == transfer.resource_name(uid)
        before = footprint(book)

        # the same file again: nothing changes; a changed card is updated in place
        again = transfer.import_vcf(actor(user), "".join(samples).encode(), book=book)
        assert (again.created, again.updated, again.unchanged) == (0, 0, len(samples))
        assert footprint(book) == before
        first = samples[0].replace("END:VCARD", "NOTE:edited\r\nEND:VCARD")
        changed = transfer.import_vcf(actor(user), first.encode(), book=book)
        assert (changed.created, changed.updated) == (0, 1)
        uid = record_from_card(first).uid
        assert live(book)[uid].vcard == first and len(live(book)) == len(samples)


def test_vcf_uid_already_in_the_book_updates_that_card_under_its_name(server):
    user = server.add_user()
    dav = server.client(user)
    uid = "dav-" + uuid.uuid4().hex
    url = f"/dav/addressbooks/{user}/personal/chosen-by-client.vcf"
    first = build_card(CardRecord(uid=uid, given="Old", family="Name"))
    assert dav.put_card(url, first).status == 201
    newer = build_card(CardRecord(uid=uid, given="New", family="Name"))
    repeated = build_card(CardRecord(uid="twice", fn="Twice"))
    with model_db(server.database_url):
        report = transfer.import_vcf(actor(user), (newer + repeated + repeated).encode(),
                                     book=personal(user))
        assert (report.created, report.updated) == (1, 1)
        assert report.failed == [(3, "UID 'twice' repeats card 2 of this file")]
    got = dav.request("GET", url)
    assert got.status == 200 and got.body == newer.encode()


def test_vcf_file_that_is_not_cards_is_refused_whole(server):
    user = server.add_user()
    with model_db(server.database_url):
        book = personal(user)
        with pytest.raises(Exception, match="expected BEGIN:VCARD"):
            transfer.import_vcf(actor(user), b"hello\r\n" + build_card(
                CardRecord(uid="x", fn="X")).encode(), book=book)
        assert footprint(book)[0] == 0


# CSV -------------------------------------------------------------------------------


def test_csv_every_column_and_a_bad_row_in_the_middle(server):
    user, colleague = server.add_user(), server.add_user()
    rows = [full_row("p1", assignee=colleague),
            {"kind": "company", "uid": "c1", "company": "Globex", "email": "info@globex.example"},
            full_row("bad-date", birthday="1980-13-01"),
            full_row("bad-assignee", assignee="nobody-" + uuid.uuid4().hex[:6]),
            full_row("bad-kind", kind="robot"),
            full_row("bad-address", address_home="a; b; c; d; e; f"),
            {"given": "No", "family": "Uid", "birthday": "--05-17"},
            full_row("p2", fn="Custom Name", address_other="somewhere")]
    text = csv_text(rows)
    with model_db(server.database_url):
        book = personal(user)
        report = transfer.import_csv(actor(user), text, default_book=book)
        assert report.failed == [
            (4, "birthday '1980-13-01' is not a date: write YYYY-MM-DD, or --MM-DD without "
                "a year"),
            (5, f"assignee: no active user named {rows[3]['assignee']!r}"),
            (6, "unknown kind 'robot': use person or company"),
            (7, "address 'a; b; c; d; e; f' has 6 parts: write street; locality; region; "
                "code; country (or all 7 vCard parts)"),
        ]
        assert (report.total, report.created) == (8, 4)
        stored = live(book)
        assert not {"bad-date", "bad-assignee", "bad-kind", "bad-address"} & set(stored)
        p1 = stored["p1"]
        assert p1.name == "p1.vcf"
        assert User.get_by_id(p1.assignee_id).username == colleague
        assert (p1.display_name, p1.given_name, p1.family_name, p1.org, p1.title,
                p1.birthday, p1.city) == ("Dr. Ann Q. Lee PhD", "Ann", "Lee", "Acme, Inc.",
                                          "Buyer", "1980-02-03", "Shelbyville")
        record = record_from_card(p1.vcard)
        assert record.emails == [(("pref", "work"), "ann@acme.example"),
                                 (("home",), "ann@home.example")]
        assert record.phones == [(("cell",), "+1 555 0101"), ((), "+1 555 0102")]
        assert record.addresses == [
            (("billing",), ("PO Box 5", "", "9 Dock Rd", "Shelbyville", "IL", "62565", "USA")),
            (("shipping",), ("", "", "1 Dock Rd", "Shelbyville", "", "", "")),
            (("pref", "work"), ("", "", "2 Main St; Suite 4", "Springfield", "IL", "62701",
                                "USA")),
            (("home",), ("", "", "7 Elm Ave", "Springfield", "", "", "")),
        ]
        assert (record.urls, record.note, record.tags, record.nickname, record.department) == \
            (["https://acme.example/ann", "https://ann.example"],
             "Met at the fair; likes tea,\ncoffee", ["VIP", "Lead"], "Annie", "Sales")
        kinds = [a.kind for a in ContactAddress.select().where(ContactAddress.contact == p1.id)
                 .order_by(ContactAddress.position)]
        assert kinds == ["billing", "shipping", "work", "home"]
        assert stored["c1"].kind == "company" and "X-ABShowAs:COMPANY" in stored["c1"].vcard
        assert stored["p2"].display_name == "Custom Name"
        generated = [c for uid, c in stored.items() if uid not in ("p1", "c1", "p2")]
        assert len(generated) == 1 and uuid.UUID(generated[0].uid).version == 4
        assert record_from_card(generated[0].vcard).birthday == "--05-17"


def test_a_failure_after_the_card_was_written_leaves_nothing(server, monkeypatch):
    user = server.add_user()
    real = cards_module.record_change

    def failing(book_id: int, name: str, *, removed: bool) -> int:
        if name == "boom.vcf":
            raise IntegrityError("simulated failure after the contact row was written")
        return real(book_id, name, removed=removed)

    monkeypatch.setattr(cards_module, "record_change", failing)
    with model_db(server.database_url):
        book = personal(user)
        report = transfer.import_csv(actor(user), csv_text(
            [full_row("a"), full_row("boom"), full_row("b")]), default_book=book)
        assert [n for n, _ in report.failed] == [3] and report.created == 2
        assert "simulated failure" in report.failed[0][1]
        assert set(live(book)) == {"a", "b"}
        assert not Contact.select().where((Contact.book == book.id)
                                          & (Contact.uid == "boom")).exists()
        assert footprint(book)[1:3] == (2, 2)  # revisions, changes: the good rows only


def test_dry_run_reports_like_the_real_run_and_writes_nothing(server):
    user = server.add_user()
    rows = [full_row("d1"), full_row("d2", birthday="never"), full_row("d3"),
            full_row("d1", note="the same UID again")]
    text = csv_text(rows)
    vcf = "".join(sample_cards()[:4]).encode()
    with model_db(server.database_url):
        book = personal(user)
        transfer.import_csv(actor(user), csv_text([full_row("d3", note="older")]),
                            default_book=book)
        before = footprint(book)
        dry = transfer.import_csv(actor(user), text, default_book=book, dry_run=True)
        dry_vcf = transfer.import_vcf(actor(user), vcf, book=book, dry_run=True)
        assert footprint(book) == before
        assert (dry.created, dry.updated, dry_vcf.created) == (1, 1, 4) and dry.dry_run
        assert [n for n, _ in dry.failed] == [3, 5]
        assert dry.failed[1][1] == "UID 'd1' repeats row 2 of this file"
        real = transfer.import_csv(actor(user), text, default_book=book)
        assert (real.created, real.updated, real.failed) == (dry.created, dry.updated,
                                                             dry.failed)


def test_reimport_updates_only_what_changed_and_keeps_the_rest(server):
    user = server.add_user()
    dav = server.client(user)
    url = f"/dav/addressbooks/{user}/personal/from-phone.vcf"
    photo_card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-1\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n"
                  "item1.EMAIL;type=INTERNET:ann@old.example\r\nitem1.X-ABLabel:_$!<Work>!$_\r\n"
                  "X-SOCIALPROFILE;type=twitter:https://twitter.com/ann\r\n"
                  "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\r\nEND:VCARD\r\n")
    assert dav.put_card(url, photo_card).status == 201
    with model_db(server.database_url):
        book = personal(user)
        columns = ("uid", "given", "family", "email")
        first = transfer.import_csv(actor(user), csv_text(
            [{"uid": "phone-1", "given": "Ann", "family": "Lee", "email": "ann@old.example"}],
            columns), default_book=book)
        assert (first.unchanged, first.updated) == (1, 0)  # same values: not rewritten
        report = transfer.import_csv(actor(user), csv_text(
            [{"uid": "phone-1", "given": "Anna", "family": "Lee",
              "email": "ann@new.example"}], columns), default_book=book)
        assert (report.created, report.updated) == (0, 1)
        contact = live(book)["phone-1"]
        assert contact.name == "from-phone.vcf" and len(live(book)) == 1
        text = contact.vcard
        for kept in ("X-SOCIALPROFILE;type=twitter:https://twitter.com/ann\r\n",
                     "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\r\n"):
            assert kept in text
        assert "ann@old.example" not in text and "X-ABLabel" not in text
        record = record_from_card(text)
        assert (record.fn, record.given, record.emails) == \
            ("Anna Lee", "Anna", [((), "ann@new.example")])  # FN followed the names
    assert dav.request("GET", url).body == text.encode()


def test_owner_and_assignee_resolution(server):
    user, other = server.add_user(), server.add_user()
    team, readers = "team" + uuid.uuid4().hex[:6], "ro" + uuid.uuid4().hex[:6]
    with model_db(server.database_url):
        create_group(team)
        create_group(readers)
        set_membership(team, user, "write")
        set_membership(readers, user, "read")
        rows = [{"uid": "o1", "fn": "Mine", "owner": ""},
                {"uid": "o2", "fn": "Team's", "owner": f"group:{team}", "assignee": other},
                {"uid": "o3", "fn": "Read only", "owner": f"group:{readers}"},
                {"uid": "o4", "fn": "Someone else's", "owner": other},
                {"uid": "o5", "fn": "Nobody's", "owner": "group:no-such-group"},
                {"uid": "o6", "fn": "Own book", "owner": f"{user}/personal"}]
        columns = ("uid", "fn", "owner", "assignee")
        report = transfer.import_csv(actor(user), csv_text(rows, columns),
                                     default_book=personal(user))
        assert report.failed == [
            (4, f"no address book you may write for owner 'group:{readers}'"),
            (5, f"no address book you may write for owner {other!r}"),
            (6, "no address book for owner 'group:no-such-group': write a username or "
                "group:NAME, optionally followed by /BOOK")]
        assert set(live(personal(user))) == {"o1", "o6"}
        team_book = transfer.book_for_owner(f"group:{team}")
        o2 = live(team_book)["o2"]
        assert User.get_by_id(o2.assignee_id).username == other
        assert transfer.owner_label(team_book) == f"group:{team}"

        # the command line (system actor) may write any book; an empty assignee clears it,
        # an absent assignee column leaves it
        system = transfer.import_csv(Actor.cli(), csv_text(
            [{"uid": "o4", "fn": "Someone else's", "owner": other}], ("uid", "fn", "owner")),
            default_book=None)
        assert system.ok and "o4" in live(personal(other))
        keep = transfer.import_csv(actor(user), csv_text(
            [{"uid": "o2", "fn": "Team's", "owner": f"group:{team}"}], ("uid", "fn", "owner")),
            default_book=None)
        assert keep.unchanged == 1 and live(team_book)["o2"].assignee_id is not None
        clear = transfer.import_csv(actor(user), csv_text(
            [{"uid": "o2", "fn": "Team's", "owner": f"group:{team}", "assignee": ""}],
            columns), default_book=None)
        assert clear.updated == 1 and live(team_book)["o2"].assignee_id is None
        nowhere = transfer.import_csv(actor(user), csv_text([{"uid": "z", "fn": "Z"}],
                                                            ("uid", "fn")), default_book=None)
        assert nowhere.failed == [(2, "no owner: fill the owner column or give a default book")]


def test_file_level_errors_and_formats(server):
    user = server.add_user()
    with model_db(server.database_url):
        book = personal(user)
        with pytest.raises(InvalidInput, match=r"unknown columns: 'e-mail', 'colour'"):
            transfer.import_csv(actor(user), "uid,fn,e-mail,colour\r\nx,X,a@b,red\r\n",
                                default_book=book)
        with pytest.raises(InvalidInput, match="column 'fn' appears more than once"):
            transfer.import_csv(actor(user), "fn,fn\r\nA,B\r\n", default_book=book)
        assert footprint(book)[0] == 0
        # BOM, semicolons, header case and spaces, renamed and repeated columns
        text = ("\ufeffUID;Given;Family Name;E-mail Address;email\r\n"
                "s1;Zoë;Müller;zoe@example.org;work: z@work.example\r\n\r\n"
                "s2;Łukasz;Kowalski;;\r\n")
        report = transfer.import_csv(actor(user), text, default_book=book,
                                     column_map={"E-mail Address": "email",
                                                 "Family Name": "family"})
        assert report.ok and report.total == 2 and report.created == 2
        s1 = record_from_card(live(book)["s1"].vcard)
        assert (s1.fn, s1.emails) == ("Zoë Müller", [((), "zoe@example.org"),
                                                     (("work",), "z@work.example")])


def test_export_then_import_gives_the_same_records(server):
    source, target = server.add_user(), server.add_user()
    rows = [full_row(f"r{i}", given=f"Given{i}") for i in range(5)]
    rows.append({"kind": "company", "uid": "co", "company": "Initech"})
    with model_db(server.database_url):
        src = personal(source)
        transfer.import_csv(actor(source), csv_text(rows), default_book=src)
        samples = sample_cards()
        transfer.import_vcf(actor(source), "".join(samples).encode(), book=src)
        # a contact group card: kept by .vcf, left out of CSV
        group = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:grp\r\nFN:Friends\r\nKIND:group\r\n"
                 "MEMBER:urn:uuid:r1\r\nEND:VCARD\r\n")
        transfer.import_vcf(actor(source), group.encode(), book=src)

        out = io.StringIO(newline="")
        assert transfer.export_csv([src], out) == len(rows) + len(samples)
        exported = out.getvalue().replace(f",{source},", f",{target},")
        tgt = personal(target)
        report = transfer.import_csv(actor(target), exported, default_book=None)
        assert report.ok and report.created == len(rows) + len(samples)
        a, b = live(src), live(tgt)
        assert set(b) == set(a) - {"grp"}
        for uid, contact in b.items():
            # the same records, addresses grouped by kind as CSV columns hold them
            assert same_values(record_from_card(contact.vcard), record_from_card(a[uid].vcard))
        # the CSV this export wrote, imported again where it came from: nothing changes
        again = transfer.import_csv(actor(source), out.getvalue(), default_book=None)
        assert again.ok and again.unchanged == len(rows) + len(samples)

        binary = io.BytesIO()
        progress = []
        count = transfer.export_vcf([src], binary, progress=lambda d, t: progress.append((d, t)))
        assert count == len(a) and progress[-1] == (count, count)
        third = personal(server.add_user())
        back = transfer.import_vcf(Actor.cli(), binary.getvalue(), book=third)
        assert back.ok and back.created == count
        assert {u: c.vcard for u, c in live(third).items()} == \
            {u: c.vcard for u, c in a.items()}


def test_imported_cards_are_served_with_the_bytes_the_importer_built(server):
    user = server.add_user()
    row = full_row("served-" + uuid.uuid4().hex[:8],
                   note="Met at the fair; likes tea,\ncoffee" + ", and a long story" * 6)
    with model_db(server.database_url):
        report = transfer.import_csv(actor(user), csv_text([row]), default_book=personal(user))
        assert report.created == 1
        contact = live(personal(user))[row["uid"]]
    expected = build_card(CardRecord(
        uid=row["uid"], prefix="Dr.", given="Ann", middle="Q.", family="Lee", suffix="PhD",
        nickname="Annie", org="Acme, Inc.", department="Sales", title="Buyer",
        emails=[(("pref", "work"), "ann@acme.example"), (("home",), "ann@home.example")],
        phones=[(("cell",), "+1 555 0101"), ((), "+1 555 0102")],
        addresses=[
            (("billing",), ("PO Box 5", "", "9 Dock Rd", "Shelbyville", "IL", "62565", "USA")),
            (("shipping",), ("", "", "1 Dock Rd", "Shelbyville", "", "", "")),
            (("pref", "work"), ("", "", "2 Main St; Suite 4", "Springfield", "IL", "62701",
                                "USA")),
            (("home",), ("", "", "7 Elm Ave", "Springfield", "", "", ""))],
        urls=["https://acme.example/ann", "https://ann.example"], birthday="1980-02-03",
        note=row["note"], tags=["VIP", "Lead"])).encode()
    got = server.client(user).request("GET", f"/dav/addressbooks/{user}/personal/{contact.name}")
    assert got.status == 200 and got.body == expected
    assert b"\r\n " in expected  # the long NOTE was folded
    assert all(len(line) <= 75 for line in expected.split(b"\r\n"))


def test_resource_names():
    assert transfer.resource_name("abc-1.2_X") == "abc-1.2_X.vcf"
    assert transfer.resource_name("urn:uuid:0e7602cc-443e-4b82-b4b1-90f62f99a199") == \
        "0e7602cc-443e-4b82-b4b1-90f62f99a199.vcf"
    odd = transfer.resource_name("a/b c?")
    assert odd == f"{uuid.uuid5(uuid.NAMESPACE_URL, 'a/b c?')}.vcf"
    assert transfer.resource_name("..") != "...vcf"
