"""Plain WebDAV collections and files in a user's home (litmus runs here). All
writes go through contacts.files; dead properties and locks follow moves,
copies and deletes."""

from __future__ import annotations

import io

from wsgidav import util
from wsgidav.dav_error import DAVError, DAVErrorCondition, PRECONDITION_CODE_LockConflict
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from ..contacts import files as file_ops
from ..model import Resource
from . import xmlns
from .base import BoundedSink, LivePropertiesMixin, domain_call, timestamp
from .tree import dav_actor


def plain_resource(environ: dict, row: Resource):
    """The Folder or File for a Resource row of the current user's home."""
    home = environ["davcontacts.ctx"].home_path
    if row.is_collection:
        return Folder(home + row.path + "/", environ, row)
    return File(home + row.path, environ, row)


class _PlainMixin(LivePropertiesMixin):
    """Shared by Folder and File: the home-relative path, delete/move/copy."""

    row: Resource

    @property
    def relpath(self) -> str:
        return self.row.path

    def get_creation_date(self):
        return timestamp(self.row.created_at)

    def get_last_modified(self):
        return timestamp(self.row.updated_at)

    def _home_path(self) -> str:
        return self.ctx.home_path

    def _ref(self, relpath: str, collection: bool) -> str:
        return self.provider.ref_url(self._home_path() + relpath + ("/" if collection else ""))

    def _check_unlocked(self) -> None:
        """423 unless the request submitted the token of every lock on this resource,
        its depth-infinity ancestors and its members (RFC 4918 §7.4, §9.6.1). WsgiDAV's
        DELETE checks only the parent before handle_delete, which owns the whole tree;
        WsgiDAV's own check refuses a locked member even with its token."""
        lm = self.provider.lock_manager
        if lm is None:
            return
        if "wsgidav.conditions.if" not in self.environ:
            util.parse_if_header_dict(self.environ)
        tokens = self.environ["wsgidav.ifLockTokenList"]
        principal = self.environ["wsgidav.user_name"]
        url = self.get_ref_url()
        lm.check_write_permission(url=url, depth="0", token_list=tokens, principal=principal)
        held = [lock["root"] for lock in lm.storage.get_lock_list(
                    url, include_root=False, include_children=True, token_only=False)
                if lock["token"] not in tokens or lock["principal"] != principal]
        if held:
            cond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
            cond.hrefs.extend(held)
            raise DAVError(423, "a member is locked", err_condition=cond)

    def _forget(self, paths: list[str]) -> None:
        """Drop the dead properties and locks of deleted resources: both are keyed by
        ref-URL, not by row, so nothing else removes them (WSGIDAV.md §6)."""
        pm, lm = self.provider.prop_manager, self.provider.lock_manager
        for path in paths:
            if pm:
                pm.remove_properties(self._ref(path, False), self.environ)
                pm.remove_properties(self._ref(path, True), self.environ)
            if lm:
                lm.remove_all_locks_from_url(self._ref(path, False), recursive=False)

    def _overwrite(self) -> bool:
        return self.environ.get("HTTP_OVERWRITE", "T").upper() != "F"

    def handle_delete(self):
        self._check_unlocked()
        paths = domain_call(file_ops.delete_tree, dav_actor(self), self.ctx.user, self.relpath)
        self._forget(paths)
        self.ctx.invalidate()
        return True

    def _dest_relpath(self, dest_path: str) -> str:
        rel = self.provider.resolve_plain_destination(dest_path, self.environ)
        if rel is None:
            raise DAVError(403, "plain files and collections move only within your home")
        return rel

    def handle_move(self, dest_path):
        """Dead properties move with the resources; locks do not, and end with the
        source URLs (RFC 4918 §7.6). WsgiDAV has checked the locks of both ends."""
        dest = self._dest_relpath(dest_path)
        change = domain_call(file_ops.move_tree, dav_actor(self), self.ctx.user,
                             self.relpath, dest, overwrite=self._overwrite())
        self._forget(change.replaced)
        pm, lm = self.provider.prop_manager, self.provider.lock_manager
        if pm:
            for src, dst in change.pairs:
                for coll in (False, True):
                    pm.move_properties(self._ref(src, coll), self._ref(dst, coll),
                                       with_children=False, environ=self.environ)
        if lm:
            lm.remove_all_locks_from_url(self.get_ref_url(), recursive=True)
        self.provider.note_created(self.environ, not change.existed)
        self.ctx.invalidate()
        return True

    def handle_copy(self, dest_path, *, depth_infinity):
        """Dead properties are copied, locks are not (RFC 4918 §7.6)."""
        dest = self._dest_relpath(dest_path)
        change = domain_call(file_ops.copy_tree, dav_actor(self), self.ctx.user,
                             self.relpath, dest, recursive=depth_infinity,
                             overwrite=self._overwrite())
        self._forget(change.replaced)
        pm = self.provider.prop_manager
        if pm:
            for src, dst in change.pairs:
                for coll in (False, True):
                    pm.copy_properties(self._ref(src, coll), self._ref(dst, coll), self.environ)
        self.provider.note_created(self.environ, not change.existed)
        self.ctx.invalidate()
        return True


