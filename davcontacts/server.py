"""Serving with cheroot: threaded, keep-alive, optional TLS, and `workers` forked
processes sharing the port through SO_REUSEPORT (all state lives in the database)."""

from __future__ import annotations

import logging
import os
import signal
import sys

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from .app import make_app
from .config import Config
from .model import User, database, open_database

log = logging.getLogger(__name__)


def build_server(config: Config, *, reuse_port: bool = False) -> wsgi.Server:
    server = wsgi.Server((config.server.host, config.server.port), make_app(config),
                         numthreads=config.server.threads, timeout=config.server.timeout,
                         server_name="davcontacts", reuse_port=reuse_port)
    server.max_request_body_size = config.server.max_request_body
    server.max_request_header_size = 64 * 1024
    if config.server.tls_cert:
        server.ssl_adapter = BuiltinSSLAdapter(config.server.tls_cert, config.server.tls_key)
    return server


def first_start_hint(config: Config) -> str | None:
    """What to do when no super admin exists yet (there is never a default password)."""
    if User.select().where(User.role == "superadmin").exists():
        return None
    args = f"--data-dir {config.storage.data_dir}" if config.storage.database_url.startswith(
        "sqlite") else ""
    return ("No super admin exists yet. Create one with:\n"
            f"    davcontacts user add ADMIN --role superadmin {args}".rstrip())


def serve(config: Config) -> int:
    db = open_database(config.storage.database_url)
    with db.connection_context():
        hint = first_start_hint(config)
    if hint:
        print(hint, file=sys.stderr)
    scheme = "https" if config.server.tls_cert else "http"
    log.info("davcontacts listening on %s://%s:%d/ (%d worker(s), %d threads each)", scheme,
             config.server.host, config.server.port, config.server.workers, config.server.threads)
    if config.server.workers <= 1:
        return _run(build_server(config))
    db.close()
    return _prefork(config)


def _run(server: wsgi.Server) -> int:
    def stop(signum, frame):
        server.stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.safe_start()
    finally:
        server.stop()
    return 0


def _prefork(config: Config) -> int:
    children: list[int] = []
    for _ in range(config.server.workers):
        pid = os.fork()
        if pid == 0:
            database.obj.close() if not database.obj.is_closed() else None
            open_database(config.storage.database_url, migrate=False)
            code = _run(build_server(config, reuse_port=True))
            os._exit(code)
        children.append(pid)

    def forward(signum, frame):
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return status
