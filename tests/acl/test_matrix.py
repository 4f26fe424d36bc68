"""The access matrix (issue 5): five users of every kind against every card, over DAV
and through the model API, each answer compared with a table written here from the
issue's rules (never by asking the ACL), and no answer ever carrying a card its
reader may not see.

The world: a member of group A with write (`w`), a member of group A with read (`r`),
a member of nothing (`n`), an admin and a super admin; each has a card in their
personal book, and group A's book has one. Every card carries a unique marker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from davcontacts.contacts import cards, records
from davcontacts.contacts.actor import Actor
from davcontacts.errors import Conflict, Forbidden, NotFound
from davcontacts.model import AddressBook, Contact, Group, User
from tests.conftest import model_db
from tests.davclient import NS, make_card

CARDDAV = "urn:ietf:params:xml:ns:carddav"
ACTORS = ("w", "r", "n", "admin", "super")
ROLES = {"w": "member", "r": "member", "n": "member", "admin": "admin", "super": "superadmin"}
BOOKS = ("w", "r", "n", "admin", "super", "group")  # five personal books and group A's

# Over DAV a user reaches only their own home, whatever their role: their personal
# book, and group A's book if they are a member (with the membership's access).
DAV_ACCESS = {
    ("w", "w"): "write", ("w", "group"): "write",
    ("r", "r"): "write", ("r", "group"): "read",
    ("n", "n"): "write",
    ("admin", "admin"): "write",
    ("super", "super"): "write",
}
# Statuses per access level: PROPFIND, GET, PUT, DELETE, REPORT (on a book).
DAV_STATUS = {
    "write": {"PROPFIND": 207, "GET": 200, "PUT": 204, "DELETE": 204, "REPORT": 207},
    "read": {"PROPFIND": 207, "GET": 200, "PUT": 403, "DELETE": 403, "REPORT": 207},
    None: {"PROPFIND": 404, "GET": 404, "PUT": 409, "DELETE": 404, "REPORT": 404},
}

# Through the model API (what the admin panel uses): admins and super admins reach
# every book with write; members their own book and their group's.
W, R = "write", "read"
MODEL_ACCESS = {
    #          w     r     n     admin super group
    "w":     (W,    None, None, None, None, W),
    "r":     (None, W,    None, None, None, R),
    "n":     (None, None, W,    None, None, None),
    "admin": (W,    W,    W,    W,    W,    W),
    "super": (W,    W,    W,    W,    W,    W),
}
SEES_DELETED = {"super"}  # deleted contacts exist for super admins only
STATES = ("active", "archived", "deleted")


def model_access(actor: str, book: str) -> str | None:
    return MODEL_ACCESS[actor][BOOKS.index(book)]


def expected_model(actor: str, book: str, state: str, op: str) -> str:
    """The issue's rules: invisible → notfound; read for anyone who sees it; restoring
    a deleted card for super admins; everything else needs write; an operation the
    card's state does not allow → conflict."""
    access = model_access(actor, book)
    if access is None or (state == "deleted" and actor not in SEES_DELETED):
        return "notfound"
    if op == "get":
        return "ok"
    if access != W:
        return "forbidden"
    valid_from = {"archive": ("active",), "restore": ("archived", "deleted"),
                  "delete": ("active", "archived")}
    return "ok" if state in valid_from[op] else "conflict"


@dataclass
class World:
    names: dict[str, str]  # actor -> username
    group: str
    cards: dict[str, str] = field(default_factory=dict)  # book -> card text
    marker: dict[str, str] = field(default_factory=dict)  # book -> marker

    def home(self, actor: str) -> str:
        return f"/dav/addressbooks/{self.names[actor]}/"

    def book_path(self, via: str, book: str) -> str:
        """The URL of `book` in the home of `via`."""
        segment = f"group-{self.group}" if book == "group" else "personal"
        return self.home(via) + segment + "/"

    def card_path(self, via: str, book: str) -> str:
        return self.book_path(via, book) + "card.vcf"


def marker_card(uid: str, marker: str) -> str:
    return make_card(uid, "Marked Person", extra=f"NOTE:{marker}")


@pytest.fixture(scope="module")
def people(server) -> World:
    """The five users and group A, made once per module and backend (over the command
    line, as an administrator would)."""
    tag = uuid.uuid4().hex[:8]
    names = {a: server.add_user(f"{a}{tag}", role=ROLES[a]) for a in ACTORS}
    group = f"ga{tag}"
    server.cli("group", "add", group)
    server.cli("group", "add-member", group, names["w"], "--access", "write")
    server.cli("group", "add-member", group, names["r"], "--access", "read")
    return World(names, group)


