"""Hardened authentication (issue 5 item 6), over HTTP against real servers on SQLite
and PostgreSQL: failed logins throttled per client address and per user name, with
the state in the database (two processes share it); app passwords; and the schema
migration that adds their tables.

The throttled server trusts X-Forwarded-For from 127.0.0.1, so each test speaks from
addresses of its own; the limits are small and the windows short.
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from davcontacts.acl.auth import (
    LoginThrottled,
    ThrottlePolicy,
    address_key,
    app_password_id,
    client_address,
    new_app_password,
    parse_networks,
)
from davcontacts.config import ConfigError, load_config
from davcontacts.model import (
    SCHEMA_VERSION,
    AppPassword,
    LoginThrottle,
    SchemaVersion,
    User,
    database,
)
from davcontacts.model import db as dbmod
from tests.conftest import (
    TEST_PASSWORD,
    Server,
    make_backend,
    model_db,
    start_server,
    stop_server,
)
from tests.davclient import Response
from tests.model.schema_support import create_schema

WINDOW, ADDRESS_FAILURES, USER_FAILURES, CAP = 4, 3, 5, 8
THROTTLE_ENV = {
    "DAVCONTACTS_AUTH_THROTTLE_WINDOW_SECONDS": str(WINDOW),
    "DAVCONTACTS_AUTH_THROTTLE_ADDRESS_FAILURES": str(ADDRESS_FAILURES),
    "DAVCONTACTS_AUTH_THROTTLE_USER_FAILURES": str(USER_FAILURES),
    "DAVCONTACTS_AUTH_THROTTLE_LOCKOUT_CAP_SECONDS": str(CAP),
    "DAVCONTACTS_SERVER_TRUSTED_PROXIES": "127.0.0.1",
}
PROPFIND = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'
            '</D:prop></D:propfind>')
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other test has used."""
    return str(ipaddress.ip_address("10.77.0.0") + next(_addresses))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def guarded(request, tmp_path_factory) -> Iterator[Server]:
    """A server with small throttle limits, behind a 'proxy' at 127.0.0.1."""
    tmp = tmp_path_factory.mktemp(f"throttled-{request.param}")
    for backend in make_backend(request.param, tmp):
        srv = start_server(tmp, backend.url, backend.name, extra_env=THROTTLE_ENV)
        try:
            yield srv
        finally:
            stop_server(srv)


def login(srv: Server, user: str, password: str, address: str,
          forwarded: str | None = None) -> Response:
    """PROPFIND on the user's principal with these credentials, from `address` (as the
    trusted proxy reports it in X-Forwarded-For)."""
    client = srv.client(user, password)
    try:
        return client.request("PROPFIND", f"/dav/principals/{user}/", PROPFIND,
                              {"Depth": "0", "X-Forwarded-For": forwarded or address})
    finally:
        client.close()


def fail(srv: Server, user: str, address: str, times: int) -> None:
    for n in range(times):
        r = login(srv, user, f"wrong password {n}", address)
        assert r.status == 401, r.status


def assert_throttled(r: Response, limit: float = CAP) -> int:
    """A 429 with Retry-After, a plain-text body and no Basic challenge."""
    assert r.status == 429, (r.status, r.body)
    retry = int(r.header("Retry-After"))
    assert 1 <= retry <= limit
    assert r.header("Content-Type").startswith("text/plain")
    assert b"Too Many Requests" in r.body and b"try again in" in r.body
    assert r.header("WWW-Authenticate") is None
    return retry


def throttle_keys(srv: Server) -> set[str]:
    with model_db(srv.database_url):
        return {row.key for row in LoginThrottle.select()}


def add_app_password(srv: Server, user: str, label: str = "phone") -> tuple[str, str]:
    from davcontacts.contacts.users import create_app_password
    with model_db(srv.database_url):
        row, password = create_app_password(user, label, scrypt_n=1024)
    return row.public_id, password


# Throttling per address ------------------------------------------------------------------


