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
