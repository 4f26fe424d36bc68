"""Address books and the cards in them. Every write goes to contacts.cards / books;
this module only translates between WebDAV and those operations."""

from __future__ import annotations

import io

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from ..acl import policy
from ..acl.policy import VisibleBook
from ..contacts import books as book_ops
from ..contacts import cards as card_ops
from ..contacts.actor import Actor
from ..contacts.sync import last_change_id, make_token
from ..errors import UnsupportedCard
from ..model import Contact
from ..model.base import RowReader
from . import xmlns
from .base import BoundedSink, LivePropertiesMixin, domain_call, live_property, timestamp
from .errors import to_dav_error
from .multistatus import text_element
from .variants import (
    accept_version,
    etag_matching_request,
    served_version,
    variant_etag,
    variant_text,
)

VCARD_TYPES = ("text/vcard", "text/x-vcard", "text/directory")
CARD_CONTENT_TYPE = "text/vcard; charset=utf-8"
CARD_CONTENT_TYPE_XML = text_element(xmlns.GETCONTENTTYPE, CARD_CONTENT_TYPE)
# Columns a listing needs: everything but the card text; a report adds the text.
LIST_COLUMNS = (Contact.id, Contact.book, Contact.name, Contact.uid, Contact.etag,
                Contact.size, Contact.version, Contact.created_at, Contact.updated_at)
LIST_ROWS = RowReader(Contact, LIST_COLUMNS)
# What a listing of ETags (and content types) needs: no dates to parse.
SLIM_ROWS = RowReader(Contact, (Contact.id, Contact.book, Contact.name, Contact.etag,
                                Contact.size, Contact.version))
CARD_ROWS = RowReader(Contact, LIST_COLUMNS + (Contact.vcard,))


def _live(book_id: int):
    return (Contact.book == book_id) & Contact.name_key.is_null(False)


def live_rows(book_id: int, reader: RowReader = CARD_ROWS, *, batch: int = 500):
    """A book's live cards in id order, read in keyset pages: memory stays bounded
    whatever the book's size (psycopg2 would fetch a whole result at once)."""
    last = 0
    while True:
        page = reader.run(reader.select().where(_live(book_id) & (Contact.id > last))
                          .order_by(Contact.id).limit(batch))
        yield from page
        if len(page) < batch:
            return
        last = page[-1].id


def live_rows_named(book_id: int, names: list[str],
                    reader: RowReader = CARD_ROWS) -> dict[str, Contact]:
    """The live cards of a book among `names` (at most a page of them), by name."""
    if not names:
        return {}
    rows = reader.run(reader.select().where(_live(book_id) & Contact.name_key.in_(names)))
    return {row.name: row for row in rows}


def _actor(res) -> Actor:
    return Actor(user=res.ctx.user, door="dav")


def _sync_token(res) -> str:
    if res._token is None:
        res._token = make_token(res.vb.book.id, last_change_id(res.vb.book.id))
    return res._token


@live_property(xmlns.GETCTAG)
def _ctag(res):
    return _sync_token(res)


@live_property(xmlns.SYNC_TOKEN)
def _sync_token_prop(res):
    return _sync_token(res)


@live_property(xmlns.ADDRESSBOOK_DESCRIPTION)
def _description(res):
    return res.vb.book.description


@live_property(xmlns.SUPPORTED_ADDRESS_DATA)
def _supported_address_data(res):
    return xmlns.supported_address_data()


@live_property(xmlns.MAX_RESOURCE_SIZE)
def _max_resource_size(res):
    return str(res.ctx.settings.max_resource_size)


@live_property(xmlns.SUPPORTED_REPORT_SET)
def _supported_report_set(res):
    from .reports import report_names_for
    return xmlns.supported_report_set(report_names_for(res))


@live_property(xmlns.card("supported-collation-set"))
def _supported_collations(res):
    from .reports.query import COLLATIONS
    el = xmlns.element(xmlns.card("supported-collation-set"))
    for name in COLLATIONS:
        xmlns.etree.SubElement(el, xmlns.card("supported-collation")).text = name
    return el