@pytest.fixture
def world(server, people) -> World:
    """The people with a fresh marked card in every book, put over DAV by its owner."""
    world = World(people.names, people.group)
    tag = uuid.uuid4().hex[:8]
    for book in BOOKS:
        owner = "w" if book == "group" else book
        world.marker[book] = f"marker-{book}-{uuid.uuid4().hex}"
        world.cards[book] = marker_card(f"uid-{book}-{tag}", world.marker[book])
        r = server.client(world.names[owner]).put_card(world.card_path(owner, book),
                                                       world.cards[book])
        assert r.status == 201, r.text
    return world


# --- DAV -------------------------------------------------------------------------------


def dav_access(world: World, actor: str, via: str, book: str) -> str | None:
    """What the table says `actor` may do at the URL of `book` in the home of `via`."""
    return DAV_ACCESS.get((actor, book)) if via == actor else None


def readable_over_dav(actor: str) -> set[str]:
    return {book for (a, book) in DAV_ACCESS if a == actor}


def assert_no_foreign(world: World, actor: str, body: bytes, readable: set[str]) -> None:
    text = body.decode("utf-8", "replace")
    for book in BOOKS:
        if book not in readable:
            assert world.marker[book] not in text, (actor, book)
            assert f"uid-{book}-" not in text, (actor, book)


