"""Connect the model to a database URL and bring its schema up to date.

A fresh database gets the current tables and is stamped with the newest schema
version; an older one runs the migrations after its version, in order, at start-up.
Several processes may start at once: the migration runs under a database lock.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlparse

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase

from .base import database
from .books import AddressBook, Change, Contact, ContactTag, Revision, Tag
from .dav import DeadProperty, Lock, Resource, SchemaVersion, Setting
from .details import BusinessAccount, ContactAddress, ContactGroupMember, ContactValue
from .uploads import Upload
from .users import AppPassword, Group, LoginThrottle, Membership, User

log = logging.getLogger(__name__)

ALL_MODELS = (
    SchemaVersion, Setting, User, Group, Membership, AddressBook, Contact, Tag,
    ContactTag, Revision, Change, Resource, Lock, DeadProperty, ContactValue,
    ContactAddress, ContactGroupMember, BusinessAccount, AppPassword, LoginThrottle, Upload,
)


def _crm_details(db: Database) -> None:
    """Schema 2: CRM columns on contact, detail tables, group members, accounts."""
    from peewee import BooleanField, CharField, TextField
    from playhouse.migrate import SchemaMigrator, migrate
    migrator = SchemaMigrator.from_database(db)
    columns = [("middle_name", CharField(max_length=255, default="")),
               ("prefix", CharField(max_length=64, default="")),
               ("suffix", CharField(max_length=64, default="")),
               ("nickname", CharField(max_length=255, default="")),
               ("title", CharField(max_length=255, default="")),
               ("birthday", CharField(max_length=32, default="")),
               ("note", TextField(default="")),
               ("city", CharField(max_length=255, default="")),
               ("has_photo", BooleanField(default=False))]
    migrate(*(migrator.add_column("contact", name, field) for name, field in columns),
            migrator.add_index("contact", ("city",), False))  # dropped again by schema 5
    db.create_tables([ContactValue, ContactAddress, ContactGroupMember, BusinessAccount])


def _auth_hardening(db: Database) -> None:
    """Schema 3: app passwords and the failed-login counts."""
    db.create_tables([AppPassword, LoginThrottle])

def _search_columns(db: Database) -> None:
    """Schema 4: the folded FN column (filled from each stored card) with its index,
    the company-name index an incoming ORG is resolved with, and lock times as double
    precision on PostgreSQL (REAL rounded Unix times to 128 s)."""
    from peewee import TextField
    from playhouse.migrate import SchemaMigrator, migrate

    from ..errors import InvalidCard, TooLarge, UnsupportedCard
    from ..vcard.collation import fn_fold
    from ..vcard.parse import parse_card
    migrate(SchemaMigrator.from_database(db).add_column("contact", "fn_fold",
                                                        TextField(null=True)))
    last = 0
    while True:
        rows = list(Contact.select(Contact.id, Contact.vcard).where(Contact.id > last)
                    .order_by(Contact.id).limit(500).tuples())
        for row_id, text in rows:
            try:
                folded = fn_fold(parse_card(text))
            except (InvalidCard, TooLarge, UnsupportedCard):
                continue  # stays NULL: a search reads the card itself
            Contact.update(fn_fold=folded).where(Contact.id == row_id).execute()
        if len(rows) < 500:
            break
        last = rows[-1][0]
    Contact._schema.create_indexes(safe=True)
    if isinstance(db, PostgresqlDatabase):
        for column in ("timeout", "expire"):
            db.execute_sql(f'ALTER TABLE "lock" ALTER COLUMN "{column}" TYPE DOUBLE PRECISION')


def _listing_indexes(db: Database) -> None:
    """Schema 5: the admin list's indexes (model/books.py LIST_INDEXES), which make the
    single-column ones on state, display name and city redundant, and the table of
    uploads waiting for their import."""
    for index in ("contact_state", "contact_display_name", "contact_city"):
        db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    Contact._schema.create_indexes(safe=True)
    db.create_tables([Upload])


def _company_name_index(db: Database) -> None:
    """Schema 6: the company-name index leads with LOWER(display_name): led by the book
    (schema 4), SQLite's planner preferred schema 5's list index (book, state, kind,
    …) and walked every company of the book for each incoming ORG."""
    db.execute_sql('DROP INDEX IF EXISTS "contact_company_name"')
    Contact._schema.create_indexes(safe=True)


# (version, description, function). Append, never edit: a database created by an
# older release replays every step after its own version.
Migration = tuple[int, str, Callable[[Database], None]]
MIGRATIONS: list[Migration] = [
    (1, "initial schema", lambda db: db.create_tables(ALL_MODELS)),
    (2, "CRM details, contact groups, business accounts", _crm_details),
    (3, "app passwords, login throttling", _auth_hardening),
    (4, "folded FN for searches, company-name index, double lock times", _search_columns),
    (5, "contact list indexes, uploads for import", _listing_indexes),
    (6, "company-name index led by the name", _company_name_index),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StorageError(Exception):
    """The database cannot be opened or used by this release; the message says why."""


class SchemaTooNew(StorageError):
    """The database was migrated by a newer release than this one."""


SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10000,
    "cache_size": -2000,
}


def make_database(url: str) -> Database:
    """Build (not connect) the peewee database a URL names.

    SQLite follows the SQLAlchemy/playhouse.db_url convention: sqlite:///rel.db is
    relative to the working directory, sqlite:////abs/path.db absolute, and
    sqlite:///:memory: (or plain sqlite://) an in-memory database. PostgreSQL query
    parameters (sslmode, options=-csearch_path=…) are passed to libpq as they are.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"invalid SQLite URL {url!r}: write sqlite:///relative/path "
                             "or sqlite:////absolute/path")
        path = unquote(parsed.path)[1:]  # the slash after the (empty) host
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteDatabase(path or ":memory:", pragmas=SQLITE_PRAGMAS, timeout=10)
    if parsed.scheme in ("postgresql", "postgres"):
        kwargs = {
            "database": unquote(parsed.path.lstrip("/")) or "postgres",
            "user": unquote(parsed.username) if parsed.username else None,
            "password": unquote(parsed.password) if parsed.password else None,
            "host": parsed.hostname,
            "port": parsed.port,
        }
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        kwargs.update(parse_qsl(parsed.query))
        return PooledPostgresqlDatabase(max_connections=64, stale_timeout=300, timeout=30,
                                        **kwargs)
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}")


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Bind the model to the database at `url` and, by default, migrate it.

    Raises StorageError when the URL is unusable, the database cannot be reached, or
    its schema is newer than this release."""
    try:
        db = make_database(url)
    except ValueError as exc:
        raise StorageError(str(exc)) from None
    database.initialize(db)
    if migrate:
        try:
            with db.connection_context():
                migrate_schema(db)
        except OperationalError as exc:
            # libpq's message names host and port, never the password: no URL here.
            where = f" {db.database}" if isinstance(db, SqliteDatabase) else ""
            raise StorageError(f"cannot open the database{where}: {str(exc).strip()}"
                               ) from None
    return db


def close_connections(db: Database) -> None:
    """Close this process's connections, the pooled ones too (before a fork)."""
    if isinstance(db, PooledDatabase):
        db.close_all()
    elif not db.is_closed():
        db.close()


