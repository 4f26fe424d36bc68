"""`davcontacts import` and `davcontacts export`, run as users run them, against the
real database of a running server (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from davcontacts.contacts.transfer import COLUMNS
from davcontacts.model import AddressBook, Change, Contact, Revision, User
from davcontacts.vcard import split_cards
from davcontacts.vcard.build import record_from_card, same_values
from tests.conftest import model_db
from tests.contacts.test_transfer import sample_cards


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(uid: str, **values: str) -> dict[str, str]:
    out = dict.fromkeys(COLUMNS, "")
    out.update(kind="person", uid=uid, given="Given", family=uid.capitalize(),
               email=f"work: {uid}@example.org", phone="cell: +1 555 0100",
               address_home="1 Main St; Springfield; IL; 62701; USA", tags="Imported")
    out.update(values)
    return out


def book_state(server, username: str, slug: str = "personal") -> tuple[dict[str, str], int, int]:
    """The book's live cards (UID → text) and its Revision and Change row counts."""
    with model_db(server.database_url):
        owner = User.get(User.username == username)
        book = AddressBook.get((AddressBook.owner_user == owner.id) & (AddressBook.slug == slug))
        contacts = Contact.select().where(Contact.book == book.id)
        cards = {c.uid: c.vcard for c in contacts if c.state == "active"}
        revisions = Revision.select().where(
            Revision.contact.in_(contacts.select(Contact.id))).count()
        return cards, revisions, Change.select().where(Change.book == book.id).count()


def test_import_csv_with_a_bad_row_progress_and_dry_run(server, tmp_path):
    user = server.add_user()
    rows = [row(f"c{i}") for i in range(6)]
    rows.insert(3, row("broken", birthday="31/12/1999"))
    source = write_csv(tmp_path / "contacts.csv", rows)

    dry = server.cli("import", str(source), "--user", user, "--dry-run", "--progress",
                     check=False)
    assert dry.returncode == 1
    assert "row 5: birthday '31/12/1999' is not a date" in dry.stderr
    assert "would import 7 rows" in dry.stdout and "6 created" in dry.stdout
    assert "dry run: nothing written" in dry.stdout
    assert book_state(server, user) == ({}, 0, 0)

    done = server.cli("import", str(source), "--user", user, "--progress", check=False)
    assert done.returncode == 1
    assert "import [###" in done.stderr and "7/7" in done.stderr  # the progress bar
    assert "row 5: birthday '31/12/1999' is not a date" in done.stderr
    assert "6 created, 0 updated" in done.stdout and "1 failed" in done.stdout
    cards, revisions, changes = book_state(server, user)
    assert set(cards) == {f"c{i}" for i in range(6)} and (revisions, changes) == (6, 6)

    # fixed and imported again: the good rows are unchanged, the fixed one is created
    rows[3]["birthday"] = "1999-12-31"
    write_csv(source, rows)
    again = server.cli("import", str(source), "--user", user)
    assert again.returncode == 0 and "1 created, 0 updated" in again.stdout
    assert "6 unchanged, 0 failed" in again.stdout
    rows[0]["note"] = "edited"
    write_csv(source, rows)
    assert "0 created, 1 updated" in server.cli("import", str(source), "--user", user).stdout
    cards, revisions, changes = book_state(server, user)
    assert len(cards) == 7 and (revisions, changes) == (8, 8)
    assert "NOTE:edited" in cards["c0"]