def test_dav_matrix(server, world):
    clients = {a: server.client(world.names[a]) for a in ACTORS}
    # Every URL of every card: a personal card in its owner's home, the group's card
    # in each user's home.
    urls = [(via, book) for via in ACTORS for book in BOOKS if book in ("group", via)]
    pairs = [(actor, via, book) for actor in ACTORS for (via, book) in urls]
    current = dict(world.cards)

    def check(actor, method, r, access):
        want = DAV_STATUS[access][method]
        assert r.status == want, (actor, method, access, r.status, r.text[:300])
        assert_no_foreign(world, actor, r.body, readable_over_dav(actor))

    for actor, via, book in pairs:
        access = dav_access(world, actor, via, book)
        dav, path = clients[actor], world.card_path(via, book)
        check(actor, "PROPFIND", dav.propfind(path, ["D:getetag", "C:address-data"]), access)
        r = dav.request("GET", path)
        check(actor, "GET", r, access)
        if access:
            assert r.text == current[book]
        # A writer's PUT changes the card (keeping its marker); anyone else's changes
        # nothing, and their body lands nowhere.
        body = (current[book].replace("END:VCARD", f"X-EDIT:{actor}\r\nEND:VCARD")
                if access == W else marker_card(f"uid-{book}-hijack", "hijacked"))
        check(actor, "PUT", dav.put_card(path, body), access)
        if access == W:
            current[book] = body

    # REPORTs: on every book URL, each naming every card href of the world.
    hrefs = [world.card_path(via, book) for (via, book) in urls]
    multiget = ('<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
                "<D:prop><D:getetag/><C:address-data/></D:prop>"
                + "".join(f"<D:href>{h}</D:href>" for h in hrefs) + "</C:addressbook-multiget>")
    query = ('<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
             "<D:prop><D:getetag/><C:address-data/></D:prop>"
             '<C:filter><C:prop-filter name="UID"/></C:filter></C:addressbook-query>')
    sync = ('<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            "<D:sync-token/><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/><C:address-data/></D:prop></D:sync-collection>")
    for actor, via, book in pairs:
        access = dav_access(world, actor, via, book)
        dav, path = clients[actor], world.book_path(via, book)
        for body in (multiget, query, sync):
            r = dav.report(path, body, depth="1")
            check(actor, "REPORT", r, access)
            if access is None:
                continue
            got = {h: resp.findtext("D:status", namespaces=NS) for h, resp in
                   r.responses().items()}
            # Only this book's own card is listed with content, at this book's URL.
            assert {h for h, s in got.items() if s is None} == {world.card_path(via, book)}
        r = dav.propfind(path, ["D:getetag"], depth="1")
        check(actor, "PROPFIND", r, access)
        if access:
            assert set(r.responses()) == {path, world.card_path(via, book)}

    # DELETE: every refusal first, then the allowed ones; then each card is as its
    # writers left it, or gone if a writer deleted it.
    deletes = sorted(pairs, key=lambda p: dav_access(world, *p) == W)
    deleted = set()
    for actor, via, book in deletes:
        access = dav_access(world, actor, via, book)
        r = clients[actor].request("DELETE", world.card_path(via, book))
        if access == W and book in deleted:
            assert r.status == 404
            continue
        check(actor, "DELETE", r, access)
        if access == W:
            deleted.add(book)
        else:
            owner = "w" if book == "group" else book
            got = clients[owner].request("GET", world.card_path(owner, book))
            assert got.text == current[book], (actor, via, book)
    assert deleted == set(BOOKS)


# --- model API -------------------------------------------------------------------------


class ModelWorld:
    """Rows of the world, read in the test process (bind with model_db first)."""

    def __init__(self, world: World):
        self.world = world
        self.users = {a: User.get(User.username == world.names[a]) for a in ACTORS}
        self.books = {a: AddressBook.get((AddressBook.owner_user == self.users[a].id)
                                         & (AddressBook.slug == "personal")) for a in ACTORS}
        group = Group.get(Group.name == world.group)
        self.books["group"] = AddressBook.get(AddressBook.owner_group == group.id)

    def actor(self, name: str) -> Actor:
        return Actor(user=User.get_by_id(self.users[name].id), door="admin")

    def card(self, book: str, state: str, label: str) -> Contact:
        """A fresh card in `book`, brought to `state` (by the command line)."""
        system = Actor.cli()
        name = f"{label}-{uuid.uuid4().hex[:10]}.vcf"
        marker = f"marker-{book}-{uuid.uuid4().hex}"
        result = cards.put_card(system, self.books[book], name,
                                marker_card(name, marker).encode(), max_size=1 << 20)
        contact = result.contact
        if state == "archived":
            cards.archive_card(system, contact)
        elif state == "deleted":
            cards.delete_card(system, contact)
        return Contact.get_by_id(contact.id)


def outcome(func, *args) -> str:
    try:
        func(*args)
    except NotFound as exc:
        return "notfound:" + exc.reason
    except Forbidden as exc:
        return "forbidden:" + exc.reason
    except Conflict as exc:
        return "conflict:" + exc.reason
    return "ok"


MODEL_OPS = {
    "get": lambda act, c: records.get_record(act, c.id),
    "archive": cards.archive_card,
    "restore": cards.restore_card,
    "delete": cards.delete_card,
}
AFTER = {"archive": "archived", "restore": "active", "delete": "deleted"}


def test_model_matrix(server, people):
    with model_db(server.database_url):
        mw = ModelWorld(people)
        for actor in ACTORS:
            act = mw.actor(actor)
            for book in BOOKS:
                for state in STATES:
                    for op, call in MODEL_OPS.items():
                        card = mw.card(book, state, op)
                        got = outcome(call, act, card)
                        want = expected_model(actor, book, state, op)
                        where = (actor, book, state, op, got)
                        assert got.split(":")[0] == want, where
                        if want in ("notfound", "forbidden"):
                            assert card.uid not in got and card.name not in got
                        after = Contact.get_by_id(card.id)
                        if want == "ok" and op != "get":
                            assert after.state == AFTER[op], where
                        else:
                            assert (after.state, after.book_id) == (state, card.book_id), where


def test_model_listing_matrix(server, people):
    """list_contacts returns exactly the cards the table lets each actor see, per
    state filter."""
    with model_db(server.database_url):
        mw = ModelWorld(people)
        made = {(book, state): mw.card(book, state, "list") for book in BOOKS
                for state in STATES}
        ours = [c.id for c in made.values()]
        for actor in ACTORS:
            act = mw.actor(actor)
            for state_filter in (None, "active", "archived", "deleted",
                                 ("archived", "deleted")):
                states = (STATES if state_filter is None else
                          (state_filter,) if isinstance(state_filter, str) else state_filter)
                want = {made[(b, s)].id for (b, s) in made if s in states
                        and expected_model(actor, b, s, "get") == "ok"}
                query = records.list_contacts(act, state=state_filter)
                got = {c.id for c in query.where(Contact.id.in_(ours))}
                assert got == want, (actor, state_filter)


CHANGE_OWNER = [
    # actor, card's book, card's state, destination book, outcome
    ("w", "w", "active", "group", "ok"),
    ("w", "group", "active", "w", "ok"),
    ("w", "group", "archived", "w", "ok"),
    ("w", "r", "active", "w", "notfound"),       # the source is not theirs
    ("w", "w", "active", "r", "notfound"),       # nor the destination
    ("w", "w", "deleted", "group", "notfound"),  # deleted: super admins only
    ("r", "group", "active", "r", "forbidden"),  # read-only source
    ("r", "r", "active", "group", "forbidden"),  # read-only destination
    ("n", "n", "active", "group", "notfound"),
    ("n", "group", "active", "n", "notfound"),
    ("admin", "w", "active", "r", "ok"),
    ("admin", "group", "archived", "n", "ok"),
    ("admin", "w", "deleted", "r", "notfound"),
    ("super", "w", "deleted", "n", "ok"),
    ("super", "group", "active", "super", "ok"),
]


@pytest.mark.parametrize("case", CHANGE_OWNER, ids=lambda c: "-".join(c))
def test_change_owner_matrix(server, people, case):
    actor, src, state, dest, want = case
    with model_db(server.database_url):
        mw = ModelWorld(people)
        card = mw.card(src, state, "owner")
        got = outcome(cards.change_owner, mw.actor(actor), card, mw.books[dest])
        assert got.split(":")[0] == want, got
        after = Contact.get_by_id(card.id)
        assert after.book_id == (mw.books[dest] if want == "ok" else mw.books[src]).id
        assert after.state == state and after.etag == card.etag
        if want != "ok":
            assert card.uid not in got