def _has_table(db: Database, name: str) -> bool:
    if isinstance(db, PostgresqlDatabase):  # honour search_path, not only "public"
        return db.execute_sql("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None
    return db.table_exists(name)


def current_version(db: Database) -> int:
    if not _has_table(db, SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate_schema(db: Database) -> int:
    """Create or upgrade the schema; idempotent. Returns the version now in force."""
    with _migration_transaction(db):
        version = current_version(db)
        if version == 0:
            db.create_tables(ALL_MODELS)
            SchemaVersion.create(version=SCHEMA_VERSION, description="created")
            log.info("created database schema version %d", SCHEMA_VERSION)
        elif version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {version}, newer than this release "
                f"understands ({SCHEMA_VERSION}); upgrade davcontacts"
            )
        for number, description, step in MIGRATIONS:
            if number > version and version != 0:
                log.info("migrating database to schema version %d: %s", number, description)
                step(db)
                SchemaVersion.create(version=number, description=description)
        _ensure_secret(db)
    return SCHEMA_VERSION


@contextmanager
def _migration_transaction(db: Database) -> Iterator[None]:
    """A transaction one process at a time may hold, so that concurrent start-ups
    (several workers, several machines) migrate once and wait for each other."""
    if isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"):  # the write lock from BEGIN on, not at first write
            yield
        return
    with db.atomic():
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(7263350001)")
        yield


def _ensure_secret(db: Database) -> None:
    if not Setting.get_or_none(Setting.key == "secret_key"):
        Setting.create(key="secret_key", value=secrets.token_hex(32))


def get_secret(db: Database | None = None) -> bytes:
    """The server-wide secret (credential cache keys, admin sessions): one per
    database, so every process and machine of one installation shares it."""
    return bytes.fromhex(Setting.get(Setting.key == "secret_key").value)
