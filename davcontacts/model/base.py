"""The database proxy every model binds to, and the shared base model.

Models name no database; `model.db.open_database` binds the proxy once at start-up
from a URL, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as _dt

import peewee
from peewee import DatabaseProxy, Model

database = DatabaseProxy()


def utcnow() -> _dt.datetime:
    """Naive UTC timestamp (stored as such on SQLite and PostgreSQL alike)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


class DateTimeField(peewee.DateTimeField):
    """peewee's DateTimeField, reading SQLite's text with datetime.fromisoformat (one
    C call) before falling back to peewee's strptime formats; every row a request
    loads carries two or three timestamps."""

    def python_value(self, value):
        if isinstance(value, str):
            try:
                return _dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        return super().python_value(value)


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


# Fields whose column value both drivers (sqlite3, psycopg2) already return as the
# Python value peewee would make of it: RowReader skips their conversion.
_STORED_AS_IS = (peewee.AutoField, peewee.BigAutoField, peewee.IntegerField,
                 peewee.BigIntegerField, peewee.CharField, peewee.TextField,
                 peewee.DoubleField, peewee.FloatField)


def _as_stored(field) -> bool:
    if isinstance(field, peewee.ForeignKeyField):
        return _as_stored(field.rel_field)
    return type(field) in _STORED_AS_IS


class RowReader:
    """Model instances from the raw cursor rows of a SELECT of `fields` (all of the
    model's by default), each column converted by its field: what peewee's row
    wrapper does, at a fraction of its cost per row. A listing of a 100,000-card
    book builds 100,000 of them."""

    def __init__(self, model: type[Model], fields=None):
        self.model = model
        self.fields = tuple(fields or model._meta.sorted_fields)
        self._convert = tuple((f.name, None if _as_stored(f) else f.python_value)
                              for f in self.fields)

    def select(self):
        """A query selecting exactly this reader's columns, in its order."""
        return self.model.select(*self.fields)

    def build(self, row):
        """A clean (not dirty) instance, as peewee's own row wrapper builds it."""
        obj = self.model(__no_default__=1)
        obj.__data__ = {name: (v if convert is None or v is None else convert(v))
                        for (name, convert), v in zip(self._convert, row, strict=True)}
        return obj

    def run(self, query) -> list:
        """Run a query made from select() and build its rows."""
        cursor = database.obj.execute_sql(*query.sql())
        return [self.build(row) for row in cursor.fetchall()]


class Lookup:
    """A SELECT written once, for the lookups every request makes (user, book, card,
    locks), where building peewee's query tree and its row wrapper cost several times
    the query itself. `where` names columns in double quotes and marks parameters
    with {p}; rows come back as model instances (of `fields` only, if given)."""

    def __init__(self, model: type[Model], where: str, *, order: str = "", limit: int = 0,
                 fields=None):
        self.reader = RowReader(model, fields)
        self.where = where
        self.tail = (f" ORDER BY {order}" if order else "") + (f" LIMIT {limit}" if limit else "")
        self._sql: dict[str, str] = {}

    def sql(self) -> str:
        param = database.obj.param
        sql = self._sql.get(param)
        if sql is None:
            table = self.reader.model._meta.table_name
            columns = ", ".join(f'"{f.column_name}"' for f in self.reader.fields)
            sql = self._sql[param] = (f'SELECT {columns} FROM "{table}" WHERE '
                                      + self.where.format(p=param) + self.tail)
        return sql

    def all(self, *params) -> list:
        cursor = database.obj.execute_sql(self.sql(), params)
        return [self.reader.build(row) for row in cursor.fetchall()]

    def first(self, *params):
        rows = self.all(*params)
        return rows[0] if rows else None