def test_failures_lock_the_address_even_for_the_right_password(guarded: Server) -> None:
    user, other = guarded.add_user(), guarded.add_user()
    attacker, elsewhere = fresh_address(), fresh_address()
    fail(guarded, user, attacker, ADDRESS_FAILURES)
    assert_throttled(login(guarded, user, "one more guess", attacker), WINDOW)
    # refused without a check: the right password too, and for every user
    assert_throttled(login(guarded, user, TEST_PASSWORD, attacker), WINDOW)
    assert_throttled(login(guarded, other, TEST_PASSWORD, attacker), WINDOW)
    # a client cannot step out by prepending an address of its choice: the trusted
    # proxy's entry (the rightmost) is the one that counts
    assert_throttled(login(guarded, user, TEST_PASSWORD, attacker,
                           forwarded=f"{fresh_address()}, {attacker}"), WINDOW)
    # other addresses are not concerned
    assert login(guarded, user, TEST_PASSWORD, elsewhere).status == 207
    assert login(guarded, other, TEST_PASSWORD, elsewhere).status == 207


def test_the_lock_ends_after_the_window(guarded: Server) -> None:
    user = guarded.add_user()
    address = fresh_address()
    fail(guarded, user, address, ADDRESS_FAILURES)
    retry = assert_throttled(login(guarded, user, TEST_PASSWORD, address), WINDOW)
    time.sleep(retry + 0.3)
    assert login(guarded, user, TEST_PASSWORD, address).status == 207


def test_a_second_lockout_lasts_twice_as_long(guarded: Server) -> None:
    user = guarded.add_user()
    address = fresh_address()
    fail(guarded, user, address, ADDRESS_FAILURES)
    time.sleep(assert_throttled(login(guarded, user, TEST_PASSWORD, address), WINDOW) + 0.3)
    fail(guarded, user, address, ADDRESS_FAILURES)
    retry = assert_throttled(login(guarded, user, TEST_PASSWORD, address))
    assert WINDOW < retry <= min(2 * WINDOW, CAP)


def test_an_ipv6_client_is_counted_by_its_64(guarded: Server) -> None:
    """Within a /64 an attacker can take any address: the prefix is counted."""
    user = guarded.add_user()
    prefix = f"2001:db8:{next(_addresses):x}:"
    for n in range(ADDRESS_FAILURES):
        assert login(guarded, user, "wrong", f"{prefix}:{n + 1}").status == 401
    assert_throttled(login(guarded, user, TEST_PASSWORD, f"{prefix}:99"), WINDOW)
    assert login(guarded, user, TEST_PASSWORD, f"2001:db8:ffff:{next(_addresses):x}::1"
                 ).status == 207


def test_two_processes_share_the_throttle(guarded: Server, tmp_path: Path) -> None:
    """The counts live in the database: a second server on the same database (set up
    from a configuration file this time) sees the failures of the first."""
    config = tmp_path / "throttle.toml"
    config.write_text(f"[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n[auth]\n"
                      f"throttle_window_seconds = {WINDOW}\n"
                      f"throttle_address_failures = {ADDRESS_FAILURES}\n"
                      f"throttle_user_failures = {USER_FAILURES}\n"
                      f"throttle_lockout_cap_seconds = {CAP}\n")
    second = start_server(tmp_path, guarded.database_url, guarded.backend,
                          extra_env={"DAVCONTACTS_CONFIG": str(config)})
    try:
        user = guarded.add_user()
        address = fresh_address()
        fail(guarded, user, address, ADDRESS_FAILURES - 1)
        fail(second, user, address, 1)
        assert_throttled(login(guarded, user, TEST_PASSWORD, address), WINDOW)
        assert_throttled(login(second, user, TEST_PASSWORD, address), WINDOW)
        assert login(second, user, TEST_PASSWORD, fresh_address()).status == 207
    finally:
        stop_server(second)


# Throttling per user name: bounded, never a lockout of the owner ----------------------


def lock_user(srv: Server, user: str) -> tuple[str, str]:
    """Enough failures from two addresses to lock the user name; the first address
    locks itself too. Returns (locked address, address with a failure on record)."""
    first, second = fresh_address(), fresh_address()
    fail(srv, user, first, ADDRESS_FAILURES)
    fail(srv, user, second, USER_FAILURES - ADDRESS_FAILURES)
    return first, second


