"""Our RequestServer: what WsgiDAV 4.4 lacks (WSGIDAV.md §3).

REPORT (dispatched through the provider's request handler, like every method), a
DAV header that announces `addressbook`, extended MKCOL (RFC 5689), 201 for a
MOVE/COPY that creates its destination, and no Depth: infinity PROPFIND."""

from __future__ import annotations

import io
from itertools import chain

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import DAVError
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.request_server import RequestServer

from ..contacts import books as book_ops
from . import xmlns
from .base import context, domain_call
from .books import Book
from .cardget import send_card
from .guard import stream_through_guard
from .propfind import book_depth1, named_props
from .provider import CREATED_KEY
from .reports import run_report
from .tree import Home, dav_actor

DAV_HEADER = "1, 2, 3, addressbook, extended-mkcol"
# Answers up to this size go out with a Content-Length; larger ones are streamed.
STREAM_THRESHOLD = 1024 * 1024
MAX_XML_BODY = 4 * 1024 * 1024


def read_body(environ: dict, limit: int = MAX_XML_BODY) -> bytes:
    """The whole request body (the guard has made chunked bodies sized), capped."""
    length = util.get_content_length(environ)
    if length > limit:
        raise DAVError(413, f"request body larger than {limit} bytes")
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgidav.all_input_read"] = 1
    return body


def parse_body(body: bytes) -> etree._Element:
    try:
        return xmlns.parse_xml(body)
    except etree.XMLSyntaxError as exc:
        raise DAVError(400, f"malformed XML request body: {exc}") from None