def test_import_vcf_samples_and_round_trips(server, tmp_path):
    user, other = server.add_user(), server.add_user()
    samples = sample_cards()
    (tmp_path / "all.vcf").write_bytes("".join(samples).encode())
    imported = server.cli("import", str(tmp_path / "all.vcf"), "--user", user)
    assert f"{len(samples)} created" in imported.stdout and imported.returncode == 0
    cards, _, _ = book_state(server, user)
    assert sorted(cards.values()) == sorted(samples)

    # vcf: export, import elsewhere, same bytes; stdout works too
    exported = server.cli("export", str(tmp_path / "out.vcf"), "--user", user)
    assert f"exported {len(samples)} contacts from 1 books" in exported.stdout
    assert sorted(split_cards((tmp_path / "out.vcf").read_bytes())) == sorted(samples)
    piped = server.cli("export", "-", "--user", user, "--format", "vcf")
    assert piped.stdout.upper().count("BEGIN:VCARD") == len(samples)
    assert f"exported {len(samples)} contacts" in piped.stderr
    server.cli("import", str(tmp_path / "out.vcf"), "--user", other)
    assert book_state(server, other)[0] == cards

    # CSV: export, import into a third book (as the system, by owner), same records
    server.cli("export", str(tmp_path / "out.csv"), "--user", user, "--progress")
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    third = server.add_user()
    moved = text.replace(f",{user},", f",{third},")
    (tmp_path / "moved.csv").write_text(moved, encoding="utf-8", newline="")
    result = server.cli("import", str(tmp_path / "moved.csv"), "--book-owner", third)
    assert result.returncode == 0 and f"{len(samples)} created" in result.stdout
    copied = book_state(server, third)[0]
    assert set(copied) == set(cards)
    for uid, card in copied.items():
        # the same records, addresses grouped by kind as CSV columns hold them
        assert same_values(record_from_card(card), record_from_card(cards[uid])), uid
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS) and {r["owner"] for r in rows} == {user}


def test_group_books_and_export_all(server, tmp_path):
    user = server.add_user()
    team = "imp" + uuid.uuid4().hex[:6]
    server.cli("group", "add", team)
    server.cli("group", "add-member", team, user, "--access", "read")
    source = write_csv(tmp_path / "team.csv", [row("t1", owner=f"group:{team}"), row("t2")])
    refused = server.cli("import", str(source), "--user", user, check=False)
    assert refused.returncode == 1 and "1 created" in refused.stdout  # t2, in their book
    assert f"row 2: no address book you may write for owner 'group:{team}'" in refused.stderr
    # as the system, the group's book is the default and the owner column is honoured
    system = server.cli("import", str(source), "--book-owner", f"group:{team}")
    assert system.returncode == 0 and "2 created" in system.stdout
    visible = server.cli("export", str(tmp_path / "mine.csv"), "--user", user)
    assert "exported 3 contacts from 2 books" in visible.stdout
    with open(tmp_path / "mine.csv", encoding="utf-8", newline="") as f:
        owners = sorted((r["uid"], r["owner"]) for r in csv.DictReader(f))
    assert owners == [("t1", f"group:{team}"), ("t2", f"group:{team}"), ("t2", user)]
    everything = server.cli("export", str(tmp_path / "all.vcf"), "--all")
    assert everything.returncode == 0
    uids = {record_from_card(c).uid for c in split_cards((tmp_path / "all.vcf").read_bytes())}
    assert {"t1", "t2"} <= uids


def test_usage_errors(server, tmp_path):
    user = server.add_user()
    (tmp_path / "x.txt").write_text("uid,fn\r\nx,X\r\n")
    unknown = server.cli("import", str(tmp_path / "x.txt"), "--user", user, check=False)
    assert unknown.returncode == 2 and "give --format vcf|csv" in unknown.stderr
    assert server.cli("import", str(tmp_path / "x.txt"), check=False).returncode == 2
    missing = server.cli("import", str(tmp_path / "nope.csv"), "--user", user, check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert server.cli("export", "-", "--user", user, check=False).returncode == 2
    assert server.cli("export", "out.csv", check=False).returncode == 2
    (tmp_path / "bad.csv").write_text("uid,fn,colour\r\nx,X,red\r\n")
    columns = server.cli("import", str(tmp_path / "bad.csv"), "--user", user, check=False)
    assert columns.returncode == 1 and "unknown columns: 'colour'" in columns.stderr
    nobody = server.cli("import", str(tmp_path / "bad.csv"), "--user", "nobody-here",
                        check=False)
    assert nobody.returncode == 1 and "no user named" in nobody.stderr
