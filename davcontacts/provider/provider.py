"""The WsgiDAV provider: maps a path to a resource, scoped by the ACL.

Every lookup (GET, PUT targets, multiget hrefs, MOVE/COPY destinations) goes
through get_resource_inst, which returns None (404) for anything outside the
user's own principal and home."""

from __future__ import annotations

from urllib.parse import quote

from wsgidav.dav_provider import DAVProvider

from ..acl import policy
from ..contacts import cards as card_ops
from ..contacts import files as file_ops
from ..model import write_transaction
from .base import CONTEXT_KEY, context
from .books import Book, Card
from .files import plain_resource
from .tree import Home, HomesCollection, Principal, PrincipalsCollection, Root

CREATED_KEY = "davcontacts.dest_created"
WRITE_METHODS = {"PUT", "DELETE", "MKCOL", "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK",
                 "POST"}


class ContactsProvider(DAVProvider):
    def __init__(self):
        super().__init__()

    def is_readonly(self):
        return False

    def ref_url(self, path: str) -> str:
        """The ref-URL (dead property and lock key) of a provider path."""
        return quote(self.share_path + path)

    @staticmethod
    def note_created(environ: dict, created: bool) -> None:
        """MOVE/COPY: remember whether the destination is new (201) or not (204)."""
        environ[CREATED_KEY] = created

    def custom_request_handler(self, environ, start_response, default_handler):
        """Writes run in one transaction (PROPPATCH is not atomic in WsgiDAV)."""
        if environ["REQUEST_METHOD"] in WRITE_METHODS:
            with write_transaction():
                return list(default_handler(environ, start_response))
        return default_handler(environ, start_response)

    def get_resource_inst(self, path: str, environ: dict):
        ctx = context(environ)
        key = path.rstrip("/") or "/"
        if key in ctx.cache:
            return ctx.cache[key]
        res = self._resolve(key, environ, ctx)
        ctx.cache[key] = res
        return res

    def _resolve(self, path: str, environ: dict, ctx):
        parts = [p for p in path.split("/") if p]
        user = ctx.user
        if not parts:
            return Root("/", environ)
        top, rest = parts[0], parts[1:]
        if top == "principals":
            if not rest:
                return PrincipalsCollection("/principals/", environ)
            if len(rest) == 1 and policy.may_use_home(user, rest[0]):
                return Principal(f"/principals/{rest[0]}/", environ)
            return None
        if top != "addressbooks":
            return None
        if not rest:
            return HomesCollection("/addressbooks/", environ)
        if not policy.may_use_home(user, rest[0]):
            return None
        if len(rest) == 1:
            return Home(ctx.home_path, environ)
        segment = rest[1]
        vb = policy.find_visible_book(user, segment)
        if vb is not None:
            book_path = ctx.home_path + segment + "/"
            if len(rest) == 2:
                return Book(book_path, environ, vb)
            if len(rest) == 3:
                row = card_ops.live_card(vb.book.id, rest[2])
                return Card(book_path + rest[2], environ, vb, row) if row else None
            return None
        row = file_ops.get_resource(user.id, "/".join(rest[1:]))
        return plain_resource(environ, row) if row else None

    def split_home_path(self, path: str, environ: dict) -> list[str] | None:
        """The segments of `path` below the current user's home, or None."""
        ctx = context(environ)
        parts = [p for p in path.split("/") if p]
        if len(parts) < 3 or parts[0] != "addressbooks" or parts[1] != ctx.user.username:
            return None
        return parts[2:]

    def resolve_card_destination(self, path: str, environ: dict):
        """(VisibleBook, name) for a MOVE/COPY destination that is a card URL."""
        rest = self.split_home_path(path, environ)
        if rest is None or len(rest) != 2:
            return None
        vb = policy.find_visible_book(context(environ).user, rest[0])
        return (vb, rest[1]) if vb else None

    def resolve_plain_destination(self, path: str, environ: dict) -> str | None:
        """The home-relative path of a MOVE/COPY destination in the plain area."""
        rest = self.split_home_path(path, environ)
        if not rest or policy.find_visible_book(context(environ).user, rest[0]) is not None:
            return None
        return "/".join(rest)


__all__ = ["CONTEXT_KEY", "ContactsProvider"]
