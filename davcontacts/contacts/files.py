"""Generic WebDAV collections and files in a user's home (the server is a real
WebDAV store, not only a vCard store). Paths are relative to the home, no leading or
trailing slash. Only the home's owner writes here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from peewee import IntegrityError, fn

from ..acl import policy
from ..errors import Conflict, Forbidden, NotFound, PreconditionFailed
from ..model import AddressBook, Resource, User, utcnow, write_transaction
from .actor import Actor
from .books import validate_segment


@dataclass
class TreeChange:
    """What a COPY or MOVE did: the paths it deleted to make room at the destination
    (their dead properties and locks must go too; none means a new destination, 201)
    and (old path, new path) for every resource copied or moved."""

    replaced: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def existed(self) -> bool:
        return bool(self.replaced)


def _check_owner(actor: Actor, owner: User) -> None:
    if actor.is_system:
        return
    if actor.user is None or not policy.may_use_home(actor.user, owner.username):
        raise Forbidden("only the owner writes in a home")


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


def get_resource(owner_id: int, path: str) -> Resource | None:
    return Resource.get_or_none((Resource.owner == owner_id) & (Resource.path == path))


def children(owner_id: int, parent: str) -> list[Resource]:
    """Members of a plain collection (or of the home, with parent ""), content deferred."""
    return list(Resource.select(Resource.id, Resource.owner, Resource.path, Resource.parent,
                                Resource.is_collection, Resource.content_type, Resource.etag,
                                Resource.size, Resource.created_at, Resource.updated_at)
                .where((Resource.owner == owner_id) & (Resource.parent == parent))
                .order_by(Resource.path))


def _descendants(owner_id: int, path: str):
    prefix = path + "/"
    return Resource.select().where(
        (Resource.owner == owner_id)
        & (fn.SUBSTR(Resource.path, 1, len(prefix)) == prefix))


def _check_parent(owner: User, path: str) -> None:
    parent = parent_of(path)
    for segment in path.split("/"):
        validate_segment(segment)
    if parent == "":
        top = path
        if policy.is_reserved_segment(top) or AddressBook.get_or_none(
                (AddressBook.owner_user == owner.id) & (AddressBook.slug == top)):
            raise Conflict(f"{top!r} is an address book name")
        return
    p = get_resource(owner.id, parent)
    if p is None or not p.is_collection:
        raise Conflict("the parent collection does not exist")


def make_collection(actor: Actor, owner: User, path: str) -> Resource:
    _check_owner(actor, owner)
    _check_parent(owner, path)
    now = utcnow()
    try:
        with write_transaction():
            return Resource.create(owner=owner.id, path=path, parent=parent_of(path),
                                   is_collection=True, content_type="httpd/unix-directory",
                                   created_at=now, updated_at=now)
    except IntegrityError as exc:
        raise Conflict(f"{path} already exists") from exc


def put_file(actor: Actor, owner: User, path: str, data: bytes, content_type: str | None, *,
             expected_etag: str | None = None,
             must_not_exist: bool = False) -> tuple[Resource, bool]:
    """Create or replace a file; returns (resource, created)."""
    _check_owner(actor, owner)
    _check_parent(owner, path)
    etag = hashlib.blake2b(data, digest_size=16).hexdigest()
    now = utcnow()
    ctype = content_type or "application/octet-stream"
    with write_transaction():
        existing = get_resource(owner.id, path)
        if existing is None:
            if expected_etag is not None:
                raise PreconditionFailed(f"{path} does not exist")
            try:
                with write_transaction():
                    res = Resource.create(owner=owner.id, path=path, parent=parent_of(path),
                                          is_collection=False, content=data, content_type=ctype,
                                          etag=etag, size=len(data), created_at=now, updated_at=now)
            except IntegrityError as exc:
                raise PreconditionFailed(f"{path} was created concurrently") from exc
            return res, True
        if existing.is_collection:
            raise Conflict(f"{path} is a collection")
        if must_not_exist or (expected_etag is not None and expected_etag != existing.etag):
            raise PreconditionFailed(f"{path} precondition failed")
        unchanged = (Resource.id == existing.id) & (Resource.etag == existing.etag)
        updated = (Resource.update(content=data, content_type=ctype, etag=etag,
                                   size=len(data), updated_at=now)
                   .where(unchanged).execute())
        if updated != 1:
            raise PreconditionFailed(f"{path} was changed concurrently")
        existing.content, existing.content_type, existing.etag = data, ctype, etag
        existing.size, existing.updated_at = len(data), now
        return existing, False


def delete_tree(actor: Actor, owner: User, path: str) -> list[str]:
    """Delete a resource and everything below it; returns the deleted paths."""
    _check_owner(actor, owner)
    with write_transaction():
        res = get_resource(owner.id, path)
        if res is None:
            raise NotFound(path)
        paths = [path]
        if res.is_collection:
            below = _descendants(owner.id, path)
            paths += [r.path for r in below.select(Resource.path)]
            Resource.delete().where(Resource.id.in_(below.select(Resource.id))).execute()
        res.delete_instance()
    return paths


def copy_tree(actor: Actor, owner: User, src: str, dest: str, *, recursive: bool,
              overwrite: bool) -> TreeChange:
    """COPY src to dest (RFC 4918 §9.8): an existing destination is deleted first, so
    the copy has nothing of it left; with `recursive` False a collection is copied
    without its members (Depth: 0)."""
    _check_owner(actor, owner)
    with write_transaction():
        source = get_resource(owner.id, src)
        if source is None:
            raise NotFound(src)
        if dest == src or dest.startswith(src + "/"):
            raise Forbidden("cannot copy a collection into itself")
        change = TreeChange(replaced=_clear_destination(actor, owner, dest, overwrite))
        _check_parent(owner, dest)
        items = [source] + (list(_descendants(owner.id, src).order_by(Resource.path))
                            if source.is_collection and recursive else [])
        now = utcnow()
        for item in items:
            new_path = dest + item.path[len(src):]
            Resource.create(owner=owner.id, path=new_path, parent=parent_of(new_path),
                            is_collection=item.is_collection, content=item.content,
                            content_type=item.content_type, etag=item.etag, size=item.size,
                            created_at=now, updated_at=now)
            change.pairs.append((item.path, new_path))
        return change


def move_tree(actor: Actor, owner: User, src: str, dest: str, *,
              overwrite: bool) -> TreeChange:
    """MOVE src and everything below it to dest (RFC 4918 §9.9), rows renamed in place
    so ids survive; an existing destination is deleted first."""
    _check_owner(actor, owner)
    with write_transaction():
        source = get_resource(owner.id, src)
        if source is None:
            raise NotFound(src)
        if dest == src or dest.startswith(src + "/"):
            raise Forbidden("cannot move a collection into itself")
        change = TreeChange(replaced=_clear_destination(actor, owner, dest, overwrite))
        _check_parent(owner, dest)
        items = [source] + (list(_descendants(owner.id, src)) if source.is_collection else [])
        for item in items:
            new_path = dest + item.path[len(src):]
            Resource.update(path=new_path, parent=parent_of(new_path)).where(
                Resource.id == item.id).execute()
            change.pairs.append((item.path, new_path))
        return change


def _clear_destination(actor: Actor, owner: User, dest: str, overwrite: bool) -> list[str]:
    """Delete an existing destination tree (Overwrite: T); returns the deleted paths."""
    if get_resource(owner.id, dest) is None:
        return []
    if not overwrite:
        raise PreconditionFailed(f"{dest} exists and Overwrite is F")
    return delete_tree(actor, owner, dest)
