"""Domain errors, raised in the core and mapped to HTTP once per front end.

The DAV side turns each into a status plus an RFC precondition element; the admin
turns each into a message on the form. Nothing below the front ends knows HTTP.
"""

from __future__ import annotations

# XML namespaces of the precondition elements (kept here, not in provider/, because
# the core names the condition it violated).
DAV_NS = "DAV:"
CARDDAV_NS = "urn:ietf:params:xml:ns:carddav"


class DomainError(Exception):
    """Base class: a request the core refused, with a human-readable reason."""

    status = 400

    def __init__(self, reason: str = "", *, condition: str | None = None):
        super().__init__(reason or self.__class__.__name__)
        self.reason = reason or self.__class__.__name__
        # Clark-notation name of the RFC precondition/postcondition, e.g.
        # "{urn:ietf:params:xml:ns:carddav}valid-address-data".
        self.condition = condition


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """The ACL said no (RFC 3744 §7.1.1 DAV:need-privileges)."""

    status = 403

    def __init__(self, reason: str = "insufficient privileges", *, condition: str | None = None):
        super().__init__(reason, condition=condition or "{DAV:}need-privileges")


class InvalidCard(DomainError):
    """The body is not one acceptable vCard (RFC 6352 §6.3.2.1 preconditions)."""

    status = 403

    def __init__(self, reason: str, *, condition: str = "valid-address-data"):
        super().__init__(reason, condition="{%s}%s" % (CARDDAV_NS, condition))


class UnsupportedCard(InvalidCard):
    """A vCard version or media type the server does not store."""

    def __init__(self, reason: str):
        super().__init__(reason, condition="supported-address-data")


class TooLarge(InvalidCard):
    """The resource is larger than max-resource-size (RFC 6352 §6.3.2.1)."""

    def __init__(self, reason: str):
        super().__init__(reason, condition="max-resource-size")


class UidConflict(DomainError):
    """Another card of the same book has this UID (RFC 6352 no-uid-conflict)."""

    status = 409

    def __init__(self, reason: str, *, existing_name: str, book_id: int):
        super().__init__(reason, condition="{%s}no-uid-conflict" % CARDDAV_NS)
        self.existing_name = existing_name
        self.book_id = book_id


class PreconditionFailed(DomainError):
    """An If-Match / If-None-Match (or the compare-and-swap behind it) failed."""

    status = 412


class Conflict(DomainError):
    """The target's parent is missing, or a name is already taken."""

    status = 409


class InvalidInput(DomainError):
    """A value the core cannot accept (a bad name, an unknown role, …)."""

    status = 400
