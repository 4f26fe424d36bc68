"""Users: create (with their personal book), passwords, app passwords, roles,
deactivation, and authentication with login throttling.

Throttling (docs/design-notes.md, "Accounts"): failed logins are counted in the
database per client address and per user name, so every process and machine sees
them. An address over its limit is refused outright; a user name over its limit only
refuses its password to addresses that failed recently, so an attacker cannot lock
the owner out. Locks end by themselves. A successful login writes nothing unless the
user name had failures to forget."""

from __future__ import annotations

import datetime as _dt
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass

from peewee import PostgresqlDatabase

from ..acl.auth import (
    CredentialCache,
    LoginThrottled,
    ThrottlePolicy,
    address_key,
    app_password_id,
    hash_password,
    new_app_password,
    verify_password,
)
from ..errors import Conflict, InvalidInput, NotFound
from ..model import (
    ROLES,
    AddressBook,
    AppPassword,
    LoginThrottle,
    Lookup,
    User,
    database,
    utcnow,
    write_transaction,
)

log = logging.getLogger(__name__)
_clock = time.time  # Unix seconds: the throttle rows are shared across machines

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
PERSONAL_SLUG = "personal"


def validate_username(username: str) -> None:
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            f"invalid user name {username!r}: use 1-64 letters, digits, '.', '_', '+', '-', "
            "starting with a letter or digit")


def validate_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")


def create_user(username: str, password: str, *, role: str = "member", display_name: str = "",
                email: str = "", scrypt_n: int | None = None) -> User:
    """Create a user and their `personal` address book."""
    validate_username(username)
    validate_role(role)
    if not password:
        raise InvalidInput("the password must not be empty")
    pw_hash = hash_password(password, **({"n": scrypt_n} if scrypt_n else {}))
    with write_transaction():
        if User.get_or_none(User.username == username):
            raise Conflict(f"user {username!r} already exists")
        user = User.create(username=username, password_hash=pw_hash, role=role,
                           display_name=display_name or username, email=email)
        AddressBook.create(owner_user=user, slug=PERSONAL_SLUG,
                           display_name=f"{user.display_name}'s contacts")
    return user


def suggest_username(display_name: str, email: str = "") -> str:
    """A free user name for a person: their email's local part, else their name in
    ASCII letters and dots, with a number added while it is taken."""
    local = email.partition("@")[0].lower()
    if not USERNAME_RE.match(local):
        ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore")
        local = ".".join(re.findall(r"[a-z0-9]+", ascii_name.decode().lower()))[:56] or "user"
    name, n = local, 1
    while User.select().where(User.username == name).exists():
        n += 1
        name = f"{local}{n}"
    return name


def new_password() -> str:
    """A random initial password (120 bits) for an account an admin creates."""
    return secrets.token_urlsafe(15)


def get_user(username: str) -> User:
    user = User.get_or_none(User.username == username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def set_password(username: str, password: str, *, scrypt_n: int | None = None) -> None:
    if not password:
        raise InvalidInput("the password must not be empty")
    user = get_user(username)
    user.password_hash = hash_password(password, **({"n": scrypt_n} if scrypt_n else {}))
    user.updated_at = utcnow()
    user.save()


def set_role(username: str, role: str) -> None:
    validate_role(role)
    user = get_user(username)
    user.role = role
    user.updated_at = utcnow()
    user.save()


def deactivate_user(username: str) -> None:
    """'Delete' a login: it can no longer sign in, its data stays (nothing is lost);
    a super admin can bring it back."""
    user = get_user(username)
    user.active = False
    user.updated_at = utcnow()
    user.save()


def reactivate_user(username: str) -> None:
    user = get_user(username)
    user.active = True
    user.updated_at = utcnow()
    user.save()


# App passwords ---------------------------------------------------------------------------

MAX_LABEL = 100
# last_used_at is rewritten at most this often, so that a syncing device's requests
# stay reads.
LAST_USED_RESOLUTION = _dt.timedelta(seconds=60)


def create_app_password(username: str, label: str, *,
                        scrypt_n: int | None = None) -> tuple[AppPassword, str]:
    """A new app password for one device: its row and the password, which is shown
    once and never stored (only its scrypt hash is)."""
    label = label.strip()
    if not label:
        raise InvalidInput("an app password needs a label (the device it is for)")
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"the label is longer than {MAX_LABEL} characters")
    user = get_user(username)
    for _ in range(5):  # 40-bit public ids: a clash is rare, retried
        public_id, password = new_app_password()
        if AppPassword.get_or_none(AppPassword.public_id == public_id) is None:
            break
    else:
        raise Conflict("could not find a free app password id; try again")
    pw_hash = hash_password(password, **({"n": scrypt_n} if scrypt_n else {}))
    row = AppPassword.create(user=user, public_id=public_id, label=label,
                             password_hash=pw_hash)
    return row, password


def list_app_passwords(username: str, *, include_revoked: bool = False) -> list[AppPassword]:
    """A user's app passwords, oldest first."""
    query = AppPassword.select().where(AppPassword.user == get_user(username))
    if not include_revoked:
        query = query.where(AppPassword.revoked_at.is_null())
    return list(query.order_by(AppPassword.created_at, AppPassword.id))


