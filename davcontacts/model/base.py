"""The database proxy every model binds to, and the shared base model.

Models name no database; `model.db.open_database` binds the proxy once at start-up
from a URL, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as _dt

from peewee import DatabaseProxy, Model

database = DatabaseProxy()


def utcnow() -> _dt.datetime:
    """Naive UTC timestamp (stored as such on SQLite and PostgreSQL alike)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


def write_transaction():
    """A transaction for a request or operation that will write. On SQLite it takes
    the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads and
    then writes fails at once with "database is locked" when another writer got in
    between, instead of waiting busy_timeout. Nested calls become savepoints."""
    from peewee import SqliteDatabase
    db = database.obj
    if isinstance(db, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