class Book(LivePropertiesMixin, DAVCollection):
    """`/addressbooks/<user>/<segment>/`: one address book as this user sees it."""

    RESOURCETYPE = (xmlns.dav("collection"), xmlns.card("addressbook"))
    LIVE_PROPERTIES = (xmlns.ADDRESSBOOK_DESCRIPTION, xmlns.SUPPORTED_ADDRESS_DATA,
                       xmlns.MAX_RESOURCE_SIZE, xmlns.GETCTAG, xmlns.SYNC_TOKEN,
                       xmlns.SUPPORTED_REPORT_SET, xmlns.card("supported-collation-set"))

    def __init__(self, path: str, environ: dict, vb: VisibleBook):
        super().__init__(path, environ)
        self.vb = vb
        self._token: str | None = None

    def privileges(self):
        return policy.privileges(self.vb.access)

    def owner_principal_path(self):
        b = self.vb.book
        if b.owner_user_id == self.ctx.user.id:
            return self.ctx.principal_path
        return self.ctx.principal_path if b.owner_user_id is None else "/principals/"

    def get_display_name(self):
        return self.vb.book.display_name or self.vb.segment

    def get_etag(self):
        return None

    def support_etag(self):
        return False

    def get_creation_date(self):
        return timestamp(self.vb.book.created_at)

    def card_path(self, name: str) -> str:
        return self.path.rstrip("/") + "/" + name

    def get_member_list(self):
        """All live cards from one query, without their text."""
        rows = LIST_ROWS.run(LIST_ROWS.select().where(_live(self.vb.book.id))
                             .order_by(Contact.name))
        return [Card(self.card_path(r.name), self.environ, self.vb, r) for r in rows]

    def get_member_names(self):
        return [r[0] for r in Contact.select(Contact.name).where(
            (Contact.book == self.vb.book.id) & (Contact.name_key.is_null(False)))
            .order_by(Contact.name).tuples()]

    def get_member(self, name):
        row = card_ops.live_card(self.vb.book.id, name)
        return Card(self.card_path(name), self.environ, self.vb, row) if row else None

    def create_empty_resource(self, name):
        if self.environ.get("HTTP_IF_MATCH"):
            # WsgiDAV ignores If-Match on a missing URL (WSGIDAV.md §4): RFC 7232 says 412.
            raise DAVError(412, "If-Match on a resource that does not exist")
        if self.environ.get("REQUEST_METHOD") != "PUT":
            raise DAVError(403, "an address book holds only vCards created with PUT")
        return Card(self.card_path(name), self.environ, self.vb, None)

    def create_collection(self, name):
        raise DAVError(403, "an address book holds only vCards, not collections",
                       err_condition=xmlns.card("addressbook-collection-location-ok"))

    def set_property_value(self, name, value, *, dry_run=False):
        if name in (xmlns.DISPLAYNAME, xmlns.ADDRESSBOOK_DESCRIPTION):
            if policy.book_access(self.ctx.user, self.vb.book) != policy.WRITE:
                raise DAVError(403, err_condition="{DAV:}need-privileges")
            if dry_run:
                return
            text = "" if value is None else "".join(value.itertext())
            key = "display_name" if name == xmlns.DISPLAYNAME else "description"
            domain_call(book_ops.update_book, _actor(self), self.vb.book, **{key: text})
            return
        if policy.book_access(self.ctx.user, self.vb.book) != policy.WRITE:
            raise DAVError(403, err_condition="{DAV:}need-privileges")
        return super().set_property_value(name, value, dry_run=dry_run)

    def support_recursive_delete(self):
        return False

    def handle_delete(self):
        raise DAVError(403, "address books are removed from the admin, not over DAV")

    def handle_move(self, dest_path):
        raise DAVError(403, "address books cannot be moved")

    def handle_copy(self, dest_path, *, depth_infinity):
        raise DAVError(403, "address books cannot be copied")