def is_xml_type(content_type: str) -> bool:
    """True for an XML media type, or none given (clients often omit it)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/xml", "text/xml") or media.endswith("+xml")


def send_multistatus(environ, start_response, status: str, body) -> list[bytes]:
    """Send a report or listing. `body` is bytes or an iterator of pieces. A small
    answer goes out whole with a Content-Length; a large one is handed to the guard,
    which streams it chunked outside WsgiDAV (guard.py), so memory stays bounded and
    keep-alive holds either way."""
    environ["wsgidav.all_input_read"] = 1
    pieces = iter([body] if isinstance(body, bytes) else body)
    head: list[bytes] = []
    size = 0
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size > STREAM_THRESHOLD:
            return stream_through_guard(environ, start_response, status, chain(head, pieces))
    payload = b"".join(head)
    start_response(status, [("Content-Type", "application/xml; charset=utf-8"),
                            ("Content-Length", str(len(payload)))])
    return [payload]


class CardRequestServer(RequestServer):
    def __init__(self, provider):
        super().__init__(provider)
        self.allow_propfind_infinite = False
        if "REPORT" not in self._possible_methods:
            self._possible_methods.append("REPORT")

    def do_OPTIONS(self, environ, start_response):
        def rewrite(status, headers, exc_info=None):
            out = []
            for k, v in headers:
                if k.lower() == "dav":
                    v = DAV_HEADER
                elif k.lower() == "allow" and "PROPFIND" in v and "REPORT" not in v:
                    v += ", REPORT"
                out.append((k, v))
            return start_response(status, out, exc_info)
        return super().do_OPTIONS(environ, rewrite)

    def _safe_body(self, environ) -> etree._Element | None:
        """Read and safely parse an XML body (no entities, no DTD), then hand the same
        bytes back to WsgiDAV's own handler, whose parser we do not rely on."""
        body = read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgidav.all_input_read", None)
        return parse_body(body) if body.strip() else None

    def do_PROPFIND(self, environ, start_response):
        root = self._safe_body(environ)
        if environ.get("HTTP_DEPTH") == "1":
            names = named_props(root)
            res = self._davProvider.get_resource_inst(environ["PATH_INFO"], environ)
            if names is not None and isinstance(res, Book):
                return send_multistatus(environ, start_response, "207 Multi-Status",
                                        book_depth1(res, names, environ))
        return super().do_PROPFIND(environ, start_response)

    def do_PROPPATCH(self, environ, start_response):
        self._safe_body(environ)
        return super().do_PROPPATCH(environ, start_response)

    def do_LOCK(self, environ, start_response):
        self._safe_body(environ)
        return super().do_LOCK(environ, start_response)

    def do_DELETE(self, environ, start_response):
        # WsgiDAV 4.4 checks only the parent's locks (depth 0) before handle_delete(),
        # so a locked member was deleted without its token. RFC 4918 §9.6.1: 423, also
        # for a collection with a locked member (hence infinity).
        res = self._davProvider.get_resource_inst(environ["PATH_INFO"], environ)
        if res is not None:
            self._check_write_permission(res, "infinity", environ)
        return super().do_DELETE(environ, start_response)

    def do_REPORT(self, environ, start_response):
        res = self._davProvider.get_resource_inst(environ["PATH_INFO"], environ)
        if res is None:
            raise DAVError(404)
        root = parse_body(read_body(environ))
        status, body = run_report(res, root, environ)
        return send_multistatus(environ, start_response, status, body)

    def _copy_or_move(self, environ, start_response, is_move):
        def fix_status(status, headers, exc_info=None):
            if status.startswith("204") and environ.get(CREATED_KEY):
                status = "201 Created"
            return start_response(status, headers, exc_info)
        return super()._copy_or_move(environ, fix_status, is_move)

    def do_MKCOL(self, environ, start_response):
        if util.get_content_length(environ) == 0 and not environ.get("HTTP_TRANSFER_ENCODING"):
            return super().do_MKCOL(environ, start_response)
        return self._extended_mkcol(environ, start_response)

    def _extended_mkcol(self, environ, start_response):
        """RFC 5689: MKCOL with a body; an addressbook resourcetype makes a book."""
        provider = self._davProvider
        path = environ["PATH_INFO"]
        body = read_body(environ)
        if not is_xml_type(environ.get("CONTENT_TYPE", "")):
            # RFC 4918 §9.3: a body the server does not understand gets 415.
            raise DAVError(415, "a MKCOL body must be an XML DAV:mkcol element (RFC 5689)")
        root = parse_body(body)
        if root.tag != xmlns.dav("mkcol"):
            raise DAVError(415, "the MKCOL body must be a DAV:mkcol element")
        if provider.get_resource_inst(path, environ) is not None:
            raise DAVError(405, "MKCOL can only be executed on an unmapped URL")
        parent = provider.get_resource_inst(util.get_uri_parent(path), environ)
        if parent is None or not parent.is_collection:
            raise DAVError(409, "the parent collection does not exist")
        props = {}
        for prop in root.iterfind("{DAV:}set/{DAV:}prop/*"):
            props[prop.tag] = prop
        rtype = props.pop(xmlns.RESOURCETYPE, None)
        kinds = {child.tag for child in rtype} if rtype is not None else {xmlns.dav("collection")}
        name = util.get_uri_name(path)
        ctx = context(environ)
        if xmlns.card("addressbook") in kinds:
            if not isinstance(parent, Home):
                raise DAVError(403, "address books are created directly in your home",
                               err_condition=xmlns.card("addressbook-collection-location-ok"))
            if kinds - {xmlns.dav("collection"), xmlns.card("addressbook")}:
                raise DAVError(403, err_condition="{DAV:}valid-resourcetype")
            display = props.pop(xmlns.DISPLAYNAME, None)
            desc = props.pop(xmlns.ADDRESSBOOK_DESCRIPTION, None)
            domain_call(book_ops.create_book, dav_actor(parent), ctx.user, name,
                        display_name="".join(display.itertext()) if display is not None else "",
                        description="".join(desc.itertext()) if desc is not None else "")
        elif kinds == {xmlns.dav("collection")}:
            parent.create_collection(name)
        else:
            raise DAVError(403, err_condition="{DAV:}valid-resourcetype")
        ctx.invalidate()
        created = provider.get_resource_inst(path, environ)
        for tag, el in props.items():
            created.set_property_value(tag, el, dry_run=False)
        return util.send_status_response(environ, start_response, 201)


class CardResolver(BaseMiddleware):
    """Replaces WsgiDAV's RequestResolver (last in the stack): answers GET and HEAD
    of a card itself (cardget.py) and hands every other request to a fresh
    CardRequestServer."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)

    def __call__(self, environ, start_response):
        provider = environ["wsgidav.provider"]
        if provider is None:
            raise DAVError(404)
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            answer = send_card(provider, environ, start_response)
            if answer is not None:
                return answer
        return CardRequestServer(provider)(environ, start_response)

