"""Who you are: password hashing (scrypt) and a short-lived cache of verified
credentials, so that keep-alive clients do not pay a deliberate slow hash per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

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
    seconds. The key includes the stored hash, so a password change (a new hash)
    takes effect at once; the key is an HMAC so the cache never holds a password."""

    def __init__(self, secret: bytes, ttl: float, max_entries: int = 10000):
        self._secret = secret
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _key(self, username: str, password: str, stored_hash: str) -> bytes:
        msg = "\x00".join((username, password, stored_hash)).encode()
        return hmac.new(self._secret, msg, hashlib.sha256).digest()

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