class Folder(_PlainMixin, DAVCollection):
    RESOURCETYPE = (xmlns.dav("collection"),)

    def __init__(self, path: str, environ: dict, row: Resource):
        super().__init__(path, environ)
        self.row = row

    def get_display_name(self):
        return self.name

    def get_etag(self):
        return None

    def support_etag(self):
        return False

    def get_member_list(self):
        return [plain_resource(self.environ, r)
                for r in file_ops.children(self.ctx.user.id, self.relpath)]

    def get_member_names(self):
        return [m.name for m in self.get_member_list()]

    def get_member(self, name):
        row = file_ops.get_resource(self.ctx.user.id, self.relpath + "/" + name)
        return plain_resource(self.environ, row) if row else None

    def create_collection(self, name):
        domain_call(file_ops.make_collection, dav_actor(self), self.ctx.user,
                    self.relpath + "/" + name)
        self.ctx.invalidate()

    def create_empty_resource(self, name):
        return PendingFile(self.path.rstrip("/") + "/" + name, self.environ,
                           self.relpath + "/" + name)

    def support_recursive_delete(self):
        return True


class File(_PlainMixin, DAVNonCollection):
    def __init__(self, path: str, environ: dict, row: Resource | None):
        super().__init__(path, environ)
        self.row = row

    def get_content_length(self):
        return self.row.size

    def get_content_type(self):
        return self.row.content_type

    def get_etag(self):
        return self.row.etag

    def support_etag(self):
        return True

    def get_display_name(self):
        return None

    def get_content(self):
        data = self.row.content if "content" in self.row.__data__ and self.row.content is not None \
            else Resource.select(Resource.content).where(Resource.id == self.row.id).scalar()
        return io.BytesIO(bytes(data or b""))

    def begin_write(self, *, content_type=None):
        if_match = self.row is not None and self.environ.get("HTTP_IF_MATCH")
        expected = self.row.etag if if_match else None
        must_not_exist = self.environ.get("HTTP_IF_NONE_MATCH", "").strip() == "*"
        relpath = self.relpath

        def store(data: bytes) -> None:
            self.row, _ = domain_call(file_ops.put_file, dav_actor(self), self.ctx.user, relpath,
                                      data, content_type, expected_etag=expected,
                                      must_not_exist=must_not_exist)
            self.ctx.invalidate()

        return BoundedSink(self.ctx.settings.max_file_size, store, card=False)


class PendingFile(File):
    """A name being created: PUT stores it when the body is complete; LOCK of an
    unmapped URL creates it empty at once (RFC 4918 §7.3)."""

    def __init__(self, path: str, environ: dict, relpath: str):
        super().__init__(path, environ, None)
        self._relpath = relpath
        if environ.get("HTTP_IF_MATCH"):
            raise DAVError(412, "If-Match on a resource that does not exist")
        if environ.get("REQUEST_METHOD") == "LOCK":
            self.row, _ = domain_call(file_ops.put_file, dav_actor(self), self.ctx.user,
                                      relpath, b"", None)
            self.ctx.invalidate()

    @property
    def relpath(self) -> str:
        return self._relpath

    def get_content_length(self):
        return self.row.size if self.row else 0

    def get_content_type(self):
        return self.row.content_type if self.row else "application/octet-stream"

    def get_etag(self):
        return self.row.etag if self.row else None
