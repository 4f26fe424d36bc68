"""Users: create (with their personal book), passwords, roles, deactivation,
authentication."""

from __future__ import annotations

import re

from ..acl.auth import CredentialCache, hash_password, verify_password
from ..errors import Conflict, InvalidInput, NotFound
from ..model import ROLES, AddressBook, Lookup, User, utcnow, write_transaction

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


_USER_BY_NAME = Lookup(User, '"username" = {p}', limit=1)


def authenticate(username: str, password: str, cache: CredentialCache | None = None) -> User | None:
    """The active user with these credentials, or None."""
    user = _USER_BY_NAME.first(username)
    if user is None or not user.active:
        return None
    if cache is not None and cache.check(username, password, user.password_hash):
        return user
    if not verify_password(password, user.password_hash):
        return None
    if cache is not None:
        cache.remember(username, password, user.password_hash)
    return user
