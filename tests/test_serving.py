"""Serving (DESIGN.md "Scale"): keep-alive, the access log, TLS, `serve --workers N`
with every piece of state in the database, schema versions at start-up, and shutdown.

Each test starts its own server (tests.conftest.start_server) where it reads the
server's log or needs a particular configuration.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from davcontacts.model import SCHEMA_VERSION, SchemaVersion
from tests.conftest import (
    REPO,
    TEST_PASSWORD,
    Server,
    free_port,
    make_backend,
    model_db,
    start_server,
    stop_server,
)
from tests.davclient import DavClient, make_card

# "<time> [<pid>] INFO davcontacts.access: <addr> <method> <uri> <status> <ms>ms"
ACCESS = re.compile(r"\[(?P<pid>\d+)\] INFO davcontacts\.access: (?P<addr>\S+) "
                    r"(?P<method>[A-Z]+) (?P<uri>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms$")

PROPFIND_BODY = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
                 "<D:displayname/><D:getetag/><D:resourcetype/></D:prop></D:propfind>")
LOCK_BODY = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
             "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>tests</D:owner>"
             "</D:lockinfo>")


def basic(user: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def wait_for_log(log: Path, text: str, timeout: float = 10) -> str:
    """The log once it contains `text` (lines are written just after an event)."""
    deadline = time.monotonic() + timeout
    while text not in (content := log.read_text()):
        assert time.monotonic() < deadline, f"{text!r} not in:\n{content}"
        time.sleep(0.05)
    return content


def access_lines(server: Server, want: int = 0, timeout: float = 10) -> list[re.Match]:
    """The access-log lines so far, waiting until there are at least `want`."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [m for m in map(ACCESS.search, server.log.read_text().splitlines()) if m]
        if len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_server(request, tmp_path: Path) -> Iterator[Server]:
    for backend in make_backend(request.param, tmp_path):
        srv = start_server(tmp_path, backend.url, backend.name)
        try:
            yield srv
        finally:
            stop_server(srv)


# Keep-alive -----------------------------------------------------------------------------


