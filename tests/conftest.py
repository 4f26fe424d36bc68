"""Fixtures that start the real server (cheroot, a free loopback port, a real database)
and speak HTTP to it.

Every server test runs on SQLite and on PostgreSQL. The PostgreSQL variant needs
DAVCONTACTS_TEST_PG (a URL, e.g. postgresql://postgres@127.0.0.1:5432/test) and is
skipped only when it is unset; each run gets its own schema there.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.davclient import DavClient

REPO = Path(__file__).resolve().parent.parent
PG_ENV = "DAVCONTACTS_TEST_PG"
TEST_PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}:\n{log.read_text()}")


def wait_for_workers(count: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Until `count` worker processes have each bound their own socket (SO_REUSEPORT):
    the port answers as soon as the first one listens, and a test that starts before
    the others would see every connection land on that one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        if log.read_text(errors="replace").count("davcontacts listening on ") >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{count} workers did not all listen:\n{log.read_text()}")


@dataclass
class Backend:
    name: str
    url: str
    cleanup: object = None


def _pg_schema_url(base: str) -> tuple[str, str]:
    schema = "dct_" + secrets.token_hex(6)
    import psycopg2
    conn = psycopg2.connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    sep = "&" if "?" in base else "?"
    return base + sep + "options=" + quote(f"-csearch_path={schema}"), schema


def _pg_drop(base: str, schema: str) -> None:
    import psycopg2
    conn = psycopg2.connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.close()


def make_backend(name: str, tmp: Path) -> Iterator[Backend]:
    if name == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp}/davcontacts.sqlite3")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL variant not run")
    url, schema = _pg_schema_url(base)
    try:
        yield Backend("postgresql", url)
    finally:
        db = model_db._bound.pop(url, None)
        if db is not None:
            db.close_all()  # a pool keeps its connections open until the process ends
        _pg_drop(base, schema)


@dataclass
class Server:
    """A running davcontacts process and what tests need to reach it."""

    base_url: str
    port: int
    data_dir: Path
    database_url: str
    backend: str
    proc: subprocess.Popen
    log: Path

    def client(self, user: str | None = None, password: str = TEST_PASSWORD) -> DavClient:
        return DavClient("127.0.0.1", self.port, user, password)

    def cli(self, *args: str, password: str | None = None, check: bool = True):
        env = dict(os.environ, DAVCONTACTS_DATABASE_URL=self.database_url)
        env.pop("DAVCONTACTS_CONFIG", None)
        if password is not None:
            env["DAVCONTACTS_PASSWORD"] = password
        return subprocess.run([sys.executable, "-m", "davcontacts", *args, "--data-dir",
                               str(self.data_dir)], env=env, capture_output=True, text=True,
                              check=check, stdin=subprocess.DEVNULL)

    def add_user(self, name: str | None = None, *, role: str = "member",
                 password: str = TEST_PASSWORD) -> str:
        """Create a user through the model API (fast scrypt parameters)."""
        name = name or "u" + uuid.uuid4().hex[:10]
        from davcontacts.contacts.users import create_user
        with model_db(self.database_url):
            create_user(name, password, role=role, scrypt_n=1024)
        return name


class model_db:
    """Bind the model to a test database for direct model-API calls."""

    _bound: dict[str, object] = {}

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        from davcontacts.model import database, open_database
        db = self._bound.get(self.url)
        if db is None:
            db = open_database(self.url)
            self._bound[self.url] = db
        else:
            database.initialize(db)
        db.connect(reuse_if_open=True)
        return db

    def __exit__(self, *exc):
        from davcontacts.model import database
        database.obj.close()


def start_server(data_dir: Path, database_url: str, backend: str, *,
                 extra_env: dict[str, str] | None = None, workers: int = 1) -> Server:
    port = free_port()
    log = data_dir / "server.log"
    env = dict(os.environ, DAVCONTACTS_DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.pop("DAVCONTACTS_CONFIG", None)
    env.update(extra_env or {})
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "davcontacts", "serve", "--data-dir", str(data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wait_for_port(port, proc, log)
    if workers > 1:
        wait_for_workers(workers, proc, log)
    return Server(f"http://127.0.0.1:{port}", port, data_dir, database_url, backend, proc, log)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    """One real server per backend for the session; tests isolate themselves by
    creating their own users (the ACL keeps them apart)."""
    tmp = tmp_path_factory.mktemp(f"server-{request.param}")
    for backend in make_backend(request.param, tmp):
        srv = start_server(tmp, backend.url, backend.name)
        try:
            yield srv
        finally:
            stop_server(srv)


@pytest.fixture
def user(server: Server) -> str:
    """A fresh member with their personal book."""
    return server.add_user()


@pytest.fixture
def dav(server: Server, user: str) -> DavClient:
    """A client signed in as a fresh user."""
    client = server.client(user)
    yield client
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(request, tmp_path: Path) -> Iterator[Server]:
    """A server of its own with two worker processes (serve --workers 2), on each
    backend: any connection may land on either process."""
    for backend in make_backend(request.param, tmp_path):
        srv = start_server(tmp_path, backend.url, backend.name, workers=2)
        try:
            yield srv
        finally:
            stop_server(srv)
