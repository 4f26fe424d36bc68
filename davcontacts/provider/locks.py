"""WebDAV locks in the database (WSGIDAV.md §6): every process sees every lock.

WsgiDAV checks conflicts under a process-local lock before calling create(); here
create() checks them again inside a database write transaction, so two processes
cannot both be granted conflicting locks."""

from __future__ import annotations

import time

from peewee import PostgresqlDatabase
from wsgidav import util
from wsgidav.dav_error import DAVError, DAVErrorCondition, PRECONDITION_CODE_LockConflict
from wsgidav.lock_man.lock_manager import generate_lock_token, normalize_lock_root, validate_lock

from ..model import Lock, Lookup, database, write_transaction

DEFAULT_TIMEOUT = 604800
MAX_TIMEOUT = 4 * 604800


def _as_dict(row: Lock) -> dict:
    return {"token": row.token, "root": row.root, "depth": row.depth, "scope": row.scope,
            "type": row.type, "owner": row.owner.encode("utf-8"), "principal": row.principal,
            "timeout": row.timeout, "expire": row.expire}


def _ancestors(path: str) -> list[str]:
    out, current = [], path
    while True:
        out.append(current)
        if current == "/":
            return out
        current = "/" + current.strip("/").rpartition("/")[0]


_LIVE = '("expire" < 0 OR "expire" >= {p})'
_LOCKS_AT = Lookup(Lock, '"root" = {p} AND ' + _LIVE)
_LOCKS_BELOW = Lookup(Lock, '"root" LIKE {p} AND ' + _LIVE)


class DbLockStorage:
    def __repr__(self) -> str:
        return "DbLockStorage"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def cleanup(self) -> None:
        Lock.delete().where((Lock.expire >= 0) & (Lock.expire < time.time())).execute()

    def clear(self) -> None:
        Lock.delete().execute()

    def get(self, token: str):
        row = Lock.get_or_none(Lock.token == token)
        if row is None:
            return None
        if 0 <= row.expire < time.time():
            row.delete_instance()
            return None
        return _as_dict(row)

    def _serialize(self):
        """Serialise lock creation across processes (SQLite: write_transaction has
        already taken the single writer lock)."""
        if isinstance(database.obj, PostgresqlDatabase):
            database.execute_sql("SELECT pg_advisory_xact_lock(7263350002)")

    def create(self, path: str, lock: dict) -> dict:
        path = normalize_lock_root(path)
        timeout = float(lock.get("timeout") or DEFAULT_TIMEOUT)
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        lock.update(root=path, timeout=timeout, expire=time.time() + timeout)
        validate_lock(lock)
        owner = lock.get("owner") or b""
        with write_transaction():
            self._serialize()
            conflicts = self._conflicts(path, lock["scope"], lock["depth"])
            if conflicts:
                cond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
                cond.hrefs.extend(conflicts)
                raise DAVError(423, err_condition=cond)
            lock["token"] = generate_lock_token()
            Lock.create(token=lock["token"], root=path, depth=lock["depth"], scope=lock["scope"],
                        type=lock["type"], principal=lock.get("principal") or "",
                        owner=owner.decode("utf-8") if isinstance(owner, bytes) else owner,
                        timeout=timeout, expire=lock["expire"])
        return lock

    def _conflicts(self, path: str, scope: str, depth: str) -> list[str]:
        now = time.time()
        live = (Lock.expire < 0) | (Lock.expire >= now)
        out = []
        for row in Lock.select().where(Lock.root.in_(_ancestors(path)) & live):
            if row.root != path and row.depth != "infinity":
                continue
            if row.scope == "shared" and scope == "shared":
                continue
            out.append(row.root)
        if depth == "infinity":
            prefix = path.rstrip("/") + "/"
            for row in Lock.select().where(live & Lock.root.startswith(prefix)):
                if row.root.startswith(prefix):  # LIKE may over-match '_' and '%'
                    out.append(row.root)
        return out

    def refresh(self, token: str, *, timeout: float) -> dict:
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        row = Lock.get(Lock.token == token)
        row.timeout, row.expire = timeout, time.time() + timeout
        row.save()
        return _as_dict(row)

    def delete(self, token: str) -> bool:
        return Lock.delete().where(Lock.token == token).execute() > 0

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool,
                      token_only: bool):
        # WsgiDAV asks this for the URL and each of its parents on every write: the
        # queries are prepared once (model.Lookup).
        path = normalize_lock_root(path)
        now = time.time()
        rows = _LOCKS_AT.all(path, now) if include_root else []
        if include_children:
            prefix = path.rstrip("/") + "/"
            # LIKE may over-match ('_', '%', SQLite's case folding): filtered below.
            rows += [r for r in _LOCKS_BELOW.all(prefix + "%", now)
                     if util.is_child_uri(path, r.root)]
        return [r.token for r in rows] if token_only else [_as_dict(r) for r in rows]
