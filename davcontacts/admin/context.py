"""What the admin's views share: the settings taken from the configuration at start-up,
the acting user as a contacts.Actor, and the form-message helper."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, g

from ..acl.auth import ThrottlePolicy
from ..contacts.actor import Actor
from ..errors import DomainError
from ..model import User

DOOR = "admin"


@dataclass(frozen=True)
class AdminSettings:
    secret: bytes
    max_resource_size: int
    max_photo_size: int
    scrypt_n: int
    throttle: ThrottlePolicy
    trusted_proxies: tuple = ()
    max_upload: int = 16 << 20  # server.max_request_body


def settings() -> AdminSettings:
    return current_app.extensions["davcontacts"]


def user() -> User:
    """The signed-in user (every view but login runs with one)."""
    return g.user


def actor() -> Actor:
    return Actor(user=g.user, door=DOOR)


def flash_error(exc: DomainError) -> None:
    flash(exc.reason, "error")
