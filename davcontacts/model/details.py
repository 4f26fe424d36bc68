"""A contact's CRM side: multi-valued details (searchable child rows derived from the
stored vCard), contact-group members, and business accounts (client, supplier)."""

from __future__ import annotations

from peewee import AutoField, CharField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, DateTimeField, utcnow
from .books import Contact

BUSINESS_ROLES = ("client", "supplier")
ADDRESS_KINDS = ("billing", "shipping", "home", "work", "other")


class ContactValue(BaseModel):
    """One EMAIL, TEL, URL or IMPP of a card, in card order."""

    id = AutoField()
    contact = ForeignKeyField(Contact, backref="values", on_delete="CASCADE")
    field = CharField(max_length=16)  # EMAIL, TEL, URL, IMPP
    types = CharField(max_length=255, default="")  # lower-case TYPE values, comma-separated
    value = CharField(max_length=1024, index=True)
    position = IntegerField(default=0)

    class Meta:
        indexes = ((("contact", "field", "position"), False),)


class ContactAddress(BaseModel):
    """One ADR of a card; `kind` is billing/shipping/home/work from its TYPE."""

    id = AutoField()
    contact = ForeignKeyField(Contact, backref="addresses", on_delete="CASCADE")
    kind = CharField(max_length=16, default="other")
    types = CharField(max_length=255, default="")
    street = CharField(max_length=1024, default="")
    locality = CharField(max_length=255, default="", index=True)
    region = CharField(max_length=255, default="")
    postal_code = CharField(max_length=64, default="")
    country = CharField(max_length=255, default="")
    position = IntegerField(default=0)


class ContactGroupMember(BaseModel):
    """A member of a contact-group card, by the member's UID (urn:uuid:… or plain):
    a member that disappears leaves the group intact."""

    id = AutoField()
    group = ForeignKeyField(Contact, backref="member_links", on_delete="CASCADE")
    member_uid = CharField(max_length=512, index=True)
    position = IntegerField(default=0)


class BusinessAccount(BaseModel):
    """The commercial relationship on top of a contact: one row per role."""

    id = AutoField()
    contact = ForeignKeyField(Contact, backref="accounts", on_delete="CASCADE")
    role = CharField(max_length=16)
    number = CharField(max_length=64, default="")
    status = CharField(max_length=32, default="active")
    details = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("contact", "role"), True),)
