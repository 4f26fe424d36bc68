"""The WSGI dispatcher (DESIGN.md): /.well-known/carddav → /dav/, /dav → WsgiDAV and
our provider, /admin → the admin app, / → /admin/. Every request gets a database
connection for its duration and one access-log line."""

from __future__ import annotations

import logging
import time

from cheroot.wsgi import PathInfoDispatcher
from playhouse.pool import PooledDatabase

from .acl.auth import ThrottlePolicy
from .admin import make_admin_app
from .config import Config
from .model import database, get_secret
from .provider.app import MOUNT, make_dav_app
from .provider.base import DavSettings

access_log = logging.getLogger("davcontacts.access")


# Methods only a WebDAV client sends. Outside /dav they are sent to the DAV root:
# Thunderbird and DAVx5 PROPFIND `/` (or whatever URL the user typed) for
# current-user-principal (CLIENTS.md "Discovery"); a browser's GET still reaches the admin.
DAV_ONLY_METHODS = frozenset({"PROPFIND", "PROPPATCH", "REPORT", "MKCOL", "COPY", "MOVE",
                              "LOCK", "UNLOCK", "OPTIONS"})


def redirect(location: str, status: str = "301 Moved Permanently"):
    def app(environ, start_response):
        start_response(status, [("Location", location), ("Content-Length", "0")])
        return [b""]
    return app


def by_method(dav_app, other_app):
    """`dav_app` for WebDAV-only methods, `other_app` for the rest (GET, POST, …)."""
    def app(environ, start_response):
        if environ.get("REQUEST_METHOD", "GET").upper() in DAV_ONLY_METHODS:
            return dav_app(environ, start_response)
        return other_app(environ, start_response)
    return app


class DatabaseSession:
    """Opens (or reuses) this thread's connection; a pooled PostgreSQL connection goes
    back to the pool when the response has been sent, streamed bodies included."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        db = database.obj
        db.connect(reuse_if_open=True)
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._release(db)
            raise
        if isinstance(body, list):
            self._release(db)
            return body
        return _ClosingBody(body, lambda: self._release(db))

    @staticmethod
    def _release(db) -> None:
        if isinstance(db, PooledDatabase) and not db.in_transaction():
            db.close()


class _ClosingBody:
    """A response body that runs `on_close` when the server closes it (PEP 3333)."""

    def __init__(self, body, on_close):
        self._body = body
        self._on_close = on_close

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


class AccessLog:
    def __init__(self, app, enabled: bool):
        self.app = app
        self.enabled = enabled

    def __call__(self, environ, start_response):
        if not self.enabled:
            return self.app(environ, start_response)
        started = time.perf_counter()
        seen = {}

        def capture(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, capture)
        finally:
            access_log.info("%s %s %s %s %.1fms", environ.get("REMOTE_ADDR", "-"),
                            environ.get("REQUEST_METHOD"), environ.get("REQUEST_URI")
                            or environ.get("PATH_INFO"), seen.get("status", "-"),
                            (time.perf_counter() - started) * 1000)


def make_app(config: Config):
    """The whole server as one WSGI app. The database must already be bound
    (model.open_database) and migrated."""
    with database.obj.connection_context():
        secret = get_secret()
    settings = DavSettings(max_resource_size=config.dav.max_resource_size,
                           max_photo_size=config.dav.max_photo_size,
                           max_file_size=config.server.max_request_body,
                           default_vcard_version=config.dav.default_vcard_version)
    dav = make_dav_app(realm=config.dav.realm, settings=settings, secret=secret,
                       cache_seconds=config.auth.credential_cache_seconds,
                       max_body=config.server.max_request_body,
                       throttle=ThrottlePolicy.from_config(config.auth),
                       trusted_proxies=config.server.trusted_proxies)
    to_dav = redirect(MOUNT + "/")
    dispatcher = PathInfoDispatcher({
        "/.well-known/carddav": to_dav,
        MOUNT: dav,
        "/admin": make_admin_app(config, secret),
        "/": by_method(to_dav, redirect("/admin/", "302 Found")),
    })
    return AccessLog(DatabaseSession(dispatcher), config.server.access_log)