def test_an_attack_on_a_user_name_does_not_lock_out_its_owner(guarded: Server) -> None:
    user = guarded.add_user()
    _, app_password = add_app_password(guarded, user, "iPhone")
    locked, failed = lock_user(guarded, user)
    # a device with an app password keeps working, even from an address that failed
    assert login(guarded, user, app_password, failed).status == 207
    # the main password, unchecked, from an address that failed recently
    assert_throttled(login(guarded, user, TEST_PASSWORD, failed), WINDOW)
    # from an address without failures the owner signs in at once
    assert login(guarded, user, TEST_PASSWORD, fresh_address()).status == 207
    assert_throttled(login(guarded, user, TEST_PASSWORD, locked), WINDOW)
    # and the locks end by themselves
    time.sleep(WINDOW + 0.3)
    assert login(guarded, user, TEST_PASSWORD, failed).status == 207


def test_credentials_verified_recently_keep_working_during_an_attack(guarded: Server) -> None:
    """The owner's device was verified shortly before (the credential cache): it is
    not refused, while a guess from the same place is refused unchecked."""
    user = guarded.add_user()
    device = fresh_address()
    fail(guarded, user, device, 1)  # a typo on the device: not a clean address
    assert login(guarded, user, TEST_PASSWORD, device).status == 207
    lock_user(guarded, user)
    assert login(guarded, user, TEST_PASSWORD, device).status == 207
    assert_throttled(login(guarded, user, "a guess", device), WINDOW)


def test_success_forgets_a_users_typos_and_writes_nothing_otherwise(guarded: Server) -> None:
    user = guarded.add_user()
    address = fresh_address()
    assert login(guarded, user, TEST_PASSWORD, address).status == 207
    assert throttle_keys(guarded) & {f"user:{user}", f"address:{address}"} == set()
    fail(guarded, user, address, ADDRESS_FAILURES - 1)
    assert {f"user:{user}", f"address:{address}"} <= throttle_keys(guarded)
    assert login(guarded, user, TEST_PASSWORD, address).status == 207
    keys = throttle_keys(guarded)
    assert f"user:{user}" not in keys
    # the address keeps its count: logging in to an account of one's own between
    # guesses must not reset it
    assert f"address:{address}" in keys
    fail(guarded, user, address, 1)
    assert_throttled(login(guarded, user, TEST_PASSWORD, address), WINDOW)


def test_unknown_and_deactivated_users_are_not_counted(guarded: Server) -> None:
    """No password is checked for them, so there is no guess to count (and the old
    phone of a deactivated user does not lock out its office's address)."""
    from davcontacts.contacts.users import deactivate_user
    user = guarded.add_user()
    with model_db(guarded.database_url):
        deactivate_user(user)
    address = fresh_address()
    for _ in range(ADDRESS_FAILURES + 1):
        assert login(guarded, user, TEST_PASSWORD, address).status == 401
        assert login(guarded, "nobody-" + user, TEST_PASSWORD, address).status == 401
    assert f"address:{address}" not in throttle_keys(guarded)


def test_throttling_can_be_switched_off(tmp_path: Path) -> None:
    for backend in make_backend("sqlite", tmp_path):
        srv = start_server(tmp_path, backend.url, backend.name,
                           extra_env={**THROTTLE_ENV, "DAVCONTACTS_AUTH_THROTTLE": "off"})
        try:
            user = srv.add_user()
            address = fresh_address()
            fail(srv, user, address, ADDRESS_FAILURES + 2)
            assert login(srv, user, TEST_PASSWORD, address).status == 207
            assert throttle_keys(srv) == set()
        finally:
            stop_server(srv)


# App passwords -----------------------------------------------------------------------


def test_app_password_signs_in_and_revoking_takes_effect_at_once(guarded: Server) -> None:
    from davcontacts.contacts.users import list_app_passwords, revoke_app_password
    user = guarded.add_user()
    public_id, password = add_app_password(guarded, user, "DAVx5 on the Pixel")
    assert app_password_id(password) == public_id
    client = guarded.client(user, password)
    headers = {"Depth": "0", "X-Forwarded-For": fresh_address()}
    for _ in range(3):  # checked once, then from the credential cache
        r = client.request("PROPFIND", f"/dav/addressbooks/{user}/", PROPFIND, headers)
        assert r.status == 207
    with model_db(guarded.database_url):
        (row,) = list_app_passwords(user)
        assert (row.public_id, row.label) == (public_id, "DAVx5 on the Pixel")
        assert row.last_used_at is not None and row.revoked_at is None
        assert password not in row.password_hash and row.password_hash.startswith("scrypt$")
        revoke_app_password(user, public_id)
    # on the same keep-alive connection, whose credentials this process had cached
    r = client.request("PROPFIND", f"/dav/addressbooks/{user}/", PROPFIND, headers)
    assert r.status == 401
    client.close()
    assert login(guarded, user, TEST_PASSWORD, fresh_address()).status == 207
    with model_db(guarded.database_url):
        assert list_app_passwords(user) == []
        assert [r.public_id for r in list_app_passwords(user, include_revoked=True)] == [
            public_id]


