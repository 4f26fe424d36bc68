"""Login identities, the groups they belong to, their app passwords, and the
failed-login counts that throttle guessing."""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
)

from .base import BaseModel, DateTimeField, utcnow

ROLES = ("superadmin", "admin", "member")
ACCESS_LEVELS = ("read", "write")


class User(BaseModel):
    id = AutoField()
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=255)
    display_name = CharField(max_length=255, default="")
    email = CharField(max_length=255, default="")
    role = CharField(max_length=16, default="member")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class Group(BaseModel):
    id = AutoField()
    name = CharField(max_length=64, unique=True)
    display_name = CharField(max_length=255, default="")
    description = CharField(max_length=1024, default="")
    created_at = DateTimeField(default=utcnow)


class Membership(BaseModel):
    id = AutoField()
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    group = ForeignKeyField(Group, backref="memberships", on_delete="CASCADE")
    access = CharField(max_length=8, default="write")

    class Meta:
        indexes = ((("user", "group"), True),)


class AppPassword(BaseModel):
    """A per-device password (schema 3): `dcap_<public_id>_<secret>`, stored as a
    scrypt hash like the main password; revoked rows stay, for the record."""

    id = AutoField()
    user = ForeignKeyField(User, backref="app_passwords", on_delete="CASCADE")
    public_id = CharField(max_length=16, unique=True)
    label = CharField(max_length=100)
    password_hash = CharField(max_length=255)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class LoginThrottle(BaseModel):
    """Failed logins by client address (`address:<ip or /64>`) or by user name
    (`user:<name>`), shared by every process (schema 3). Times are Unix seconds; a
    row past `expires_at` means nothing and is deleted on the next failure. Double
    precision: PostgreSQL's REAL (peewee's FloatField) holds today's Unix time only to
    the nearest 128 seconds."""

    id = AutoField()
    key = CharField(max_length=255, unique=True)
    failures = IntegerField(default=0)  # within the window starting at window_start
    window_start = DoubleField()
    locked_until = DoubleField(default=0)
    strikes = IntegerField(default=0)  # lockouts in a row, for the doubling
    expires_at = DoubleField(index=True)
