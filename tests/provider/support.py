"""Helpers shared by the provider tests: the model rows behind a card, a multiget,
PROPPATCH, and raw HTTP for what http.client will not send."""

from __future__ import annotations

import socket

from davcontacts.model import AddressBook, Change, Contact, Revision, User
from tests.conftest import model_db

CARDDAV = "urn:ietf:params:xml:ns:carddav"
CS = "http://calendarserver.org/ns/"


def etag_header(r) -> str:
    """The ETag header, checked to be strong and quoted."""
    etag = r.header("ETag")
    assert etag, f"no ETag header on {r.status}"
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), etag
    return etag


def ctag(dav, book: str) -> str:
    """The book's getctag, checked to equal its sync-token."""
    r = dav.propfind(book, ["CS:getctag", "D:sync-token"])
    assert r.status == 207
    value = r.prop(book, "CS:getctag").text
    assert r.prop(book, "D:sync-token").text == value
    return value


def multiget(dav, book: str, hrefs: list[str], depth: str | None = "1",
             props: str = "<D:getetag/><C:address-data/>"):
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}">'
            f"<D:prop>{props}</D:prop>"
            + "".join(f"<D:href>{h}</D:href>" for h in hrefs)
            + "</C:addressbook-multiget>")
    return dav.report(book, body, depth=depth)


def proppatch(dav, path: str, set_xml: str = "", remove_xml: str = "", ns: str = ""):
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            f'<D:propertyupdate xmlns:D="DAV:" xmlns:C="{CARDDAV}" xmlns:CS="{CS}" {ns}>'
            + (f"<D:set><D:prop>{set_xml}</D:prop></D:set>" if set_xml else "")
            + (f"<D:remove><D:prop>{remove_xml}</D:prop></D:remove>" if remove_xml else "")
            + "</D:propertyupdate>")
    return dav.request("PROPPATCH", path, body, {"Content-Type": "application/xml"})


def book_row(server, user: str, slug: str = "personal") -> AddressBook:
    with model_db(server.database_url):
        return (AddressBook.select().join(User, on=(AddressBook.owner_user == User.id))
                .where((User.username == user) & (AddressBook.slug == slug)).get())


def stored(server, user: str, name: str) -> dict:
    """What the database holds for one resource name of the personal book: its
    Contact rows (any state), their Revisions and its Change log entries."""
    book_id = book_row(server, user).id
    with model_db(server.database_url):
        contacts = list(Contact.select().where((Contact.book == book_id) & (Contact.name == name))
                        .order_by(Contact.id))
        revisions = list(Revision.select().where(Revision.contact.in_([c.id for c in contacts]))
                         .order_by(Revision.id)) if contacts else []
        changes = list(Change.select().where((Change.book == book_id) & (Change.name == name))
                       .order_by(Change.id))
    return {"contacts": contacts, "revisions": revisions, "changes": changes}


def counts(server, user: str, name: str) -> dict[str, int]:
    return {k: len(v) for k, v in stored(server, user, name).items()}


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body


def read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[RawResponse, bytes]:
    """One HTTP/1.1 response with a Content-Length from `sock`; returns it and any
    bytes read past it."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed inside the headers: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    assert "content-length" in headers, headers
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"body ended after {len(rest)} of {length} bytes: {rest!r}")
        rest += chunk
    return RawResponse(status, headers, rest[:length]), rest[length:]


def raw_request(port: int, request: bytes, timeout: float = 30) -> tuple[RawResponse, bytes]:
    """Send bytes exactly as given; return the first response and whatever followed
    it until the server closed the connection (nothing, for a correct server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        resp, extra = read_response(sock)
        if resp.headers.get("connection", "").lower() == "close":
            while chunk := sock.recv(65536):
                extra += chunk
        return resp, extra
