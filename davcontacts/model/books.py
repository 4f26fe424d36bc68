"""Address books (ownership scopes), contacts, their history and the sync log."""

from __future__ import annotations

from peewee import (
    AutoField,
    BigAutoField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from .base import BaseModel, DateTimeField, utcnow
from .users import Group, User

CONTACT_KINDS = ("person", "company", "group")
CONTACT_STATES = ("active", "archived", "deleted")
DOORS = ("dav", "admin", "cli", "import")


class AddressBook(BaseModel):
    """An ownership scope: owned by exactly one user or one group."""

    id = AutoField()
    owner_user = ForeignKeyField(User, null=True, backref="books", on_delete="CASCADE")
    owner_group = ForeignKeyField(Group, null=True, backref="books", on_delete="CASCADE")
    slug = CharField(max_length=128)
    display_name = CharField(max_length=255, default="")
    description = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("owner_user", "slug"), True),
            (("owner_group", "slug"), True),
        )


class Contact(BaseModel):
    """One card of a book. `name_key`/`uid_key` equal name/uid while the card is
    active and are NULL otherwise, so the unique indexes cover live cards only
    (NULLs never collide on SQLite or PostgreSQL) and a hidden card keeps its row."""

    id = AutoField()
    book = ForeignKeyField(AddressBook, backref="contacts", on_delete="CASCADE")
    name = CharField(max_length=512)
    name_key = CharField(max_length=512, null=True)
    uid = CharField(max_length=512)
    uid_key = CharField(max_length=512, null=True)
    kind = CharField(max_length=16, default="person")
    state = CharField(max_length=16, default="active")
    state_changed_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    state_changed_at = DateTimeField(null=True)
    vcard = TextField()
    etag = CharField(max_length=64)
    version = CharField(max_length=8)
    size = IntegerField()
    # Derived, indexed columns for listing and search (kept in step on every write).
    display_name = CharField(max_length=512, default="")
    given_name = CharField(max_length=255, default="")
    family_name = CharField(max_length=255, default="")
    org = CharField(max_length=512, default="")
    email = CharField(max_length=512, default="")
    phone = CharField(max_length=128, default="")
    middle_name = CharField(max_length=255, default="")
    prefix = CharField(max_length=64, default="")
    suffix = CharField(max_length=64, default="")
    nickname = CharField(max_length=255, default="")
    title = CharField(max_length=255, default="")
    birthday = CharField(max_length=32, default="")  # the BDAY value as written
    note = TextField(default="")
    city = CharField(max_length=255, default="")  # first address's locality
    # Every FN value folded for i;unicode-casemap (vcard/collation.py), so that a
    # CardDAV search on names reads this column, not the cards; NULL: read the card.
    fn_fold = TextField(null=True)
    has_photo = BooleanField(default=False)  # the image stays in the card text only
    linked_user = ForeignKeyField(User, null=True, unique=True, on_delete="SET NULL", backref="+")
    assignee = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    company = ForeignKeyField("self", null=True, on_delete="SET NULL", backref="+")
    reports_to = ForeignKeyField("self", null=True, on_delete="SET NULL", backref="+")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("book", "name_key"), True),
            (("book", "uid_key"), True),
            (("book", "state", "name"), False),
        )


# A search on FN reads the live cards' folded names from this index alone (a covering
# index: SQLite's planner passed over a partial one on name_key for the unique index).
Contact.add_index(Contact.index(Contact.book, Contact.state, Contact.fn_fold,
                                name="contact_fn_fold"))
# An incoming ORG finds its company by name without scanning the book. The name leads
# (schema 6): led by the book, it lost to the list indexes below, which SQLite's
# planner walked over every company of the book instead.
Contact.add_index(Contact.index(fn.LOWER(Contact.display_name), Contact.kind,
                                name="contact_company_name"))
# The admin's contacts list (contacts/listing.py, schema 5): each order it offers, and
# its kind filter, is an index walk from the keyset cursor, never a sort of the whole
# table. Admins list every book (state first); a member's books are read one by one
# (book first). At 100,000 contacts a page takes about 1.5 ms instead of 60 (admin)
# and 170 (a member's 30 contacts); measured in bench/admin_list.py.
LIST_ORDERS = {"name": (), "org": (Contact.org,), "city": (Contact.city,),
               "kind": (Contact.kind,)}
for _order, _columns in LIST_ORDERS.items():
    Contact.add_index(Contact.index(Contact.state, *_columns, Contact.display_name, Contact.id,
                                    name=f"contact_list_{_order}"))
    Contact.add_index(Contact.index(Contact.book, Contact.state, *_columns,
                                    Contact.display_name, Contact.id,
                                    name=f"contact_book_list_{_order}"))
del _order, _columns
LIST_INDEXES = tuple(f"contact_{scope}list_{order}" for scope in ("", "book_")
                     for order in LIST_ORDERS)


class Tag(BaseModel):
    id = AutoField()
    book = ForeignKeyField(AddressBook, backref="tags", on_delete="CASCADE")
    name = CharField(max_length=255)

    class Meta:
        indexes = ((("book", "name"), True),)


class ContactTag(BaseModel):
    id = AutoField()
    contact = ForeignKeyField(Contact, backref="tag_links", on_delete="CASCADE")
    tag = ForeignKeyField(Tag, backref="contact_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("contact", "tag"), True),)


class Revision(BaseModel):
    """Every stored version of a card: nothing a user ever saved is lost."""

    id = BigAutoField()
    contact = ForeignKeyField(Contact, backref="revisions", on_delete="CASCADE")
    vcard = TextField()
    etag = CharField(max_length=64)
    action = CharField(max_length=16)  # create, update, delete, archive, restore
    door = CharField(max_length=16)
    author = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)


class Change(BaseModel):
    """The sync log (RFC 6578): one row per change of a member of a book; the id is
    monotonic, so a sync token is simply the last id a client has seen."""

    id = BigAutoField()
    book = ForeignKeyField(AddressBook, on_delete="CASCADE", backref="+")
    name = CharField(max_length=512)
    removed = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("book", "id"), False),)