def test_keep_alive_across_methods_and_statuses(server: Server, user: str) -> None:
    """One connection carries PROPFIND (207), PUT, GET, OPTIONS and errors: every
    response has a Content-Length and none closes the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    auth = basic(user)
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("keepalive-1", "Kept Alive")
    steps = [
        ("PROPFIND", f"/dav/addressbooks/{user}/", PROPFIND_BODY, {**auth, "Depth": "1"}, 207),
        ("PUT", book + "k.vcf", card, {**auth, "Content-Type": "text/vcard"}, 201),
        ("GET", book + "k.vcf", None, auth, 200),
        ("PROPFIND", book, PROPFIND_BODY, {**auth, "Depth": "1"}, 207),
        ("OPTIONS", "/dav/", None, auth, 200),
        ("GET", book + "missing.vcf", None, auth, 404),
        ("PROPFIND", book, PROPFIND_BODY, {"Depth": "0"}, 401),
        ("GET", book + "k.vcf", None, auth, 200),
    ]
    local = None
    for method, path, body, headers, status in steps:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == status, (method, path, data)
        assert resp.getheader("Connection", "").lower() != "close", (method, path)
        assert not resp.will_close, (method, path)
        assert resp.getheader("Content-Length") == str(len(data)), (method, path)
        if local is None:
            local = conn.sock.getsockname()
        assert conn.sock.getsockname() == local  # still the first connection
        if method == "GET" and status == 200:
            assert data.decode() == card
    conn.close()


def test_keep_alive_holds_for_many_concurrent_clients(server: Server, user: str) -> None:
    """Forty clients each keep their own connection open (cheroot's default would
    answer all but ten of them with Connection: close)."""
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
             for _ in range(40)]
    try:
        for _ in range(2):
            for conn in conns:
                conn.request("PROPFIND", f"/dav/principals/{user}/", body=PROPFIND_BODY,
                             headers={**basic(user), "Depth": "0"})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 207
                assert resp.getheader("Connection", "").lower() != "close"
                assert not resp.will_close
        assert len({conn.sock.getsockname() for conn in conns}) == 40
    finally:
        for conn in conns:
            conn.close()


def _raw_request(sock: socket.socket, method: str, path: str, headers: dict[str, str],
                 body: str = "") -> bytes:
    data = body.encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Content-Length: {len(data)}"] + [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    return sock.recv(1 << 20)


def _complete(reply: bytes) -> bool:
    head, sep, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
    return bool(sep and length and len(body) == int(length.group(1)))


def test_a_small_answer_arrives_in_one_piece(server: Server, user: str) -> None:
    """Status line, headers and body of a small answer leave in one write (http.py),
    so the first read after each request already holds the whole answer. Sent as
    two writes, the first read would mostly return the headers alone."""
    book = f"/dav/addressbooks/{user}/personal/"
    client = server.client(user)
    assert client.put_card(book + "one.vcf", make_card("one-piece", "One Piece")).status == 201
    client.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        replies = []
        for _ in range(10):
            replies.append(_raw_request(sock, "GET", book + "one.vcf", basic(user)))
            replies.append(_raw_request(sock, "PROPFIND", book, {**basic(user), "Depth": "1"},
                                        PROPFIND_BODY))
    assert all(_complete(reply) for reply in replies), [r[:200] for r in replies]
    assert all(b"UID:one-piece" in r for r in replies[::2])
    assert all(r.startswith(b"HTTP/1.1 207") for r in replies[1::2])


def test_a_connection_quiet_for_a_while_is_still_served(server: Server, user: str) -> None:
    """A worker lingers a moment for the next request on a connection, then hands the
    connection back to cheroot's selector: a request after a pause is still answered
    on the same connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        local = None
        for pause in (0, 0.001, 0.05, 0.3, 0):
            time.sleep(pause)
            conn.request("PROPFIND", f"/dav/principals/{user}/", body=PROPFIND_BODY,
                         headers={**basic(user), "Depth": "0"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 207
            local = local or conn.sock.getsockname()
            assert conn.sock.getsockname() == local
    finally:
        conn.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_more_busy_clients_than_threads(tmp_path: Path, threads: int) -> None:
    """Eight clients in parallel, each sending requests back to back on its own
    connection, against a server with one or two threads: lingering on one
    connection never starves the others, and every answer is right."""
    srv = start_server(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", "sqlite",
                       extra_env={"DAVCONTACTS_SERVER_THREADS": str(threads)})
    try:
        user = srv.add_user()
        book = f"/dav/addressbooks/{user}/personal/"
        client = srv.client(user)
        for i in range(8):
            assert client.put_card(book + f"c{i}.vcf", make_card(f"busy-{i}", f"Busy {i}")
                                   ).status == 201
        client.close()
        results: list[object] = []

        def fetch_many(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            try:
                for _ in range(25):
                    conn.request("GET", book + f"c{i}.vcf", headers=basic(user))
                    resp = conn.getresponse()
                    data = resp.read()
                    results.append((resp.status, f"UID:busy-{i}".encode() in data))
            except Exception as exc:  # reported below with the others
                results.append(exc)
            finally:
                conn.close()

        workers = [threading.Thread(target=fetch_many, args=(i,)) for i in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not any(worker.is_alive() for worker in workers)
        assert results == [(200, True)] * 200
    finally:
        stop_server(srv)


# Access log -----------------------------------------------------------------------------


def test_access_log_has_method_path_status_duration(own_server: Server) -> None:
    user = own_server.add_user()
    client = own_server.client(user)
    book = f"/dav/addressbooks/{user}/personal/"
    assert client.propfind(book, ["D:displayname"], depth="1").status == 207
    assert client.put_card(book + "log%20me.vcf", make_card("log-1")).status == 201
    assert client.request("GET", book + "nothing.vcf?x=1").status == 404
    assert client.request("GET", book, auth=False).status == 401
    client.close()
    lines = access_lines(own_server, 4)
    seen = [(m["method"], m["uri"], m["status"]) for m in lines]
    assert seen[-4:] == [("PROPFIND", book, "207"), ("PUT", book + "log%20me.vcf", "201"),
                         ("GET", book + "nothing.vcf?x=1", "404"), ("GET", book, "401")]
    for m in lines[-4:]:
        assert m["addr"] == "127.0.0.1"
        assert 0 < float(m["ms"]) < 30000
        assert int(m["pid"]) == own_server.proc.pid  # one process with --workers 1


# TLS ----------------------------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_from_a_config_file(tmp_path: Path) -> None:
    """tls_cert and tls_key in the configuration file: HTTPS with keep-alive."""
    cert, key = make_certificate(tmp_path)
    config = tmp_path / "tls.toml"
    config.write_text(f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    url = f"sqlite:///{tmp_path}/davcontacts.sqlite3"
    srv = start_server(tmp_path, url, "sqlite", extra_env={"DAVCONTACTS_CONFIG": str(config)})
    try:
        user = srv.add_user()
        wait_for_log(srv.log, f"listening on https://127.0.0.1:{srv.port}/")
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context,
                                           timeout=30)
        for depth in ("0", "1"):  # two requests on one TLS connection
            conn.request("PROPFIND", f"/dav/addressbooks/{user}/", body=PROPFIND_BODY,
                         headers={**basic(user), "Depth": depth})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 207, body
            assert (f"/dav/addressbooks/{user}/personal/".encode() in body) == (depth == "1")
            assert not resp.will_close
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        conn.close()
        # Plain HTTP gets no answer in the clear
        plain = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            plain.request("GET", "/dav/")
            assert plain.getresponse().status == 400
        except (ConnectionError, http.client.HTTPException):
            pass
        finally:
            plain.close()
        # An untrusting client fails the handshake
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
                ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        assert any(m["method"] == "PROPFIND" and m["status"] == "207"
                   for m in access_lines(srv, 2))
    finally:
        stop_server(srv)


def test_log_file_from_the_configuration(tmp_path: Path) -> None:
    """logging.file takes the access log (and the rest) instead of standard error."""
    log_file = tmp_path / "logs" / "davcontacts.log"
    log_file.parent.mkdir()
    config = tmp_path / "log.toml"
    config.write_text(f'[logging]\nfile = "{log_file}"\n')
    srv = start_server(tmp_path, f"sqlite:///{tmp_path}/davcontacts.sqlite3", "sqlite",
                       extra_env={"DAVCONTACTS_CONFIG": str(config)})
    try:
        client = srv.client()
        assert client.request("GET", "/dav/?to-the-file", auth=False).status == 401
        client.close()
    finally:
        stop_server(srv)
    text = log_file.read_text()
    assert "davcontacts.access: 127.0.0.1 GET /dav/?to-the-file 401 " in text
    assert "davcontacts.access" not in srv.log.read_text()


def test_port_in_use_is_a_clean_error(tmp_path: Path) -> None:
    """Another program on the port: a one-line error and exit status 1, per worker."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
        for workers in ("1", "2"):
            result = subprocess.run(
                [sys.executable, "-m", "davcontacts", "serve", "--data-dir", str(tmp_path),
                 "--port", str(port), "--workers", workers], cwd=REPO, env=env,
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr
            errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
            assert len(errors) == int(workers)
            assert all(f"cannot listen on 127.0.0.1:{port}:" in line for line in errors)


# Several worker processes ---------------------------------------------------------------


def connections_by_worker(srv: Server, user: str, count: int = 40,
                          ) -> dict[int, list[DavClient]]:
    """Open `count` keep-alive connections, one request each, and group them by the
    pid that answered (read from the access log, where each request is tagged)."""
    clients = []
    for i in range(count):
        client = srv.client(user)
        assert client.request("OPTIONS", f"/dav/?connection={i}").status == 200
        clients.append(client)
    lines = access_lines(srv, count)
    pid_of = {m["uri"]: int(m["pid"]) for m in lines if "?connection=" in m["uri"]}
    grouped: dict[int, list[DavClient]] = {}
    for i, client in enumerate(clients):
        grouped.setdefault(pid_of[f"/dav/?connection={i}"], []).append(client)
    return grouped


def child_pids(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def test_two_workers_share_the_port_and_the_state(two_workers: Server) -> None:
    """Both processes answer; a write through one is read through the other; a LOCK
    taken on one is enforced by the other (locks live in the database)."""
    srv = two_workers
    user = srv.add_user()
    grouped = connections_by_worker(srv, user)
    assert len(grouped) == 2, grouped.keys()
    assert srv.proc.pid not in grouped  # the parent only supervises
    if sys.platform.startswith("linux"):
        assert set(grouped) == child_pids(srv.proc.pid)
    (pid_a, conns_a), (pid_b, conns_b) = grouped.items()
    a, b = conns_a[0], conns_b[0]
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("workers-1", "Shared State")

    assert a.put_card(book + "w.vcf", card).status == 201
    got = b.request("GET", book + "w.vcf")
    assert got.status == 200 and got.text == card
    tokens = [c.propfind(book, ["D:sync-token"]).prop(book, "D:sync-token").text
              for c in (a, b)]
    assert tokens[0] == tokens[1]

    locked = a.request("LOCK", book + "w.vcf", LOCK_BODY,
                       {"Content-Type": "application/xml", "Timeout": "Second-600"})
    assert locked.status == 200, locked.text
    token = locked.header("Lock-Token").strip("<>")
    edited = make_card("workers-1", "Shared State Edited")
    assert b.put_card(book + "w.vcf", edited).status == 423
    assert b.put_card(book + "w.vcf", edited, {"If": f"(<{token}>)"}).status in (200, 204)
    assert a.request("UNLOCK", book + "w.vcf", headers={"Lock-Token": f"<{token}>"}
                     ).status == 204
    assert b.put_card(book + "w.vcf", card).status in (200, 204)
    assert a.request("GET", book + "w.vcf").text == card

    # Each side's log lines carry its own pid
    lines = access_lines(srv)
    assert {int(m["pid"]) for m in lines if m["method"] == "LOCK"} == {pid_a}
    assert {int(m["status"]) for m in lines
            if m["method"] == "PUT" and int(m["pid"]) == pid_b} >= {423}
    for conns in grouped.values():
        for client in conns:
            client.close()


def test_sigterm_stops_every_worker(two_workers: Server) -> None:
    """SIGTERM to the parent stops the workers, which finish and exit; nothing is left
    serving the port."""
    srv = two_workers
    pids = set(connections_by_worker(srv, srv.add_user(), count=20))
    started = time.monotonic()
    srv.proc.terminate()
    assert srv.proc.wait(15) == 0
    assert time.monotonic() - started < 10
    assert not child_pids(srv.proc.pid)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


@pytest.mark.parametrize("workers", [2, 4])
def test_sigterm_while_workers_start_is_a_clean_stop(tmp_path: Path, workers: int) -> None:
    """A SIGTERM that reaches the workers before they are serving (they have just
    been forked) stops them cleanly: the parent exits 0 (a worker killed by the
    default action of SIGTERM would make it exit -15)."""
    log = tmp_path / "server.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               DAVCONTACTS_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    env.pop("DAVCONTACTS_CONFIG", None)
    subprocess.run([sys.executable, "-m", "davcontacts", "init", "--data-dir", str(tmp_path)],
                   cwd=REPO, env=env, check=True, capture_output=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "davcontacts", "serve", "--data-dir", str(tmp_path),
             "--host", "127.0.0.1", "--port", str(free_port()), "--workers", str(workers)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "worker processes" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.001)
        proc.terminate()  # the workers are forked; most are still importing and opening
        assert proc.wait(15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_a_single_process_server(own_server: Server) -> None:
    started = time.monotonic()
    own_server.proc.terminate()
    assert own_server.proc.wait(15) == 0
    assert time.monotonic() - started < 10


# Schema versions at start-up ---------------------------------------------------------------


def test_restart_keeps_the_data(own_server: Server) -> None:
    """Reopening an existing database migrates nothing and loses nothing."""
    srv = own_server
    user = srv.add_user()
    book = f"/dav/addressbooks/{user}/personal/"
    card = make_card("restart-1", "Still Here")
    client = srv.client(user)
    assert client.put_card(book + "r.vcf", card).status == 201
    token = client.propfind(book, ["D:sync-token"]).prop(book, "D:sync-token").text
    client.close()
    stop_server(srv)
    again = start_server(srv.data_dir, srv.database_url, srv.backend)
    try:
        client = again.client(user)
        got = client.request("GET", book + "r.vcf")
        assert got.status == 200 and got.text == card
        assert client.propfind(book, ["D:sync-token"]).prop(book, "D:sync-token").text == token
        client.close()
        with model_db(srv.database_url):
            assert [v.version for v in SchemaVersion.select()] == [SCHEMA_VERSION]
        assert "created database schema" not in again.log.read_text()
    finally:
        stop_server(again)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request, tmp_path: Path) -> Iterator[str]:
    for backend in make_backend(request.param, tmp_path):
        yield backend.url


def test_database_from_a_newer_release_is_refused(backend_url: str, tmp_path: Path) -> None:
    with model_db(backend_url):
        SchemaVersion.create(version=SCHEMA_VERSION + 1, description="from the future")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
    env["DAVCONTACTS_DATABASE_URL"] = backend_url
    result = subprocess.run([sys.executable, "-m", "davcontacts", "serve", "--data-dir",
                             str(tmp_path), "--port", str(port)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (f"the database has schema version {SCHEMA_VERSION + 1}, newer than this release "
            f"understands ({SCHEMA_VERSION}); upgrade davcontacts") in result.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
