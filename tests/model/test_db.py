"""davcontacts.model.db: database URLs, schema migrations and the shared secret.

Migration tests run on SQLite and, when DAVCONTACTS_TEST_PG is set, on a private
PostgreSQL schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from peewee import SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

from davcontacts.model import SCHEMA_VERSION, SchemaVersion, Setting, User, database, get_secret
from davcontacts.model import db as dbmod
from davcontacts.model.db import (
    SchemaTooNew,
    StorageError,
    close_connections,
    make_database,
    migrate_schema,
    open_database,
)
from tests.conftest import REPO, make_backend

# URL parsing (no connection is made) ------------------------------------------------------


def test_sqlite_relative_path_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = make_database("sqlite:///sub/dir/contacts.db")
    assert isinstance(db, SqliteDatabase)
    assert db.database == "sub/dir/contacts.db"
    assert (tmp_path / "sub" / "dir").is_dir()  # created so the first connect succeeds


def test_sqlite_absolute_path(tmp_path: Path) -> None:
    db = make_database(f"sqlite:///{tmp_path}/abs/contacts.db")  # four slashes in all
    assert db.database == f"{tmp_path}/abs/contacts.db"
    assert (tmp_path / "abs").is_dir()


def test_sqlite_path_is_percent_decoded(tmp_path: Path) -> None:
    db = make_database(f"sqlite:///{tmp_path}/my%20contacts.db")
    assert db.database == f"{tmp_path}/my contacts.db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_in_memory(url: str) -> None:
    assert make_database(url).database == ":memory:"


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = make_database(f"sqlite:///{tmp_path}/p.db")
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_sqlite_url_with_a_host_is_refused() -> None:
    """sqlite://contacts.db would otherwise silently be an in-memory database."""
    with pytest.raises(ValueError, match="sqlite:///relative/path"):
        make_database("sqlite://contacts.db")


def test_postgresql_url_with_options() -> None:
    db = make_database("postgresql://bob:p%40ss%2Fw@db.example.org:6543/contacts"
                       "?sslmode=require&options=-csearch_path%3Ddav")
    assert isinstance(db, PooledPostgresqlDatabase)
    assert db.database == "contacts"
    assert db.connect_params == {
        "user": "bob", "password": "p@ss/w", "host": "db.example.org", "port": 6543,
        "sslmode": "require", "options": "-csearch_path=dav",
    }
    assert db.is_closed()


def test_postgres_alias_and_defaults() -> None:
    db = make_database("postgres://")
    assert isinstance(db, PooledPostgresqlDatabase)
    assert db.database == "postgres"
    assert db.connect_params == {}  # libpq defaults: local socket, current user


def test_unsupported_scheme() -> None:
    with pytest.raises(ValueError, match="mysql"):
        make_database("mysql://localhost/contacts")
    with pytest.raises(StorageError, match="mysql"):
        open_database("mysql://localhost/contacts")


def test_unreachable_database_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as info:
        open_database("postgresql://bob:hunter2@127.0.0.1:1/contacts")
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("cannot open the database: ")
    assert '"127.0.0.1", port 1 failed' in str(info.value)


def test_unopenable_sqlite_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    with pytest.raises(StorageError, match=f"cannot open the database {tmp_path}/a-directory.db"):
        open_database(f"sqlite:///{tmp_path}/a-directory.db")


# Migrations, on every backend ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database on each backend. Every database object the test makes is
    closed afterwards (a PostgreSQL pool keeps its connections open otherwise)."""
    made = []

    def recording(url: str):
        made.append(real(url))
        return made[-1]

    real = dbmod.make_database
    monkeypatch.setattr(dbmod, "make_database", recording)
    for backend in make_backend(request.param, tmp_path):
        try:
            yield backend.url
        finally:
            for db in made:
                close_connections(db)


def versions() -> list[int]:
    return [row.version for row in SchemaVersion.select().order_by(SchemaVersion.version)]


def test_fresh_database_is_stamped_with_the_current_version(url: str) -> None:
    db = open_database(url)
    with db.connection_context():
        assert versions() == [SCHEMA_VERSION]
        assert dbmod.current_version(db) == SCHEMA_VERSION
        for model in dbmod.ALL_MODELS:
            assert dbmod._has_table(db, model._meta.table_name), model.__name__
        assert User.select().count() == 0  # never a default user


def test_migrate_is_idempotent(url: str) -> None:
    db = open_database(url)
    with db.connection_context():
        secret = get_secret()
        assert migrate_schema(db) == SCHEMA_VERSION
        assert migrate_schema(db) == SCHEMA_VERSION
        assert versions() == [SCHEMA_VERSION]
        assert Setting.select().count() == 1
        assert get_secret() == secret
    db = open_database(url)  # a restart
    with db.connection_context():
        assert versions() == [SCHEMA_VERSION]


def test_older_database_runs_the_newer_migrations_once(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release with one more migration opens a database of this one: the new step
    runs once, is recorded, and existing rows stay."""
    from davcontacts.contacts.users import create_user

    db = open_database(url)
    with db.connection_context():
        create_user("keeper", "pw", scrypt_n=1024)
    ran: list[int] = []

    def add_table(db) -> None:
        ran.append(1)
        db.execute_sql("CREATE TABLE future_feature (id INTEGER PRIMARY KEY)")

    newer = SCHEMA_VERSION + 1
    monkeypatch.setattr(dbmod, "MIGRATIONS", [*dbmod.MIGRATIONS, (newer, "future", add_table)])
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", newer)
    db = open_database(url)
    with db.connection_context():
        assert ran == [1]
        assert versions() == [SCHEMA_VERSION, newer]
        assert dbmod._has_table(db, "future_feature")
        assert User.get(User.username == "keeper").active
        migrate_schema(db)
        assert ran == [1]


