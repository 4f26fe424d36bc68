"""What every davcontacts resource shares: the request context, live properties
answered before WsgiDAV's own getters, quoted getetag, and the bounded PUT sink."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsgidav.dav_error import DAVError

from ..errors import DomainError, TooLarge
from ..model import User
from . import xmlns
from .errors import to_dav_error

CONTEXT_KEY = "davcontacts.ctx"


@dataclass
class DavSettings:
    """The part of the configuration the DAV side needs."""

    max_resource_size: int
    max_file_size: int
    default_vcard_version: str = "stored"
    max_photo_size: int | None = None


@dataclass
class RequestContext:
    """Per-request state (never on the shared provider): the user and a resource
    cache by path, dropped after every write."""

    user: User
    settings: DavSettings
    mount: str = "/dav"
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def principal_path(self) -> str:
        return f"/principals/{self.user.username}/"

    @property
    def home_path(self) -> str:
        return f"/addressbooks/{self.user.username}/"

    def href(self, path: str) -> str:
        return xmlns.href_quote(self.mount + path)

    def invalidate(self) -> None:
        self.cache.clear()


def context(environ: dict) -> RequestContext:
    ctx = environ.get(CONTEXT_KEY)
    if ctx is None:  # authenticated requests always carry one (auth.py)
        raise DAVError(401)
    return ctx


def timestamp(value: _dt.datetime | None) -> float | None:
    if value is None:
        return None
    return value.replace(tzinfo=_dt.timezone.utc).timestamp()


# Live-property registry: name -> function(resource) returning str or an element.
PROPERTY_FUNCTIONS: dict[str, Callable[[Any], Any]] = {}


def live_property(name: str):
    def register(func):
        PROPERTY_FUNCTIONS[name] = func
        return func
    return register


@live_property(xmlns.CURRENT_USER_PRINCIPAL)
def _current_user_principal(res):
    return xmlns.href_element(xmlns.CURRENT_USER_PRINCIPAL, res.ctx.href(res.ctx.principal_path))


@live_property(xmlns.PRINCIPAL_COLLECTION_SET)
def _principal_collection_set(res):
    return xmlns.href_element(xmlns.PRINCIPAL_COLLECTION_SET, res.ctx.href("/principals/"))


@live_property(xmlns.GETETAG)
def _getetag(res):
    # WsgiDAV writes getetag unquoted; RFC 4918 §15.6 wants the quoted entity tag.
    etag = res.get_etag()
    if etag is None:
        raise DAVError(404)
    return f'"{etag}"'


@live_property(xmlns.RESOURCETYPE)
def _resourcetype(res):
    return xmlns.resourcetype(*res.RESOURCETYPE)


@live_property(xmlns.OWNER)
def _owner(res):
    return xmlns.href_element(xmlns.OWNER, res.ctx.href(res.owner_principal_path()))


@live_property(xmlns.CUPS)
def _cups(res):
    return xmlns.privilege_set(res.privileges())


class LivePropertiesMixin:
    """Answers the names in LIVE_PROPERTIES from the registry before WsgiDAV's base
    class (which quotes the URL first and does not know CardDAV, ACL or sync)."""

    LIVE_PROPERTIES: tuple[str, ...] = ()
    RESOURCETYPE: tuple[str, ...] = ()
    COMMON = (xmlns.CURRENT_USER_PRINCIPAL, xmlns.PRINCIPAL_COLLECTION_SET, xmlns.CUPS,
              xmlns.OWNER)

    @property
    def ctx(self) -> RequestContext:
        return context(self.environ)

    def owner_principal_path(self) -> str:
        return self.ctx.principal_path

    def privileges(self) -> tuple[str, ...]:
        from ..acl.policy import READ_PRIVILEGES, WRITE_PRIVILEGES
        return READ_PRIVILEGES + WRITE_PRIVILEGES

    def get_property_names(self, *, is_allprop):
        names = super().get_property_names(is_allprop=is_allprop)
        if is_allprop:
            return names
        return names + [n for n in self.LIVE_PROPERTIES + self.COMMON if n not in names]

    def get_property_value(self, name):
        if name in self.LIVE_PROPERTIES or name in self.COMMON or name in (
                xmlns.GETETAG, xmlns.RESOURCETYPE):
            func = PROPERTY_FUNCTIONS.get(name)
            if func is not None:
                return func(self)
        return super().get_property_value(name)

    def get_href(self):
        href = getattr(self, "_href", None)
        if href is None:
            href = self._href = super().get_href()
        return href

    def support_ranges(self):
        return False


def domain_call(func, *args, conflict_href: Callable[[Any], str] | None = None, **kwargs):
    """Run a core operation, turning a domain error into the matching DAVError."""
    try:
        return func(*args, **kwargs)
    except DomainError as exc:
        href = conflict_href(exc) if conflict_href else None
        raise to_dav_error(exc, href) from exc


class BoundedSink:
    """The object WsgiDAV writes a PUT body into. Deliberately only write()/close()
    (WSGIDAV.md §2.2: a writelines() would bypass the size check). `on_close`
    stores the body; errors raised there reach the client unchanged."""

    def __init__(self, limit: int, on_close: Callable[[bytes], None], *, card: bool):
        self._parts: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._on_close = on_close
        self._card = card
        self._closed = False

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            if self._card:
                raise to_dav_error(TooLarge(
                    f"the body is larger than max-resource-size ({self._limit} bytes)"))
            raise DAVError(413, f"the body is larger than {self._limit} bytes")
        self._parts.append(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(b"".join(self._parts))
