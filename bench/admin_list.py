"""How fast the admin's contacts page answers at scale, over HTTP.

    python bench/admin_list.py [--n 100000] [--database-url URL] [--data-dir DIR]
                               [--repeat 15]

Builds a data directory with N contacts (the seeded rows of bench/import_export.py, 1 in
20 a company, 1-3 of ten tags each, ten cities, twelve companies) through the CSV
importer as the system, in the personal book of the member `owner`, and 30 more in the
book of the member `small`; the admin `staff` sees every book. With --data-dir the
directory is kept and reused by later runs (the build of 100,000 rows takes minutes;
opening the database migrates it). Then it starts the real server (`davcontacts
serve`), signs each user in through the login form, and times GET /admin/ on one
keep-alive connection, for each page:

    first page, a deep page (a keyset cursor at 90 % of the list), a search that finds
    many contacts, a search that finds one (every row is looked at), a tag, companies
    only, persons only, sorted by city, sorted by company

Each page is fetched `--repeat` times after one warm-up; the table shows the median
and the slowest, in milliseconds, as the client measured them (HTTP included), and the
number of contacts on the page.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as `python bench/admin_list.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.import_export import write_csv  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
OWNER, STAFF, SMALL = "owner", "staff", "small"
SMALL_ROWS = 30
COOKIE = "davcontacts_admin"


def build(data_dir: Path, database_url: str, n: int) -> None:
    """Create the users and import N generated rows (skipped when already built)."""
    from davcontacts.contacts.actor import Actor
    from davcontacts.contacts.transfer import import_csv
    from davcontacts.contacts.users import create_user
    from davcontacts.model import AddressBook, Contact, User, open_database

    db = open_database(database_url)
    with db.connection_context():
        owner = User.get_or_none(User.username == OWNER)
        if owner is not None and Contact.select().count() >= n + SMALL_ROWS:
            print(f"reusing {Contact.select().count()} contacts in {data_dir}", file=sys.stderr)
            return
        if owner is None:
            owner = create_user(OWNER, PASSWORD, role="member", scrypt_n=1024)
            create_user(STAFF, PASSWORD, role="admin", scrypt_n=1024)
        if User.get_or_none(User.username == SMALL) is None:
            small = create_user(SMALL, PASSWORD, role="member", scrypt_n=1024)
            source = data_dir / "small.csv"
            write_csv(source, SMALL_ROWS, seed=7)
            import_csv(Actor.cli(), source.read_text(encoding="utf-8"),
                       default_book=AddressBook.get(AddressBook.owner_user == small.id))
        book = AddressBook.get(AddressBook.owner_user == owner.id)
        if Contact.select().where(Contact.book == book.id).count() >= n:
            return
        source = data_dir / "contacts.csv"
        write_csv(source, n)
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if done % 5000 == 0 or done == total:
                rate = done / (time.perf_counter() - started)
                print(f"  imported {done}/{total} ({rate:.0f} rows/s)", file=sys.stderr)

        report = import_csv(Actor.cli(), source.read_text(encoding="utf-8"),
                            default_book=book, progress=progress)
        source.unlink()
        print(f"built {report.created} contacts in {time.perf_counter() - started:.0f} s "
              f"({len(report.failed)} failed)", file=sys.stderr)


def deep_cursor(database_url: str, fraction: float = 0.9) -> str:
    """The keyset cursor of the row at `fraction` of the list by name, as the page's
    Next link would carry it."""
    from davcontacts.contacts.listing import encode_cursor
    from davcontacts.model import Contact, open_database

    db = open_database(database_url, migrate=False)
    with db.connection_context():
        live = Contact.select().where(Contact.state == "active")
        row = (live.select(Contact.display_name, Contact.id)
               .order_by(Contact.display_name, Contact.id)
               .offset(int(live.count() * fraction)).limit(1).tuples().get())
    return encode_cursor(row)


def rare_email(database_url: str) -> str:
    from davcontacts.model import Contact, open_database

    db = open_database(database_url, migrate=False)
    with db.connection_context():
        return (Contact.select(Contact.email).where(Contact.kind == "person")
                .order_by(Contact.id.desc()).limit(1).scalar())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, database_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
    env.update(DAVCONTACTS_DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "davcontacts", "serve", "--data-dir",
                             str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # the first start migrates the database
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited:\n{(data_dir / 'server.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("the server did not start")


class Session:
    """One keep-alive connection with the admin's session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name == COOKIE:
                self.cookie = rest.split(";", 1)[0]
        return resp.status, text

    def login(self, username: str) -> None:
        _, page = self.request("GET", "/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/admin/login", urlencode(
            {"username": username, "password": PASSWORD, "csrf_token": token}))
        if status != 302:
            sys.exit(f"login as {username} failed: {status}")


def time_page(session: Session, path: str, repeat: int) -> tuple[float, float, int]:
    """Median and slowest milliseconds, and the number of rows on the page."""
    status, text = session.request("GET", path)  # warm-up
    if status != 200:
        sys.exit(f"GET {path}: {status}")
    rows = text.count('<td class="col-check">')
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        session.request("GET", path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="contacts (default 100000)")
    p.add_argument("--database-url", help="default: SQLite in the data directory")
    p.add_argument("--data-dir", type=Path, help="build here and keep it (reused next time)")
    p.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    p.add_argument("--build-only", action="store_true", help="build the data and stop")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="davcontacts-admin-list-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        url = args.database_url or f"sqlite:///{data_dir}/davcontacts.sqlite3"
        build(data_dir, url, args.n)
        if args.build_only:
            return 0
        cursor, email = deep_cursor(url), rare_email(url)
        pages = [
            ("first page", {}),
            ("deep page (keyset, 90 %)", {"after": cursor}),
            ("search, many matches (\"Müller\")", {"q": "Müller"}),
            ("search, one match (an email)", {"q": email}),
            ("tag (\"VIP\")", {"tag": "VIP"}),
            ("companies only", {"kind": "company"}),
            ("persons only", {"kind": "person"}),
            ("sorted by city", {"sort": "city"}),
            ("sorted by company", {"sort": "company"}),
        ]
        proc, port = start_server(data_dir, url)
        try:
            results = {}
            for username in (STAFF, OWNER, SMALL):
                session = Session(port)
                session.login(username)
                for label, params in pages:
                    path = "/admin/?" + urlencode({"view": "table", **params})
                    results[label, username] = time_page(session, path, args.repeat)
                session.conn.close()
        finally:
            proc.terminate()
            proc.wait(30)
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"\n{args.n} contacts, {backend}, Python {sys.version.split()[0]}, "
          f"{args.repeat} requests per page (median / slowest, ms, over HTTP)\n")
    print(f"| page | admin (every book) | member owning the {args.n:,} "
          f"| member with {SMALL_ROWS} |")
    print("|---|---:|---:|---:|")
    for label, _ in pages:
        cells = " | ".join(f"{median:.1f} / {slowest:.1f} ({rows})" for median, slowest, rows
                           in (results[label, who] for who in (STAFF, OWNER, SMALL)))
        print(f"| {label} | {cells} |")
    print("\n(rows): contacts on the page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
