"""Databases as an older release left them, for migration tests: today's tables less
what the later migrations add."""

from __future__ import annotations

from peewee import Database, PostgresqlDatabase

from davcontacts.model import SchemaVersion
from davcontacts.model import db as dbmod
from davcontacts.model.books import LIST_INDEXES
from davcontacts.model.uploads import Upload

SCHEMA_4_INDEXES = ("contact_fn_fold", "contact_company_name")
SCHEMA_5_DROPPED = {"contact_state": "state", "contact_display_name": "display_name",
                    "contact_city": "city"}


def undo_schema_6(db: Database) -> None:
    """The company-name index as schemas 4 and 5 had it: led by the book."""
    db.execute_sql('DROP INDEX IF EXISTS "contact_company_name"')
    db.execute_sql('CREATE INDEX "contact_company_name" ON "contact" '
                   '("book_id", "kind", LOWER("display_name"))')


def index_sql(db: Database, name: str) -> str:
    """The CREATE INDEX statement of index `name`, as the database keeps it."""
    if isinstance(db, PostgresqlDatabase):
        cursor = db.execute_sql("SELECT indexdef FROM pg_indexes WHERE indexname = %s "
                                "AND schemaname = current_schema()", (name,))
    else:
        cursor = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                "AND name = ?", (name,))
    row = cursor.fetchone()
    return row[0] if row else ""


def undo_schema_5(db: Database) -> None:
    """Remove what migration 5 added (the list indexes, the upload table) and bring back
    the single-column indexes it dropped."""
    for index in LIST_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    for index, column in SCHEMA_5_DROPPED.items():
        db.execute_sql(f'CREATE INDEX "{index}" ON "contact" ("{column}")')
    db.drop_tables([Upload])


def undo_schema_4(db: Database) -> None:
    """Remove what migration 4 added: the folded FN column and its index, the
    company-name index, double-precision lock times on PostgreSQL."""
    for index in SCHEMA_4_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    db.execute_sql('ALTER TABLE "contact" DROP COLUMN "fn_fold"')
    if isinstance(db, PostgresqlDatabase):
        for column in ("timeout", "expire"):
            db.execute_sql(f'ALTER TABLE "lock" ALTER COLUMN "{column}" TYPE REAL')


def create_schema(db: Database, version: int, *, leave_out=()) -> None:
    """Tables as schema `version` had them (3 or later), less the models in
    `leave_out`, stamped with that version."""
    db.create_tables([m for m in dbmod.ALL_MODELS if m not in leave_out])
    if version < 6:
        undo_schema_6(db)
    if version < 5:
        undo_schema_5(db)
    if version < 4:
        undo_schema_4(db)
    SchemaVersion.create(version=version, description="created by an older release")
    dbmod._ensure_secret(db)


def index_names(db: Database, table: str) -> set[str]:
    """The indexes of `table` (on PostgreSQL in the current schema: peewee would look
    in `public`, and the tests work in a private schema)."""
    if isinstance(db, PostgresqlDatabase):
        cursor = db.execute_sql("SELECT indexname FROM pg_indexes WHERE tablename = %s "
                                "AND schemaname = current_schema()", (table,))
        return {name for (name,) in cursor.fetchall()}
    return {ix.name for ix in db.get_indexes(table)}
