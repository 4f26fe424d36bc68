"""Who you are: password hashing (scrypt), a short-lived cache of verified
credentials (so that keep-alive clients do not pay a deliberate slow hash per request),
the login throttling policy, the client address behind trusted proxies, and the
format of app passwords. Nothing here touches the database: contacts/users.py does.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import DomainError

SCHEME = "scrypt"
DEFAULT_N = 2**14
_R, _P, _DKLEN = 8, 1, 32


def hash_password(password: str, *, n: int = DEFAULT_N) -> str:
    """Hash a password as `scrypt$n$r$p$salt$hash` (base64, no padding)."""
    if not password:
        raise ValueError("empty password")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=_R, p=_P, dklen=_DKLEN,
                            maxmem=256 * 1024 * 1024)
    return "$".join((SCHEME, str(n), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored hash; False on any junk."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


class CredentialCache:
    """Remembers recently verified (user, password, stored hash) triples for `ttl`
    seconds. The key includes the stored hash (the user's, or the app password's), so
    a password change (a new hash) takes effect at once; the key is an HMAC so the
    cache never holds a password. Revoked app passwords never reach it: their row is
    read on every request."""

    def __init__(self, secret: bytes, ttl: float, max_entries: int = 10000):
        self._secret = secret
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _key(self, username: str, password: str, stored_hash: str) -> bytes:
        msg = "\x00".join((username, password, stored_hash)).encode()
        return hmac.digest(self._secret, msg, "sha256")

    def check(self, username: str, password: str, stored_hash: str) -> bool:
        """True if this exact triple was verified less than `ttl` seconds ago."""
        if self._ttl <= 0:
            return False
        key = self._key(username, password, stored_hash)
        with self._lock:
            expiry = self._entries.get(key)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._entries[key]
                return False
            return True

    def remember(self, username: str, password: str, stored_hash: str) -> None:
        if self._ttl <= 0:
            return
        key = self._key(username, password, stored_hash)
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {k: v for k, v in self._entries.items() if v > now}
                if len(self._entries) >= self._max:
                    self._entries.clear()
            self._entries[key] = now + self._ttl


# Login throttling ------------------------------------------------------------------------


class LoginThrottled(DomainError):
    """Too many failed logins from this address, or for this user name: refused
    without a password check until `retry_after` seconds have passed (RFC 6585 §4)."""

    status = 429

    def __init__(self, retry_after: float, *, scope: str):
        self.retry_after = max(1, math.ceil(retry_after))
        self.scope = scope  # "address" or "user"
        super().__init__(f"too many failed logins; try again in {self.retry_after} seconds")


@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed logins are counted and for how long they lock (config [auth])."""

    enabled: bool = True
    window_seconds: int = 300
    address_failures: int = 10
    user_failures: int = 30
    lockout_cap_seconds: int = 3600

    @classmethod
    def from_config(cls, auth) -> ThrottlePolicy:
        """From the [auth] section of the configuration (config.AuthConfig)."""
        return cls(enabled=auth.throttle, window_seconds=auth.throttle_window_seconds,
                   address_failures=auth.throttle_address_failures,
                   user_failures=auth.throttle_user_failures,
                   lockout_cap_seconds=auth.throttle_lockout_cap_seconds)

    def lockout_seconds(self, strikes: int) -> int:
        """The n-th lockout in a row lasts window × 2^(n-1), never more than the cap."""
        return min(self.window_seconds * 2 ** min(max(strikes, 1) - 1, 30),
                   self.lockout_cap_seconds)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Configured proxy addresses and networks ("10.0.0.1", "fd00::/8")."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:192.0.2.1 is 192.0.2.1
    return mapped or ip


def client_address(environ: Mapping[str, str], trusted: Iterable[Network] = ()) -> str:
    """The address of the client of a WSGI request: REMOTE_ADDR, or, when that is a
    trusted proxy, the X-Forwarded-For entry it added. The header is read from the
    right (each proxy appends the address it saw), stepping back only through trusted
    proxies, so a client cannot choose its address by sending the header itself."""
    remote = environ.get("REMOTE_ADDR", "") or ""
    trusted = tuple(trusted)
    current = _ip(remote)
    if current is None or not trusted:
        return str(current) if current is not None else remote
    hops = [hop for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not any(current in net for net in trusted):
            break
        claimed = _ip(hop)
        if claimed is None:
            break
        current = claimed
    return str(current)


@functools.lru_cache(maxsize=4096)
def address_key(address: str) -> str:
    """What failures are counted against: an IPv4 address, or the /64 of an IPv6 one
    (one customer's prefix, in which an attacker could pick any address)."""
    ip = _ip(address)
    if ip is None:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# App passwords ---------------------------------------------------------------------------

APP_PASSWORD_PREFIX = "dcap"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_PUBLIC_LEN, _SECRET_LEN = 8, 26  # 40 bits to find the row, 130 bits of secret
_APP_PASSWORD = re.compile(
    rf"^{APP_PASSWORD_PREFIX}_([{_BASE32}]{{{_PUBLIC_LEN}}})_([{_BASE32}]{{{_SECRET_LEN}}})$")


def _random_base32(length: int) -> str:
    return "".join(secrets.choice(_BASE32) for _ in range(length))


def new_app_password() -> tuple[str, str]:
    """A fresh (public id, password): the password is `dcap_<public id>_<secret>`, so
    the server finds its row by the public id instead of trying every hash."""
    public_id = _random_base32(_PUBLIC_LEN)
    return public_id, f"{APP_PASSWORD_PREFIX}_{public_id}_{_random_base32(_SECRET_LEN)}"


def app_password_id(password: str) -> str | None:
    """The public id of something shaped like an app password, else None."""
    match = _APP_PASSWORD.match(password)
    return match.group(1) if match else None
