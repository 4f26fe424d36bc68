"""Start, watch and stop the servers under test, each in its own process on a free
loopback port with a temporary data directory.

davcontacts runs from this checkout with this interpreter; Radicale and Xandikos are
installed from PyPI into a throwaway virtual environment (same interpreter), reused
while it holds the pinned versions. A sampler thread records each server's peak RSS
and CPU time (the whole process tree) from /proc.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .client import Conn, propfind_body

REPO = Path(__file__).resolve().parent.parent
USER, PASSWORD = "bench", "bench-password"
# Pinned so that reruns compare like with like; change deliberately and say so in
# docs/benchmarks.md.
PEER_SPECS = {"radicale": "radicale==3.9.0", "xandikos": "xandikos==0.4.10"}
SERVERS = ("davcontacts", "radicale", "xandikos")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class StartError(RuntimeError):
    pass


# --- the throwaway virtual environment -------------------------------------------

def _venv_versions(venv: Path) -> dict[str, str]:
    py = venv / "bin" / "python"
    if not py.exists():
        return {}
    code = ("import importlib.metadata as m\n"
            "for n in ('radicale', 'xandikos'):\n"
            "    try: print(n, m.version(n))\n"
            "    except m.PackageNotFoundError: pass\n")
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


def ensure_venv(venv: Path, log=print) -> dict[str, str]:
    """Create or reuse `venv` holding the pinned Radicale and Xandikos; their versions."""
    wanted = {name: spec.split("==")[1] for name, spec in PEER_SPECS.items()}
    if _venv_versions(venv) == wanted:
        return wanted
    log(f"installing {', '.join(PEER_SPECS.values())} into {venv} ...")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    res = subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                          "--disable-pip-version-check", *PEER_SPECS.values()],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise StartError(f"pip install failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    got = _venv_versions(venv)
    if got != wanted:
        raise StartError(f"venv holds {got}, wanted {wanted}")
    return got


def davcontacts_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                            "davcontacts"], capture_output=True, text=True).stdout.strip()
    return f"{version} ({rev}{'+dirty' if dirty else ''})" if rev else version


# --- process watching -------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo and len(pids) < 256:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


class Sampler(threading.Thread):
    """Polls the server's process tree for its peak memory, summed as PSS so that a
    forked child's pages shared with its parent count once; CPU seconds on demand."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_pss_kib = 0
        self.peak_pss_pids: list[int] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            pids = _tree(self.pid)
            pss = sum(_pss_kib(p) for p in pids)
            if pss > self.peak_pss_kib:
                self.peak_pss_kib, self.peak_pss_pids = pss, pids
            self._stop_event.wait(self.interval)

    def cpu(self) -> float:
        return sum(_cpu_seconds(p) for p in _tree(self.pid))

    def hwm_kib(self) -> int:
        """VmHWM of the server process and its live children (workers), summed."""
        return sum(_status_kib(p, "VmHWM") for p in _tree(self.pid))

    def stop(self) -> None:
        self._stop_event.set()


# --- servers ----------------------------------------------------------------------