def revoke_app_password(username: str, public_id: str) -> AppPassword:
    """Revoke one app password; every process refuses it from the next request on
    (authentication reads its row each time)."""
    row = AppPassword.get_or_none((AppPassword.user == get_user(username))
                                  & (AppPassword.public_id == public_id))
    if row is None:
        raise NotFound(f"{username!r} has no app password {public_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        AppPassword.update(revoked_at=row.revoked_at).where(AppPassword.id == row.id).execute()
    return row


# Authentication --------------------------------------------------------------------------

_USER_BY_NAME = Lookup(User, '"username" = {p}', limit=1)
_APP_BY_PUBLIC_ID = Lookup(AppPassword, '"public_id" = {p}', limit=1)
_THROTTLE_ROWS = Lookup(LoginThrottle, '"key" IN ({p}, {p})')


def authenticate(username: str, password: str, cache: CredentialCache | None = None, *,
                 client_address: str = "", throttle: ThrottlePolicy | None = None,
                 app_passwords: bool = True) -> User | None:
    """The active user with these credentials (the main password or, unless
    `app_passwords` is False, one of their app passwords), or None. Without app
    passwords (the admin's login form: a device's password opens no session) one is
    checked, and counted, as a wrong main password. With a `throttle` policy, failures
    are counted for `client_address` and the user name, and a throttled attempt raises
    LoginThrottled before any password is checked."""
    throttling = throttle is not None and throttle.enabled
    now = _clock()
    state = _read_throttle(client_address, username, now) if throttling else _NO_STATE
    if state.address_locked_until > now:
        raise LoginThrottled(state.address_locked_until - now, scope="address")
    user = _USER_BY_NAME.first(username)
    if user is None or not user.active:
        return None  # no password is checked, so there is no guess to count
    public_id = app_password_id(password) if app_passwords else None
    app = _APP_BY_PUBLIC_ID.first(public_id) if public_id else None
    if app is not None and app.user_id != user.id:
        app = None  # someone else's id: then it can only be this user's main password
    if app is not None and app.revoked_at is not None:
        return None  # a revoked device: refused unchecked, not counted against its address
    stored_hash = app.password_hash if app is not None else user.password_hash
    if cache is None or not cache.check(username, password, stored_hash):
        if (throttling and app is None and state.user_locked_until > now
                and not state.address_clean):
            # The user name is under attack and this address failed recently: no
            # password check. Counted, so that the address soon locks itself.
            _record_failure(throttle, now, client_address, None)
            raise LoginThrottled(state.user_locked_until - now, scope="user")
        if not verify_password(password, stored_hash):
            if throttling:
                _record_failure(throttle, now, client_address, username)
            return None
        if cache is not None:
            cache.remember(username, password, stored_hash)
    if state.user_failures and state.user_locked_until <= now:
        _forget_failures(username)  # typos before: forgotten (not a running lockout)
    if app is not None:
        _touch(app)
    return user


def _touch(app: AppPassword) -> None:
    now = utcnow()
    if app.last_used_at is None or now - app.last_used_at >= LAST_USED_RESOLUTION:
        AppPassword.update(last_used_at=now).where(AppPassword.id == app.id).execute()


# Throttle state --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ThrottleState:
    address_locked_until: float = 0.0
    address_clean: bool = True  # no failure in the window, no lockout remembered
    user_locked_until: float = 0.0
    user_failures: bool = False  # a row to forget on success


_NO_STATE = _ThrottleState()


def _address_key(address: str) -> str:
    return "address:" + address_key(address)


def _user_key(username: str) -> str:
    return "user:" + username


def _read_throttle(address: str, username: str, now: float) -> _ThrottleState:
    """Both rows in one indexed query (the one cost throttling adds to a request)."""
    rows = {row.key: row for row in _THROTTLE_ROWS.all(_address_key(address),
                                                       _user_key(username))
            if row.expires_at > now}
    addr, user = rows.get(_address_key(address)), rows.get(_user_key(username))
    return _ThrottleState(
        address_locked_until=addr.locked_until if addr else 0.0,
        address_clean=addr is None or (addr.failures == 0 and addr.strikes == 0),
        user_locked_until=user.locked_until if user else 0.0,
        user_failures=user is not None)


def _record_failure(policy: ThrottlePolicy, now: float, address: str,
                    username: str | None) -> None:
    """Count one failed login against the address and, for an existing user, the
    user name; lock whichever reached its limit. Under a transaction that holds the
    rows, so that concurrent failures in several processes all count."""
    keys = [(_address_key(address), policy.address_failures)]
    if username is not None:
        keys.append((_user_key(username), policy.user_failures))
    with write_transaction():
        # Expired rows go first: after a quiet spell the doubling starts over.
        LoginThrottle.delete().where(LoginThrottle.expires_at < now).execute()
        for key, limit in keys:
            _count(policy, now, key, limit)


def _count(policy: ThrottlePolicy, now: float, key: str, limit: int) -> None:
    LoginThrottle.insert(key=key, failures=0, window_start=now,
                         expires_at=now).on_conflict_ignore().execute()
    query = LoginThrottle.select().where(LoginThrottle.key == key)
    if isinstance(database.obj, PostgresqlDatabase):
        query = query.for_update()  # SQLite: the write transaction already serialises
    row = query.get()
    if row.locked_until > now:
        return  # refused without a check; nothing more to count
    if row.window_start + policy.window_seconds <= now:
        row.failures, row.window_start = 0, now  # a new window; strikes are kept
    row.failures += 1
    if row.failures >= limit:
        row.strikes += 1
        row.locked_until = now + policy.lockout_seconds(row.strikes)
        row.failures, row.window_start = 0, now
        log.warning("login throttled: %s locked for %ds after %d failed logins",
                    key, round(row.locked_until - now), limit)
    memory = policy.lockout_cap_seconds if row.strikes else 0
    row.expires_at = max(row.window_start + policy.window_seconds, row.locked_until) + memory
    row.save()


def _forget_failures(username: str) -> None:
    LoginThrottle.delete().where(LoginThrottle.key == _user_key(username)).execute()