def test_a_password_change_leaves_app_passwords_valid(guarded: Server) -> None:
    from davcontacts.contacts.users import set_password
    user = guarded.add_user()
    _, first = add_app_password(guarded, user, "laptop")
    _, second = add_app_password(guarded, user, "phone")
    address = fresh_address()
    assert login(guarded, user, first, address).status == 207
    with model_db(guarded.database_url):
        set_password(user, "a brand new password", scrypt_n=1024)
    assert login(guarded, user, TEST_PASSWORD, address).status == 401
    assert login(guarded, user, "a brand new password", address).status == 207
    assert login(guarded, user, first, address).status == 207
    assert login(guarded, user, second, address).status == 207


def test_an_app_password_works_for_its_own_user_only(guarded: Server) -> None:
    user, other = guarded.add_user(), guarded.add_user()
    _, password = add_app_password(guarded, user)
    address = fresh_address()
    assert login(guarded, other, password, address).status == 401
    assert login(guarded, user, password, address).status == 207
    forged = password[:-1] + ("a" if password[-1] != "a" else "b")
    assert login(guarded, user, forged, address).status == 401


def test_app_password_model_errors(guarded: Server) -> None:
    from davcontacts.contacts.users import create_app_password, revoke_app_password
    from davcontacts.errors import InvalidInput, NotFound
    user = guarded.add_user()
    with model_db(guarded.database_url):
        with pytest.raises(InvalidInput, match="label"):
            create_app_password(user, "  ", scrypt_n=1024)
        with pytest.raises(InvalidInput, match="longer than"):
            create_app_password(user, "x" * 101, scrypt_n=1024)
        with pytest.raises(NotFound):
            create_app_password("nobody-" + user, "phone", scrypt_n=1024)
        with pytest.raises(NotFound, match="no app password"):
            revoke_app_password(user, "zzzzzzzz")
        row, _ = create_app_password(user, "phone", scrypt_n=1024)
        other = guarded.add_user()
        with pytest.raises(NotFound):
            revoke_app_password(other, row.public_id)  # not theirs
        assert revoke_app_password(user, row.public_id).revoked_at is not None
        assert revoke_app_password(user, row.public_id).revoked_at is not None  # idempotent


# The model API, without HTTP: escalation and expiry on a clock of our own -------------


