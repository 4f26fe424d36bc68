"""Plain WebDAV state kept in the database so every process sees it: generic
resources (non-address-book collections and files in a home), locks and dead
properties."""

from __future__ import annotations

from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    CharField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, DateTimeField, utcnow
from .users import User


class Resource(BaseModel):
    """A generic WebDAV collection or file below a user's home. `path` is relative to
    the home (no leading or trailing slash); `parent` is the path of its collection
    ("" at the top of the home)."""

    id = AutoField()
    owner = ForeignKeyField(User, backref="resources", on_delete="CASCADE")
    path = CharField(max_length=1024)
    parent = CharField(max_length=1024)
    is_collection = BooleanField(default=False)
    content = BlobField(null=True)
    content_type = CharField(max_length=255, default="application/octet-stream")
    etag = CharField(max_length=64, default="")
    size = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("owner", "path"), True),
            (("owner", "parent"), False),
        )


class Lock(BaseModel):
    """A WebDAV lock (RFC 4918 §6), as WsgiDAV's lock storage describes it."""

    id = AutoField()
    token = CharField(max_length=255, unique=True)
    root = CharField(max_length=2048, index=True)
    depth = CharField(max_length=16)
    scope = CharField(max_length=16)
    type = CharField(max_length=16)
    owner = TextField(default="")
    principal = CharField(max_length=255, default="")
    timeout = DoubleField()
    expire = DoubleField(index=True)  # Unix time: REAL on PostgreSQL rounds it to 128 s


class DeadProperty(BaseModel):
    """A PROPPATCH'ed property, keyed by the resource's ref-URL."""

    id = AutoField()
    url = CharField(max_length=2048)
    name = CharField(max_length=512)
    value = TextField()

    class Meta:
        indexes = ((("url", "name"), True),)


class Setting(BaseModel):
    """Server-wide values that every process must share (the secret key, …)."""

    key = CharField(max_length=64, primary_key=True)
    value = TextField()


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    applied_at = DateTimeField(default=utcnow)
    description = CharField(max_length=255, default="")
