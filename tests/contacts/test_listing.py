"""contacts/listing.py through the model API, on SQLite and PostgreSQL: the list's
filters inside the ACL, keyset pages over a member's several books in the database's
order, the export iterator, the sidebar's tags and the owner labels; and on SQLite,
that every order the list offers is an index walk (schema 5), never a sort."""

from __future__ import annotations

import uuid

import pytest

from davcontacts.contacts import listing
from davcontacts.contacts.actor import Actor
from davcontacts.contacts.cards import archive_card, delete_card, put_card
from davcontacts.contacts.groups import create_group, set_membership
from davcontacts.model import AddressBook, Contact, Group, User, database
from tests.conftest import model_db

Q = listing.ListQuery


def card(uid: str, fn: str, *, kind: str = "person", city: str = "", org: str = "",
         tags: str = "", email: str = "") -> bytes:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{fn}"]
    if kind == "company":
        lines += [f"ORG:{fn}", "X-ABShowAs:COMPANY"]
    elif org:
        lines.append(f"ORG:{org}")
    if city:
        lines.append(f"ADR;TYPE=WORK:;;1 Road;{city};;;")
    if tags:
        lines.append(f"CATEGORIES:{tags}")
    if email:
        lines.append(f"EMAIL:{email}")
    return ("\r\n".join([*lines, "END:VCARD"]) + "\r\n").encode()


def add(book: AddressBook, fn: str, **kw) -> Contact:
    uid = uuid.uuid4().hex
    return put_card(Actor.cli(), book, f"{uid}.vcf", card(uid, fn, **kw),
                    max_size=1 << 20).contact


def personal(username: str) -> AddressBook:
    user = User.get(User.username == username)
    return AddressBook.get((AddressBook.owner_user == user.id) & (AddressBook.slug == "personal"))


def as_user(username: str) -> Actor:
    return Actor(User.get(User.username == username), "admin")


def names(page: listing.Page) -> list[str]:
    return [row.display_name for row in page.rows]


def walk(actor: Actor, query: Q) -> list[str]:
    """Every page forward through the Next cursors."""
    seen, after = [], None
    while True:
        page = listing.contacts_page(actor, Q(**{**query.__dict__, "after": after}))
        seen += names(page)
        if page.next is None:
            return seen
        after = listing.decode_cursor(page.next, query.sort)


def test_a_members_books_are_merged_in_the_databases_order(server) -> None:
    """Own book and a group book, read book by book: pages walk both in one order,
    the one the database gives the whole list (not Python's)."""
    member, other = server.add_user(), server.add_user()
    group = "lst" + uuid.uuid4().hex[:6]
    with model_db(server.database_url):
        create_group(group)
        set_membership(group, member, "read")
        shared = AddressBook.get(AddressBook.owner_group == Group.get(Group.name == group).id)
        mine = personal(member)
        wanted = []
        for i, name in enumerate(["émile", "Zed", "adam", "Ådne", "zoë", "Bob", "bob", "Émile",
                                  "Ça va", "Mia", "Nils", "Omar"]):
            add(mine if i % 2 else shared, name, city=f"City {i % 3}")
            wanted.append(name)
        add(personal(other), "Not Mine")
        actor = as_user(member)
        everything = Contact.select(Contact.display_name).where(
            Contact.book.in_([mine.id, shared.id]))
        for sort, order in (("name", [Contact.display_name, Contact.id]),
                            ("city", [Contact.city, Contact.display_name, Contact.id])):
            expected = [c.display_name for c in everything.order_by(*order)]
            assert sorted(expected) == sorted(wanted)
            assert walk(actor, Q(sort=sort, limit=5)) == expected
            backwards = [c.display_name for c in everything.order_by(*[o.desc() for o in order])]
            assert walk(actor, Q(sort=sort, desc=True, limit=4)) == backwards
        last = listing.contacts_page(actor, Q(limit=5, after=listing.decode_cursor(
            listing.contacts_page(actor, Q(limit=5)).next, "name")))
        before = listing.contacts_page(actor, Q(limit=5, before=listing.decode_cursor(
            last.prev, "name")))
        assert names(before) == walk(actor, Q(limit=5))[:5]


