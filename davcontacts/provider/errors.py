"""Map domain errors to WsgiDAV's DAVError: status plus the RFC precondition."""

from __future__ import annotations

from wsgidav.dav_error import DAVError, DAVErrorCondition

from ..errors import DomainError, UidConflict


def to_dav_error(exc: DomainError, conflict_href: str | None = None) -> DAVError:
    """The DAVError for a domain error. `conflict_href`: for no-uid-conflict, the
    href of the card that holds the UID (RFC 6352 §6.3.2.1)."""
    condition = exc.condition
    if isinstance(exc, UidConflict) and condition:
        cond = DAVErrorCondition(condition)
        if conflict_href:
            cond.hrefs.append(conflict_href)
        return DAVError(exc.status, exc.reason, err_condition=cond)
    return DAVError(exc.status, exc.reason, err_condition=condition)