class Card(LivePropertiesMixin, DAVNonCollection):
    """One vCard. `row` is None for a name being created by PUT."""

    def __init__(self, path: str, environ: dict, vb: VisibleBook, row: Contact | None):
        super().__init__(path, environ)
        self.vb = vb
        self.row = row

    def privileges(self):
        return policy.privileges(self.vb.access)

    @property
    def card_name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def served(self) -> str:
        """The vCard version this request gets (variants.py)."""
        asked = accept_version(self.environ) if self.environ.get("REQUEST_METHOD") in (
            "GET", "HEAD") else None
        return served_version(self.row.version, self.environ,
                              self.ctx.settings.default_vcard_version, asked)

    def get_content_length(self):
        if not self.row:
            return 0
        return self.row.size if self.served == self.row.version else len(self.card_bytes())

    def get_content_type(self):
        return CARD_CONTENT_TYPE

    def get_etag(self):
        if not self.row:
            return None
        if self.environ.get("REQUEST_METHOD") not in ("GET", "HEAD", "PROPFIND", "REPORT"):
            variant = etag_matching_request(self.row.etag, self.environ)
            if variant:
                return variant
        return variant_etag(self.row.etag, self.row.version, self.served)

    def finalize_headers(self, environ, response_headers):
        response_headers.append(("Vary", "Accept, User-Agent"))

    def support_etag(self):
        return True

    def get_last_modified(self):
        return timestamp(self.row.updated_at) if self.row else None

    def get_creation_date(self):
        return timestamp(self.row.created_at) if self.row else None

    def get_display_name(self):
        return None

    def card_bytes(self) -> bytes:
        """The card as served: the stored text, or its conversion (cached)."""
        cached = getattr(self, "_bytes", None)
        if cached is None:
            text = self.row.vcard if "vcard" in self.row.__data__ else (
                Contact.select(Contact.vcard).where(Contact.id == self.row.id).scalar())
            cached = self._bytes = variant_text(text, self.row.version, self.served).encode()
        return cached

    def get_content(self):
        return io.BytesIO(self.card_bytes())

    def _holder_href(self, book_path: str):
        """For domain_call: the href of the card holding a clashing UID in the book at
        `book_path` (RFC 6352 no-uid-conflict), None for any other domain error."""
        def href(exc) -> str | None:
            name = getattr(exc, "existing_name", None)
            return self.ctx.href(book_path.rstrip("/") + "/" + name) if name else None
        return href

    def begin_write(self, *, content_type=None):
        media = (content_type or "").split(";")[0].strip().lower()
        if media and media not in VCARD_TYPES:
            raise to_dav_error(UnsupportedCard(
                f"media type {media!r} is not accepted here; send text/vcard"))
        if policy.book_access(self.ctx.user, self.vb.book) != policy.WRITE:
            raise DAVError(403, "read-only access to this address book",
                           err_condition="{DAV:}need-privileges")
        expected = self.row.etag if (self.row and self.environ.get("HTTP_IF_MATCH")) else None
        must_not_exist = self.environ.get("HTTP_IF_NONE_MATCH", "").strip() == "*"

        def store(data: bytes) -> None:
            result = domain_call(
                card_ops.put_card, _actor(self), self.vb.book, self.card_name, data,
                max_size=self.ctx.settings.max_resource_size, expected_etag=expected,
                max_photo=self.ctx.settings.max_photo_size,
                must_not_exist=must_not_exist,
                conflict_href=self._holder_href(self.path.rsplit("/", 1)[0]))
            self.row = result.contact
            self._bytes = None
            self.ctx.invalidate()

        return BoundedSink(self.ctx.settings.max_resource_size, store, card=True)

    def handle_delete(self):
        expected = self.row.etag if self.environ.get("HTTP_IF_MATCH") else None
        domain_call(card_ops.delete_card, _actor(self), self.row, expected_etag=expected)
        self._forget_dav_state()
        return True

    def _forget_dav_state(self) -> None:
        provider = self.provider
        if provider.prop_manager:
            provider.prop_manager.remove_properties(self.get_ref_url(), self.environ)
        if provider.lock_manager:
            provider.lock_manager.remove_all_locks_from_url(self.get_ref_url())
        self.ctx.invalidate()

    def _destination(self, dest_path: str):
        target = self.provider.resolve_card_destination(dest_path, self.environ)
        if target is None:
            raise DAVError(409, "the destination must be in an address book you can see")
        return target

    def handle_move(self, dest_path):
        dest_book, dest_name = self._destination(dest_path)
        overwrite = self.environ.get("HTTP_OVERWRITE", "T").upper() != "F"
        existed = domain_call(card_ops.move_card, _actor(self), self.row, dest_book.book,
                              dest_name, overwrite=overwrite,
                              conflict_href=self._holder_href(dest_path.rsplit("/", 1)[0]))
        pm = self.provider.prop_manager
        if pm:
            pm.move_properties(self.get_ref_url(), self.provider.ref_url(dest_path),
                               with_children=False, environ=self.environ)
        if self.provider.lock_manager:
            self.provider.lock_manager.remove_all_locks_from_url(self.get_ref_url())
        self.provider.note_created(self.environ, not existed)
        self.ctx.invalidate()
        return True

    def handle_copy(self, dest_path, *, depth_infinity):
        dest_book, dest_name = self._destination(dest_path)
        overwrite = self.environ.get("HTTP_OVERWRITE", "T").upper() != "F"
        existed = card_ops.live_card(dest_book.book.id, dest_name) is not None
        domain_call(card_ops.copy_card, _actor(self), self.row, dest_book.book, dest_name,
                    overwrite=overwrite, max_size=self.ctx.settings.max_resource_size,
                    conflict_href=self._holder_href(dest_path.rsplit("/", 1)[0]))
        pm = self.provider.prop_manager
        if pm:
            pm.copy_properties(self.get_ref_url(), self.provider.ref_url(dest_path),
                               self.environ)
        self.provider.note_created(self.environ, not existed)
        self.ctx.invalidate()
        return True

    def set_property_value(self, name, value, *, dry_run=False):
        if policy.book_access(self.ctx.user, self.vb.book) != policy.WRITE:
            raise DAVError(403, err_condition="{DAV:}need-privileges")
        return super().set_property_value(name, value, dry_run=dry_run)
