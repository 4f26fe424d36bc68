"""Files an admin uploaded for import, kept between the preview and the import (schema
5). In the database, not in a process or on one machine's disk: the next request of
the same import may reach any worker process or machine."""

from __future__ import annotations

from peewee import AutoField, BlobField, CharField, ForeignKeyField, IntegerField

from .base import BaseModel, DateTimeField, utcnow
from .users import User


class Upload(BaseModel):
    """One uploaded file, found by its random token and only by its uploader."""

    id = AutoField()
    token = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
    filename = CharField(max_length=255)
    format = CharField(max_length=8)  # csv, vcf
    data = BlobField()
    size = IntegerField()
    created_at = DateTimeField(default=utcnow, index=True)
