"""Who is acting, and through which door (DAV, admin, CLI, import)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import User


@dataclass(frozen=True)
class Actor:
    """The author of a write. `user` is None only for the local command line, which
    runs with the rights of whoever can open the database."""

    user: User | None
    door: str

    @classmethod
    def cli(cls) -> "Actor":
        return cls(user=None, door="cli")

    @property
    def is_system(self) -> bool:
        return self.user is None and self.door == "cli"
