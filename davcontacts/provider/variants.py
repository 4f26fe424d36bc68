"""Which vCard version a request is served (CLIENTS.md "vCard content").

A card goes out as its client wrote it unless the request asks for a version
(`Accept: text/vcard; version=4.0` on GET, `version` on REPORT address-data), the
server is configured to serve one version, or the client is Apple's, which rejects
4.0 outright. A converted variant has its own ETag (the stored one plus `-v3`/`-v4`),
and a write presenting a variant ETag is checked against the card it came from."""

from __future__ import annotations

import re

from ..vcard.convert import convert

VERSIONS = ("3.0", "4.0")
_APPLE_AGENT = re.compile(r"\b(?:iOS|macOS|Mac[ _]OS[ _]X)/|dataaccessd|AddressBook", re.I)
_ACCEPT_VERSION = re.compile(r"text/(?:x-)?vcard\s*;[^,]*?version\s*=\s*\"?([34]\.0)", re.I)


def accept_version(environ: dict) -> str | None:
    """The vCard version an Accept header asks for (the first one named), or None."""
    m = _ACCEPT_VERSION.search(environ.get("HTTP_ACCEPT", ""))
    return m.group(1) if m else None


def is_apple(environ: dict) -> bool:
    return bool(_APPLE_AGENT.search(environ.get("HTTP_USER_AGENT", "")))


def served_version(stored: str, environ: dict, default: str, asked: str | None = None) -> str:
    """The version to serve a card stored as `stored` in."""
    if asked in VERSIONS:
        return asked
    if default in VERSIONS and stored in VERSIONS:
        return default
    if stored == "4.0" and is_apple(environ):
        return "3.0"
    return stored


def variant_etag(etag: str, stored: str, served: str) -> str:
    return etag if served == stored else f"{etag}-v{served[0]}"


def variant_text(text: str, stored: str, served: str) -> str:
    return text if served == stored else convert(text, served)


def etag_matching_request(etag: str, environ: dict) -> str | None:
    """If an If-Match header names a variant of `etag`, that variant (so WsgiDAV's
    precondition check passes for a client that saw a converted card)."""
    header = environ.get("HTTP_IF_MATCH", "")
    for candidate in (f"{etag}-v3", f"{etag}-v4"):
        if f'"{candidate}"' in header:
            return candidate
    return None