def test_filters_stay_inside_the_acl(server) -> None:
    member, other = server.add_user(), server.add_user()
    with model_db(server.database_url):
        mine, theirs = personal(member), personal(other)
        acme = add(mine, "Acme Filter Co", kind="company", tags="Supplier")
        add(mine, "Ann Filter", org="Acme Filter Co", tags="VIP,Lead", email="ann@f.example")
        hidden = add(mine, "Hidden Filter", tags="VIP")
        archive_card(Actor.cli(), hidden)
        add(theirs, "Theirs Filter", tags="VIP", email="ann@f.example")
        actor = as_user(member)
        assert names(listing.contacts_page(actor, Q(tag="VIP"))) == ["Ann Filter"]
        assert names(listing.contacts_page(actor, Q(q="f.example"))) == ["Ann Filter"]
        assert names(listing.contacts_page(actor, Q(q="acme filter"))) == [
            "Acme Filter Co", "Ann Filter"]
        assert names(listing.contacts_page(actor, Q(kind="company"))) == ["Acme Filter Co"]
        assert names(listing.contacts_page(actor, Q(state="archived"))) == ["Hidden Filter"]
        delete_card(Actor.cli(), hidden)
        assert names(listing.contacts_page(actor, Q(state="deleted"))) == []  # super admins
        root = Actor(User.get(User.username == server.add_user(role="superadmin")), "admin")
        assert "Hidden Filter" in names(listing.contacts_page(root, Q(state="deleted",
                                                                      q="Hidden Filter")))
        assert listing.tag_names(actor) == ["Lead", "Supplier", "VIP"]
        assert {"Lead", "Supplier", "VIP"} <= set(listing.tag_names(root))
        assert [c.display_name for c in listing.suggest(actor, "company", "filter")] == [
            acme.display_name]
        labels = listing.book_labels([mine.id, theirs.id])
        assert labels == {mine.id: member, theirs.id: other}


def test_each_matching_reads_every_match_in_batches(server) -> None:
    member = server.add_user()
    with model_db(server.database_url):
        book = personal(member)
        made = {add(book, f"Batch {i:02d}", tags="even" if i % 2 == 0 else "odd").id
                for i in range(23)}
        actor = as_user(member)
        every = list(listing.each_matching(actor, Q(), batch=5))
        assert {c.id for c in every} == made and len(every) == 23
        assert all(c.vcard.startswith("BEGIN:VCARD") for c in every)
        even = list(listing.each_matching(actor, Q(tag="even"), batch=4))
        assert len(even) == 12


@pytest.mark.parametrize("who", ["admin", "member"])
def test_every_list_order_is_an_index_walk(tmp_path, who: str) -> None:
    """The list's queries read an index in order from the cursor: no temporary
    B-tree for ORDER BY (SQLite's query plan, so on a SQLite file of its own;
    schema 5's indexes)."""
    from davcontacts.contacts.users import create_user
    url = f"sqlite:///{tmp_path}/plan.sqlite3"
    username = f"plan-{who}"
    with model_db(url):
        create_user(username, "pw", role="admin" if who == "admin" else "member",
                    scrypt_n=1024)
        add(personal(username), "Plan Person")
        actor = as_user(username)
        seen: list[str] = []
        real = database.obj.execute_sql

        def explain(sql, params=None, *args, **kwargs):
            if sql.startswith('SELECT "t1"."id", "t1"."book_id", "t1"."kind"') \
                    or " LIMIT " in sql and '"t1"."book_id" = ' in sql:
                plan = real("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                seen.append(" / ".join(row[-1] for row in plan))
            return real(sql, params, *args, **kwargs)

        database.obj.execute_sql = explain
        try:
            for query in (Q(), Q(sort="company"), Q(sort="city", desc=True),
                          Q(kind="company"), Q(kind="person", after=("M", 0)),
                          Q(state="archived")):
                listing.contacts_page(actor, query)
        finally:
            del database.obj.execute_sql
        assert seen, "no list query seen"
        for plan in seen:
            assert "TEMP B-TREE" not in plan, plan
            assert "contact_list_" in plan or "contact_book_list_" in plan, plan