def test_newer_database_is_refused(url: str) -> None:
    db = open_database(url)
    with db.connection_context():
        SchemaVersion.create(version=SCHEMA_VERSION + 1, description="from the future")
        with pytest.raises(SchemaTooNew) as info:
            migrate_schema(db)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"({SCHEMA_VERSION})" in message and "upgrade davcontacts" in message
    with pytest.raises(StorageError, match="newer than this release"):
        open_database(url)


def test_secret_is_created_once_and_shared(url: str) -> None:
    """Every process of one installation reads the same secret (credential cache keys,
    admin sessions): it lives in the database, created by the first migration."""
    db = open_database(url)
    with db.connection_context():
        first = get_secret()
    assert len(first) == 32
    other = dbmod.make_database(url)  # another process: its own connection
    with other.connection_context():
        rows = other.execute_sql("SELECT value FROM setting WHERE key = 'secret_key'")
        assert bytes.fromhex(rows.fetchone()[0]) == first
    open_database(url)
    with database.obj.connection_context():
        assert get_secret() == first


def test_concurrent_start_ups_migrate_once(url: str, tmp_path: Path) -> None:
    """Several processes starting on an empty database (workers, machines) wait for
    each other: one schema, one version row, one secret."""
    env = dict(os.environ, DAVCONTACTS_DATABASE_URL=url)
    env.pop("DAVCONTACTS_CONFIG", None)
    argv = [sys.executable, "-m", "davcontacts", "init", "--data-dir", str(tmp_path)]
    procs = [subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"schema version {SCHEMA_VERSION}" in out
    db = open_database(url, migrate=False)
    with db.connection_context():
        assert versions() == [SCHEMA_VERSION]
        assert Setting.select().count() == 1


def test_a_schema_3_database_is_migrated_to_4(url: str) -> None:
    """Migration 4 adds the folded FN column, filled from every stored card (hidden
    ones too), and the search and company-name indexes; rows and cards stay."""
    from davcontacts.contacts import cards
    from davcontacts.contacts.actor import Actor
    from davcontacts.contacts.users import create_user
    from davcontacts.model import AddressBook, Contact
    from davcontacts.vcard.collation import fn_fold
    from davcontacts.vcard.parse import parse_card
    from tests.model.schema_support import SCHEMA_4_INDEXES, create_schema, index_names

    texts = {
        "plain.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ärger Åström\r\nEND:VCARD\r\n",
        "two.vcf": "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:b\r\nFN:Zed\r\nFN:ＭＡＲＴＩＮ\r\n"
                   "END:VCARD\r\n",
        "long.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:" + "x" * 1500 + "\r\nEND:VCARD\r\n",
        "gone.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:d\r\nFN:Deleted Dora\r\nEND:VCARD\r\n",
    }
    old = make_database(url)
    database.initialize(old)
    try:
        with old.connection_context():
            create_schema(old, 3)
            assert "fn_fold" not in {c.name for c in old.get_columns("contact")}
            create_user("keeper", "pw", scrypt_n=1024)
            book = AddressBook.get(AddressBook.slug == "personal")
            for name, text in texts.items():  # the old table has no fn_fold: insert by hand
                Contact.insert(book=book.id, name=name, name_key=name, uid=name, uid_key=name,
                               vcard=text, etag=name, version="3.0", size=len(text),
                               display_name=name).execute()
    finally:
        close_connections(old)
    db = open_database(url)
    with db.connection_context():
        assert versions() == [3, *range(4, SCHEMA_VERSION + 1)]
        assert set(SCHEMA_4_INDEXES) <= index_names(db, "contact")
        stored = {c.name: c for c in Contact.select()}
        assert set(stored) == set(texts)
        for name, text in texts.items():
            assert stored[name].vcard == text
            assert stored[name].fn_fold == fn_fold(parse_card(text)), name
        assert stored["two.vcf"].fn_fold == "zed\x1fmartin"
        assert stored["long.vcf"].fn_fold is None  # too long: searches read the card
        actor = Actor.cli()
        cards.delete_card(actor, stored["gone.vcf"])
        assert Contact.get(Contact.name == "gone.vcf").fn_fold == "deleted dora"
        if not isinstance(db, SqliteDatabase):  # REAL rounded Unix times to 128 s there
            types = dict(db.execute_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'lock' AND table_schema = current_schema()").fetchall())
            assert types["expire"] == types["timeout"] == "double precision"


def test_a_schema_4_database_is_migrated_to_5(url: str) -> None:
    """Migration 5 swaps the single-column indexes on state, display name and city for
    the contact list's indexes and adds the uploads table; rows stay and list."""
    from davcontacts.contacts import listing, uploads
    from davcontacts.contacts.actor import Actor
    from davcontacts.contacts.cards import put_card
    from davcontacts.contacts.users import create_user
    from davcontacts.model import AddressBook
    from davcontacts.model.books import LIST_INDEXES
    from tests.model.schema_support import SCHEMA_5_DROPPED, create_schema, index_names

    old = make_database(url)
    database.initialize(old)
    try:
        with old.connection_context():
            create_schema(old, 4)
            assert set(SCHEMA_5_DROPPED) <= index_names(old, "contact")
            assert not set(LIST_INDEXES) & index_names(old, "contact")
            assert not dbmod._has_table(old, "upload")
            owner = create_user("keeper", "pw", scrypt_n=1024)
            book = AddressBook.get(AddressBook.owner_user == owner.id)
            for name in ("Zoe", "Adam", "Mia"):
                card = f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{name}\r\nFN:{name}\r\nEND:VCARD\r\n"
                put_card(Actor.cli(), book, f"{name}.vcf", card.encode(), max_size=1 << 20)
    finally:
        close_connections(old)
    db = open_database(url)
    with db.connection_context():
        assert versions() == [4, *range(5, SCHEMA_VERSION + 1)]
        indexes = index_names(db, "contact")
        assert set(LIST_INDEXES) <= indexes
        assert not set(SCHEMA_5_DROPPED) & indexes
        keeper = User.get(User.username == "keeper")
        page = listing.contacts_page(Actor(keeper, "admin"), listing.ListQuery())
        assert [c.display_name for c in page.rows] == ["Adam", "Mia", "Zoe"]
        stored = uploads.stash(keeper, "c.csv", b"fn\r\nAnn\r\n")
        assert uploads.content(uploads.load(keeper, stored.token)) == b"fn\r\nAnn\r\n"


def test_a_schema_5_database_is_migrated_to_6(url: str) -> None:
    """Migration 6 rebuilds the company-name index led by LOWER(display_name); an ORG
    still finds its company, and SQLite's planner takes that index."""
    from davcontacts.contacts.actor import Actor
    from davcontacts.contacts.cards import put_card
    from davcontacts.contacts.users import create_user
    from davcontacts.model import AddressBook, Contact
    from tests.model.schema_support import create_schema, index_sql

    old = make_database(url)
    database.initialize(old)
    try:
        with old.connection_context():
            create_schema(old, 5)
            assert "book_id" in index_sql(old, "contact_company_name")
            owner = create_user("keeper", "pw", scrypt_n=1024)
            book = AddressBook.get(AddressBook.owner_user == owner.id)
            company = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:co\r\nKIND:org\r\nFN:Acme GmbH\r\n"
                       "ORG:Acme GmbH\r\nEND:VCARD\r\n")
            put_card(Actor.cli(), book, "co.vcf", company.encode(), max_size=1 << 20)
    finally:
        close_connections(old)
    db = open_database(url)
    with db.connection_context():
        assert versions() == [5, *range(6, SCHEMA_VERSION + 1)]
        sql = index_sql(db, "contact_company_name").lower()
        assert "book_id" not in sql and sql.index("lower") < sql.index("kind"), sql
        book = AddressBook.get(AddressBook.slug == "personal")
        person = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p\r\nFN:Ann\r\nORG:ACME GMBH\r\n"
                  "END:VCARD\r\n")
        result = put_card(Actor.cli(), book, "p.vcf", person.encode(), max_size=1 << 20)
        assert result.contact.company_id == Contact.get(Contact.uid == "co").id
        if isinstance(db, SqliteDatabase):
            seen: list[str] = []
            real = db.execute_sql

            def explain(sql, params=None, *args, **kwargs):
                if "LOWER" in sql and '"kind"' in sql:
                    plan = real("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                    seen.append(" / ".join(row[-1] for row in plan))
                return real(sql, params, *args, **kwargs)

            db.execute_sql = explain
            try:
                other = person.replace("UID:p", "UID:q").encode()
                put_card(Actor.cli(), book, "q.vcf", other, max_size=1 << 20)
            finally:
                del db.execute_sql
            assert seen and all("USING INDEX contact_company_name" in p for p in seen), seen
