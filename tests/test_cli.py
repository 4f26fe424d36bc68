"""The command line, run as users run it: `python -m davcontacts …` in a subprocess,
on a temporary data directory (SQLite) and on a private PostgreSQL schema.

Passwords come from DAVCONTACTS_PASSWORD or from a prompt on a terminal (driven
through a pseudo-terminal here); there is never a default user or password.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from davcontacts.model import SCHEMA_VERSION, AddressBook, Contact, SchemaVersion, User
from tests.conftest import (
    REPO,
    Server,
    free_port,
    make_backend,
    model_db,
    start_server,
    stop_server,
    wait_for_port,
)
from tests.davclient import make_card

HINT = "No super admin exists yet"


@dataclass
class Store:
    """Where the commands of one test keep their data."""

    data_dir: Path
    url: str
    backend: str

    def env(self, bind: bool = True, **extra: str) -> dict[str, str]:
        """The environment of a command: none of the developer's DAVCONTACTS_* settings;
        when `bind`, on PostgreSQL, the database URL (SQLite follows --data-dir)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVCONTACTS_")}
        if bind and self.backend == "postgresql":
            env["DAVCONTACTS_DATABASE_URL"] = self.url
        env.update(extra)
        return env

    def run(self, *args: str, password: str | None = None, bind: bool = True,
            env: dict[str, str] | None = None, timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
        """Run `davcontacts ARGS`; `bind` points it at this store (--data-dir and, on
        PostgreSQL, DAVCONTACTS_DATABASE_URL), else only ARGS and `env` say where."""
        extra = dict(env or {})
        if password is not None:
            extra["DAVCONTACTS_PASSWORD"] = password
        argv = [*args, "--data-dir", str(self.data_dir)] if bind else list(args)
        return subprocess.run([sys.executable, "-m", "davcontacts", *argv], cwd=REPO,
                              env=self.env(bind, **extra), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)

    def ok(self, *args: str, **kwargs) -> str:
        """Run a command that must succeed; its standard output."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    def fails(self, *args: str, code: int = 1, **kwargs) -> str:
        """Run a command that must fail cleanly; its standard error."""
        result = self.run(*args, **kwargs)
        assert result.returncode == code, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stderr

    def users(self, *flags: str) -> dict[str, str]:
        """`user list` as {name: the rest of its line}."""
        lines = self.ok("user", "list", *flags).splitlines()
        return {line.split("\t", 1)[0]: line.split("\t", 1)[1] for line in lines if line}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[Store]:
    for backend in make_backend(request.param, tmp_path):
        yield Store(tmp_path, backend.url, backend.name)


def stored_hash(store: Store, name: str) -> str:
    with model_db(store.url):
        return User.get(User.username == name).password_hash


def run_on_terminal(store: Store, args: list[str], replies: list[tuple[str, str]],
                    timeout: float = 60) -> tuple[int, str]:
    """Run a command on a pseudo-terminal (its controlling terminal, as getpass wants),
    answering each prompt in turn; the exit status and everything it wrote."""
    env = store.env()
    argv = [sys.executable, "-m", "davcontacts", *args, "--data-dir", str(store.data_dir)]
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, nothing else
        try:
            os.chdir(REPO)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    output = b""
    pending = list(replies)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if pending and output.decode(errors="replace").rstrip().endswith(
                    pending[0][0].rstrip()):
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"no exit within {timeout}s: {output!r}")
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


# init ---------------------------------------------------------------------------------


def test_init_is_idempotent_and_creates_no_user(store: Store) -> None:
    for _ in range(2):
        out = store.ok("init")
        assert f"schema version {SCHEMA_VERSION}" in out
        assert HINT in out and "davcontacts user add" in out and "--role superadmin" in out
    with model_db(store.url):
        assert [v.version for v in SchemaVersion.select()] == [SCHEMA_VERSION]
        assert User.select().count() == 0  # no default user, so no default password
    assert store.users("--all") == {}
    if store.backend == "sqlite":
        assert (store.data_dir / "davcontacts.sqlite3").is_file()
        assert f"--data-dir {store.data_dir}" in out  # the hint is ready to paste


def test_hint_disappears_once_a_super_admin_exists(store: Store) -> None:
    store.ok("user", "add", "root", "--role", "superadmin", password="s3cret pass")
    assert HINT not in store.ok("init")


# user add ---------------------------------------------------------------------------------


def test_user_add_with_password_from_environment(store: Store) -> None:
    out = store.ok("user", "add", "alice", "--role", "admin", password="alice's secret")
    assert out.strip() == "created admin alice"
    assert store.users() == {"alice": "admin\talice"}
    pw_hash = stored_hash(store, "alice")
    assert pw_hash.startswith("scrypt$")
    assert "alice's secret" not in pw_hash
    from davcontacts.acl.auth import verify_password
    assert verify_password("alice's secret", pw_hash)
    with model_db(store.url):  # and the personal book exists
        user = User.get(User.username == "alice")
        assert AddressBook.get(AddressBook.owner_user == user).slug == "personal"


def test_user_add_prompts_twice_on_a_terminal(store: Store) -> None:
    code, output = run_on_terminal(store, ["user", "add", "bob"],
                                   [("Password for bob:", "typed in secret"),
                                    ("Repeat:", "typed in secret")])
    assert code == 0, output
    assert "created member bob" in output
    assert "typed in secret" not in output  # no echo
    from davcontacts.acl.auth import verify_password
    assert verify_password("typed in secret", stored_hash(store, "bob"))


def test_user_add_prompt_with_different_passwords(store: Store) -> None:
    code, output = run_on_terminal(store, ["user", "add", "carol"],
                                   [("Password for carol:", "one"), ("Repeat:", "two")])
    assert code == 1
    assert "the passwords differ" in output
    assert "Traceback" not in output
    assert "carol" not in store.users("--all")


def test_user_add_without_password_or_terminal_fails_clearly(store: Store) -> None:
    err = store.fails("user", "add", "dave")
    assert "no password" in err and "DAVCONTACTS_PASSWORD" in err and "terminal" in err
    err = store.fails("user", "add", "dave", password="")
    assert "password must not be empty" in err
    assert store.users("--all") == {}


def test_duplicate_user_is_refused(store: Store) -> None:
    store.ok("user", "add", "erin", password="first")
    first = stored_hash(store, "erin")
    err = store.fails("user", "add", "erin", "--role", "superadmin", password="second")
    assert "user 'erin' already exists" in err
    assert stored_hash(store, "erin") == first
    assert store.users() == {"erin": "member\terin"}


@pytest.mark.parametrize("name", ["bad name", ".dot", "x" * 65, "a/b", "é", "a:b"])
def test_invalid_user_name_is_refused(store: Store, name: str) -> None:
    err = store.fails("user", "add", name, password="pw")
    assert "invalid user name" in err
    assert store.users("--all") == {}


def test_unknown_role_is_a_usage_error(store: Store) -> None:
    err = store.fails("user", "add", "frank", "--role", "god", password="pw", code=2)
    assert "invalid choice: 'god'" in err


# list, set-role, delete ------------------------------------------------------------------


def test_list_set_role_and_delete(store: Store) -> None:
    store.ok("user", "add", "gina", "--role", "superadmin", "--display-name", "Gina G",
             password="pw1")
    store.ok("user", "add", "hank", password="pw2")
    assert store.users() == {"gina": "superadmin\tGina G", "hank": "member\thank"}

    assert store.ok("user", "set-role", "hank", "admin").strip() == "hank is now admin"
    assert store.users()["hank"] == "admin\thank"
    assert "no user named 'nobody'" in store.fails("user", "set-role", "nobody", "admin")
    assert "invalid choice" in store.fails("user", "set-role", "hank", "owner", code=2)

    out = store.ok("user", "delete", "hank")
    assert "hank deactivated" in out and "data is kept" in out
    assert store.users() == {"gina": "superadmin\tGina G"}
    assert store.users("--all") == {"gina": "superadmin\tGina G",
                                     "hank": "admin\thank (deactivated)"}
    assert "no user named 'nobody'" in store.fails("user", "delete", "nobody")


def test_passwd_for_unknown_user(store: Store) -> None:
    assert "no user named 'ghost'" in store.fails("user", "passwd", "ghost", password="pw")


# Against a running server ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path: Path) -> Iterator[tuple[Store, Server]]:
    """A store and a server running on it."""
    for backend in make_backend(request.param, tmp_path):
        srv = start_server(tmp_path, backend.url, backend.name)
        try:
            yield Store(tmp_path, backend.url, backend.name), srv
        finally:
            stop_server(srv)


def principal_status(srv: Server, user: str, password: str) -> int:
    client = srv.client(user, password)
    try:
        return client.propfind(f"/dav/principals/{user}/", ["D:displayname"]).status
    finally:
        client.close()


def test_first_start_prints_how_to_create_a_super_admin(live: tuple[Store, Server]) -> None:
    store, srv = live
    log = srv.log.read_text()
    assert HINT in log and "davcontacts user add ADMIN --role superadmin" in log
    with model_db(store.url):
        assert User.select().count() == 0


def test_passwd_takes_effect_at_once(live: tuple[Store, Server]) -> None:
    """Verified credentials are cached, keyed by the stored hash: a new password works
    and the old one fails on the very next request."""
    store, srv = live
    store.ok("user", "add", "ivan", password="old password")
    client = srv.client("ivan", "old password")
    for _ in range(3):  # verified once, then from the cache, on one keep-alive connection
        assert client.propfind("/dav/principals/ivan/", ["D:displayname"]).status == 207
    assert store.ok("user", "passwd", "ivan", password="new password").strip() == (
        "password of ivan changed")
    assert client.propfind("/dav/principals/ivan/", ["D:displayname"]).status == 401
    client.close()
    assert principal_status(srv, "ivan", "old password") == 401
    assert principal_status(srv, "ivan", "new password") == 207
    assert stored_hash(store, "ivan").startswith("scrypt$")


def test_passwd_on_a_terminal(live: tuple[Store, Server]) -> None:
    store, srv = live
    store.ok("user", "add", "judy", password="before")
    assert principal_status(srv, "judy", "before") == 207
    code, output = run_on_terminal(store, ["user", "passwd", "judy"],
                                   [("Password for judy:", "after"), ("Repeat:", "after")])
    assert code == 0, output
    assert principal_status(srv, "judy", "before") == 401
    assert principal_status(srv, "judy", "after") == 207


def test_deleted_user_gets_401_and_their_data_stays(live: tuple[Store, Server]) -> None:
    store, srv = live
    store.ok("user", "add", "kate", password="kate pw")
    client = srv.client("kate", "kate pw")
    card = make_card("kate-card-1", "Kim Keeper")
    assert client.put_card("/dav/addressbooks/kate/personal/k1.vcf", card).status == 201
    store.ok("user", "delete", "kate")
    assert client.request("GET", "/dav/addressbooks/kate/personal/k1.vcf").status == 401
    client.close()
    assert principal_status(srv, "kate", "kate pw") == 401
    with model_db(store.url):
        user = User.get(User.username == "kate")
        assert not user.active
        book = AddressBook.get(AddressBook.owner_user == user)
        contact = Contact.get(Contact.book == book)
        assert contact.state == "active" and "Kim Keeper" in contact.vcard


# Configuration ---------------------------------------------------------------------------


def config_store(store: Store, data_dir: Path) -> tuple[Store, str]:
    """A store in `data_dir` (on PostgreSQL: the same schema) and the TOML naming it."""
    text = f'[storage]\ndata_dir = "{data_dir}"\n'
    if store.backend == "postgresql":
        text += f'database_url = "{store.url}"\n'
        return Store(data_dir, store.url, store.backend), text
    return Store(data_dir, f"sqlite:///{data_dir}/davcontacts.sqlite3", "sqlite"), text


def test_config_file_option(store: Store) -> None:
    """--config names a TOML file; every command reads it."""
    target, text = config_store(store, store.data_dir / "from-config")
    config = store.data_dir / "davcontacts.toml"
    config.write_text(text + "[auth]\nscrypt_n = 1024\n")
    out = store.ok("init", "--config", str(config), bind=False)
    assert f"schema version {SCHEMA_VERSION}" in out
    store.ok("user", "add", "liam", "--config", str(config), password="pw", bind=False)
    assert store.ok("user", "list", "--config", str(config), bind=False) == "liam\tmember\tliam\n"
    assert stored_hash(target, "liam").startswith("scrypt$1024$")  # [auth] was read too
    if store.backend == "sqlite":
        assert (target.data_dir / "davcontacts.sqlite3").is_file()
        assert not (store.data_dir / "davcontacts.sqlite3").exists()
        # --data-dir on the command line wins over the file
        store.ok("init", "--config", str(config))
        assert (store.data_dir / "davcontacts.sqlite3").is_file()
        assert store.ok("user", "list", "--config", str(config)) == ""


def test_config_from_environment(store: Store) -> None:
    """DAVCONTACTS_CONFIG names the file when --config is not given."""
    target, text = config_store(store, store.data_dir / "from-env")
    config = store.data_dir / "env.toml"
    config.write_text(text)
    env = {"DAVCONTACTS_CONFIG": str(config)}
    store.ok("user", "add", "mia", password="pw", env=env, bind=False)
    assert store.ok("user", "list", env=env, bind=False) == "mia\tmember\tmia\n"
    assert stored_hash(target, "mia").startswith("scrypt$")


BAD_CONFIGS = [
    ("[server]\nbogus = 1\n", "server.bogus"),
    ("[server]\nport = \"eighty\"\n", "server.port"),
    ("[auth]\nscrypt_n = 1000\n", "auth.scrypt_n"),
    ("[logging]\nlevel = \"loud\"\n", "logging.level"),
    ("[nosuchsection]\nx = 1\n", "nosuchsection"),
]


@pytest.mark.parametrize(("text", "key"), BAD_CONFIGS)
@pytest.mark.parametrize("command", ["init", "user list", "serve"])
def test_bad_config_stops_with_the_key_named(tmp_path: Path, text: str, key: str,
                                             command: str) -> None:
    """A bad file, named by --config or DAVCONTACTS_CONFIG, stops every command before
    it touches the database, with the key and the file named; `serve` does not start."""
    store = Store(tmp_path / "data", "", "sqlite")
    config = tmp_path / "bad.toml"
    config.write_text(text)
    port = free_port()
    args = command.split() + (["--port", str(port)] if command == "serve" else [])
    for how in ({"args": ["--config", str(config)]}, {"env": {"DAVCONTACTS_CONFIG": str(config)}}):
        err = store.fails(*args, *how.get("args", []), env=how.get("env"), code=2, timeout=30)
        assert "configuration error" in err and key in err and str(config) in err
    assert not store.data_dir.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_serve_reads_host_port_and_data_dir_from_the_environment(tmp_path: Path) -> None:
    store = Store(tmp_path, "", "sqlite")
    port = free_port()
    env = store.env(DAVCONTACTS_HOST="127.0.0.1", DAVCONTACTS_PORT=str(port),
                    DAVCONTACTS_DATA_DIR=str(tmp_path / "env-data"))
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "davcontacts", "serve"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    srv = Server(f"http://127.0.0.1:{port}", port, tmp_path / "env-data", "", "sqlite",
                 proc, log)
    try:
        wait_for_port(port, proc, log)  # the port and host from the environment
        assert (tmp_path / "env-data" / "davcontacts.sqlite3").is_file()
    finally:
        stop_server(srv)
    assert proc.returncode == 0


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    store = Store(tmp_path, "", "sqlite")
    err = store.fails("serve", env={"DAVCONTACTS_PORT": "http"}, code=2, timeout=30)
    assert "server.port" in err and "DAVCONTACTS_PORT" in err
    assert not (tmp_path / "davcontacts.sqlite3").exists()


def test_unwritable_log_file_stops_serve_with_the_key_named(tmp_path: Path) -> None:
    store = Store(tmp_path, "", "sqlite")
    config = tmp_path / "log.toml"
    config.write_text(f'[logging]\nfile = "{tmp_path}/no/such/dir/dav.log"\n')
    port = free_port()
    err = store.fails("serve", "--port", str(port), "--config", str(config), code=2, timeout=30)
    assert "configuration error: logging.file" in err and "no/such/dir/dav.log" in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# App passwords ---------------------------------------------------------------------------


def app_password_lines(store: Store, name: str, *flags: str) -> dict[str, list[str]]:
    """`user app-password list` as {id: the other fields of its line}."""
    lines = store.ok("user", "app-password", "list", name, *flags).splitlines()
    return {line.split("\t")[0]: line.split("\t")[1:] for line in lines if line}


def test_app_password_add_use_list_and_revoke(live: tuple[Store, Server]) -> None:
    """The password is printed once (alone on stdout, for scripts), signs in over
    HTTP, survives a change of the main password, and is refused at once when revoked."""
    store, srv = live
    store.ok("user", "add", "nina", password="main password")
    result = store.run("user", "app-password", "add", "nina", "--label", "iPhone 15")
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert password.startswith("dcap_") and "\n" not in password
    public_id = password.split("_")[1]
    assert f"app password {public_id} (iPhone 15) for nina" in result.stderr
    assert "shown only now" in result.stderr
    assert password not in store.ok("user", "app-password", "list", "nina")

    (fields,) = app_password_lines(store, "nina").values()
    assert fields[0] == "iPhone 15" and fields[2] == "last used never"
    client = srv.client("nina", password)
    for _ in range(2):  # verified, then from the credential cache
        assert client.propfind("/dav/principals/nina/", ["D:displayname"]).status == 207
    assert app_password_lines(store, "nina")[public_id][2].startswith("last used 20")

    store.ok("user", "passwd", "nina", password="changed password")
    assert principal_status(srv, "nina", password) == 207
    assert principal_status(srv, "nina", "changed password") == 207

    out = store.ok("user", "app-password", "revoke", "nina", public_id)
    assert out.strip() == f"app password {public_id} (iPhone 15) of nina revoked"
    assert client.propfind("/dav/principals/nina/", ["D:displayname"]).status == 401
    client.close()
    assert principal_status(srv, "nina", password) == 401
    assert principal_status(srv, "nina", "changed password") == 207
    assert app_password_lines(store, "nina") == {}
    assert app_password_lines(store, "nina", "--all")[public_id][3].startswith("revoked 20")


def test_app_password_errors(store: Store) -> None:
    store.ok("user", "add", "oscar", password="pw")
    assert "no user named 'ghost'" in store.fails("user", "app-password", "add", "ghost",
                                                  "--label", "phone")
    assert "needs a label" in store.fails("user", "app-password", "add", "oscar",
                                          "--label", " ")
    assert "--label" in store.fails("user", "app-password", "add", "oscar", code=2)
    assert "oscar' has no app password 'abcdefgh'" in store.fails(
        "user", "app-password", "revoke", "oscar", "abcdefgh")
    first = store.ok("user", "app-password", "add", "oscar", "--label", "laptop").strip()
    second = store.ok("user", "app-password", "add", "oscar", "--label", "phone").strip()
    assert first != second
    assert [f[0] for f in app_password_lines(store, "oscar").values()] == ["laptop", "phone"]
    store.ok("user", "add", "pia", password="pw")
    # one user cannot revoke another's
    assert "has no app password" in store.fails("user", "app-password", "revoke", "pia",
                                                first.split("_")[1])
    assert len(app_password_lines(store, "oscar")) == 2
