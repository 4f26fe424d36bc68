"""Login identities and the groups they belong to."""

from __future__ import annotations

from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField

from .base import BaseModel, utcnow

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
