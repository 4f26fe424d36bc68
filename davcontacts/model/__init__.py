"""peewee models (one module per aggregate) and the database they are bound to."""

from .base import BaseModel, Lookup, database, utcnow, write_transaction
from .books import (
    CONTACT_KINDS,
    CONTACT_STATES,
    AddressBook,
    Change,
    Contact,
    ContactTag,
    Revision,
    Tag,
)
from .dav import DeadProperty, Lock, Resource, SchemaVersion, Setting
from .db import ALL_MODELS, SCHEMA_VERSION, get_secret, migrate_schema, open_database
from .details import (
    ADDRESS_KINDS,
    BUSINESS_ROLES,
    BusinessAccount,
    ContactAddress,
    ContactGroupMember,
    ContactValue,
)
from .users import ACCESS_LEVELS, ROLES, AppPassword, Group, LoginThrottle, Membership, User

__all__ = [
    "ADDRESS_KINDS", "BUSINESS_ROLES", "BusinessAccount", "ContactAddress",
    "ContactGroupMember", "ContactValue",
    "ACCESS_LEVELS", "ALL_MODELS", "CONTACT_KINDS", "CONTACT_STATES", "ROLES",
    "SCHEMA_VERSION", "AddressBook", "AppPassword", "BaseModel", "Change", "Contact",
    "ContactTag", "DeadProperty", "Group", "Lock", "LoginThrottle", "Lookup", "Membership",
    "Resource", "Revision",
    "SchemaVersion", "Setting", "Tag", "User", "database", "get_secret",
    "migrate_schema", "open_database", "utcnow", "write_transaction",
]