@dataclass
class Server:
    name: str
    version: str
    port: int
    book: str                      # path of the address book, ending in "/"
    auth: tuple[str, str] | None
    auth_note: str
    proc: subprocess.Popen
    log: Path
    sampler: Sampler = field(init=False)

    def __post_init__(self) -> None:
        self.sampler = Sampler(self.proc.pid)
        self.sampler.start()

    def conn(self) -> Conn:
        return Conn("127.0.0.1", self.port, self.auth)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> dict[str, float]:
        """Stop the server; its peak memory in MiB (VmHWM and polled PSS)."""
        hwm = self.sampler.hwm_kib()
        self.sampler.stop()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return {"vmhwm_mib": hwm / 1024, "peak_pss_mib": self.sampler.peak_pss_kib / 1024,
                "peak_pss_processes": len(self.sampler.peak_pss_pids)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
    env.update(extra)
    return env


def _spawn(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def _wait_ready(srv: Server, timeout: float = 60) -> None:
    """Wait until the book answers a PROPFIND Depth 0 with 207."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not srv.alive():
            raise StartError(f"{srv.name} exited with {srv.proc.returncode}:\n{srv.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=0.5):
                pass
            conn = srv.conn()
            r = conn.request("PROPFIND", srv.book, propfind_body("D:resourcetype"),
                             {"Depth": "0", "Content-Type": "application/xml"})
            conn.close()
            if r.status == 207:
                return
            last = f"HTTP {r.status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    srv.stop()
    raise StartError(f"{srv.name}: book {srv.book} not ready ({last}):\n{srv.log_tail()}")


def start_davcontacts(tmp: Path, database_url: str | None) -> Server:
    data = tmp / "davcontacts"
    data.mkdir()
    common = ["--data-dir", str(data)] + (["--database-url", database_url]
                                          if database_url else [])
    env = _clean_env(PYTHONUNBUFFERED="1")
    res = subprocess.run([sys.executable, "-m", "davcontacts", "user", "add", USER, *common],
                         cwd=REPO, env=dict(env, DAVCONTACTS_PASSWORD=PASSWORD),
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise StartError(f"davcontacts user add failed:\n{res.stdout}{res.stderr}")
    port = free_port()
    proc = _spawn([sys.executable, "-m", "davcontacts", "serve", *common,
                   "--host", "127.0.0.1", "--port", str(port)], data / "server.log", env, REPO)
    srv = Server("davcontacts", davcontacts_version(), port, f"/dav/addressbooks/{USER}/personal/",
                 (USER, PASSWORD), "HTTP Basic (scrypt hash, verified-credential cache)",
                 proc, data / "server.log")
    _wait_ready(srv)
    return srv


def start_radicale(tmp: Path, venv: Path, version: str) -> Server:
    data = tmp / "radicale"
    data.mkdir()
    (data / "users").write_text(f"{USER}:{PASSWORD}\n")
    port = free_port()
    (data / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {data / 'users'}\n"
        f"htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {data / 'collections'}\n")
    proc = _spawn([str(venv / "bin" / "radicale"), "--config", str(data / "config")],
                  data / "server.log", _clean_env(), data)
    srv = Server("radicale", version, port, f"/{USER}/personal/", (USER, PASSWORD),
                 "HTTP Basic (htpasswd, plain)", proc, data / "server.log")
    # Radicale creates no book by itself: make one as a client would (RFC 5689 MKCOL).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if not srv.alive():
                break
            time.sleep(0.1)
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" '
            b'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype>'
            b'<D:collection/><C:addressbook/></D:resourcetype><D:displayname>personal'
            b'</D:displayname></D:prop></D:set></D:mkcol>')
    try:
        conn = srv.conn()
        r = conn.request("MKCOL", srv.book, body, {"Content-Type": "application/xml"})
        conn.close()
    except OSError as e:
        srv.stop()
        raise StartError(f"radicale: MKCOL failed ({e}):\n{srv.log_tail()}") from None
    if r.status != 201:
        srv.stop()
        raise StartError(f"radicale: MKCOL answered {r.status}:\n{srv.log_tail()}")
    _wait_ready(srv)
    return srv


def start_xandikos(tmp: Path, venv: Path, version: str) -> Server:
    data = tmp / "xandikos"
    data.mkdir()
    port = free_port()
    # --htpasswd requires TLS (--autocert); Xandikos expects a proxy to authenticate,
    # so it runs without authentication here.
    proc = _spawn([str(venv / "bin" / "xandikos"), "serve", "--defaults", "-d",
                   str(data / "store"), "-l", "127.0.0.1", "-p", str(port),
                   "--state-dir", str(data / "state")],
                  data / "server.log", _clean_env(XDG_DATA_HOME=str(data / "xdg")), data)
    srv = Server("xandikos", version, port, "/user/contacts/addressbook/", None,
                 "none (its --htpasswd requires TLS)", proc, data / "server.log")
    _wait_ready(srv)
    return srv


class PgSchema:
    """A private schema in a PostgreSQL database for one davcontacts run."""

    def __init__(self, base_url: str):
        import psycopg2
        self.base, self.schema = base_url, "bench_" + secrets.token_hex(6)
        conn = psycopg2.connect(base_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {self.schema}")
        conn.close()
        sep = "&" if "?" in base_url else "?"
        self.url = base_url + sep + "options=" + quote(f"-csearch_path={self.schema}")

    def drop(self) -> None:
        import psycopg2
        conn = psycopg2.connect(self.base)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        conn.close()