def test_lockouts_double_up_to_the_cap_and_are_forgotten(
        guarded: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from davcontacts.contacts import users
    policy = ThrottlePolicy(window_seconds=10, address_failures=2, user_failures=100,
                            lockout_cap_seconds=35)
    clock = [1_000_000.0]
    monkeypatch.setattr(users, "_clock", lambda: clock[0])
    name = guarded.add_user()
    address = fresh_address()

    def attempt(password: str):
        return users.authenticate(name, password, None, client_address=address,
                                  throttle=policy)

    with model_db(guarded.database_url):
        lockouts = []
        for _ in range(4):
            assert attempt("wrong") is None
            assert attempt("wrong") is None
            with pytest.raises(LoginThrottled) as info:
                attempt(TEST_PASSWORD)
            assert info.value.scope == "address" and info.value.status == 429
            lockouts.append(info.value.retry_after)
            clock[0] += info.value.retry_after
        assert lockouts == [10, 20, 35, 35]
        assert attempt(TEST_PASSWORD).username == name
        clock[0] += 35 + 10 + 1  # quiet longer than the cap: the doubling starts over
        assert attempt("wrong") is None and attempt("wrong") is None
        with pytest.raises(LoginThrottled) as info:
            attempt(TEST_PASSWORD)
        assert info.value.retry_after == 10
        clock[0] += 10_000
        attempt("wrong")  # any failure sweeps rows that expired
        assert LoginThrottle.select().where(LoginThrottle.expires_at < clock[0]).count() == 0


# Pure functions ------------------------------------------------------------------------


def test_client_address_trusts_only_configured_proxies() -> None:
    proxies = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    env = {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert client_address(env, proxies) == "203.0.113.5"  # not from a proxy: ignored
    assert client_address(env) == "203.0.113.5"
    env = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert client_address(env, proxies) == "198.51.100.1"
    assert client_address(env) == "127.0.0.1"  # no proxies configured
    # a chain of trusted proxies is walked from the right; the client's own claims
    # (left of the first untrusted hop) are never believed
    env["HTTP_X_FORWARDED_FOR"] = "1.2.3.4, 198.51.100.1, 10.1.2.3"
    assert client_address(env, proxies) == "198.51.100.1"
    env["HTTP_X_FORWARDED_FOR"] = "not-an-address"
    assert client_address(env, proxies) == "127.0.0.1"
    env["HTTP_X_FORWARDED_FOR"] = ""
    assert client_address(env, proxies) == "127.0.0.1"
    assert client_address({"REMOTE_ADDR": "::ffff:192.0.2.7"}) == "192.0.2.7"


def test_address_keys() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_key("") == ""


def test_app_password_format() -> None:
    public_id, password = new_app_password()
    assert password.startswith(f"dcap_{public_id}_") and len(password) == 4 + 1 + 8 + 1 + 26
    assert app_password_id(password) == public_id
    assert new_app_password()[1] != password
    for other in ("", TEST_PASSWORD, password + "a", password.upper(), password[:-1]):
        assert app_password_id(other) is None


def test_throttle_settings_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "auth.toml"
    path.write_text('[server]\ntrusted_proxies = ["127.0.0.1", "fd00::/8"]\n'
                    "[auth]\nthrottle = false\nthrottle_address_failures = 4\n")
    cfg = load_config(str(path), env={})
    assert cfg.server.trusted_proxies == ("127.0.0.1", "fd00::/8")
    policy = ThrottlePolicy.from_config(cfg.auth)
    assert (policy.enabled, policy.address_failures, policy.user_failures) == (False, 4, 30)
    cfg = load_config(env={"DAVCONTACTS_SERVER_TRUSTED_PROXIES": " 10.0.0.1 , 10.1.0.0/16,"})
    assert cfg.server.trusted_proxies == ("10.0.0.1", "10.1.0.0/16")
    assert load_config(env={}).server.trusted_proxies == ()
    with pytest.raises(ConfigError, match="server.trusted_proxies: expected IP addresses"):
        load_config(env={"DAVCONTACTS_SERVER_TRUSTED_PROXIES": "proxy.example.org"})
    path.write_text('[server]\ntrusted_proxies = "127.0.0.1"\n')
    with pytest.raises(ConfigError, match="expected a list of strings"):
        load_config(str(path), env={})
    with pytest.raises(ConfigError, match="auth.throttle_window_seconds"):
        load_config(env={}, overrides={"auth.throttle_window_seconds": 0})


# Migration -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_a_schema_2_database_is_migrated_to_3(backend_name: str, tmp_path: Path) -> None:
    from davcontacts.contacts.users import create_app_password, create_user
    for backend in make_backend(backend_name, tmp_path):
        old = dbmod.make_database(backend.url)
        database.initialize(old)
        try:
            with old.connection_context():
                create_schema(old, 2, leave_out=(AppPassword, LoginThrottle))
                create_user("veteran", "old password", scrypt_n=1024)
                assert dbmod.current_version(old) == 2
                assert not dbmod._has_table(old, "app_password")
        finally:
            dbmod.close_connections(old)
        db = dbmod.open_database(backend.url)
        try:
            with db.connection_context():
                assert [v.version for v in SchemaVersion.select().order_by(
                    SchemaVersion.version)] == list(range(2, SCHEMA_VERSION + 1))
                for table in ("app_password", "login_throttle"):
                    assert dbmod._has_table(db, table)
                assert User.get(User.username == "veteran").active
                row, password = create_app_password("veteran", "phone", scrypt_n=1024)
                from davcontacts.contacts.users import authenticate
                assert authenticate("veteran", password).username == "veteran"
                assert authenticate("veteran", "old password").username == "veteran"
        finally:
            dbmod.close_connections(db)
