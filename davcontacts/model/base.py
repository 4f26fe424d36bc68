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


class Lookup:
    """A SELECT written once and run through Model.raw: for the lookups every request
    makes (user, book, card, locks), where building peewee's query tree cost four
    times the query itself. `where` names columns in double quotes and marks
    parameters with {p}; rows come back as model instances, converted as usual."""

    def __init__(self, model: type[Model], where: str, *, order: str = "", limit: int = 0):
        self.model = model
        self.where = where
        self.tail = (f" ORDER BY {order}" if order else "") + (f" LIMIT {limit}" if limit else "")
        self._sql: dict[str, str] = {}

    def sql(self) -> str:
        param = database.obj.param
        sql = self._sql.get(param)
        if sql is None:
            table = self.model._meta.table_name
            sql = self._sql[param] = (f'SELECT * FROM "{table}" WHERE '
                                      + self.where.format(p=param) + self.tail)
        return sql

    def all(self, *params) -> list:
        return list(self.model.raw(self.sql(), *params))

    def first(self, *params):
        rows = self.all(*params)
        return rows[0] if rows else None
