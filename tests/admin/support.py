"""A small browser-less client for the admin: one cookie, no redirects followed, the
CSRF token taken from the last page, multipart bodies for uploads."""

from __future__ import annotations

import http.client
import re
import uuid
from dataclasses import dataclass
from html import unescape
from urllib.parse import urlencode

from tests.conftest import TEST_PASSWORD, Server

COOKIE = "davcontacts_admin"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def token(self) -> str:
        match = _TOKEN.search(self.text)
        assert match, "no CSRF token on this page"
        return unescape(match.group(1))

    def errors(self) -> list[str]:
        return [unescape(m) for m in re.findall(r'class="field-error"[^>]*>([^<]*)<', self.text)]


class AdminClient:
    def __init__(self, server: Server):
        self.server = server
        self.cookie: str | None = None
        self.last: Page | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Page:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        hdrs = dict(headers or {})
        if self.cookie:
            hdrs["Cookie"] = f"{COOKIE}={self.cookie}"
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            page = Page(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        for value in page.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name == COOKIE:
                cookie = rest.split(";", 1)[0]
                self.cookie = cookie or None
        if "text/html" in (page.header("Content-Type") or ""):
            self.last = page
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list, *, token: bool = True) -> Page:
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if token:
            fields.append(("csrf_token", self.token()))
        body = urlencode(fields, doseq=True).encode()
        return self.request("POST", path, body,
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def post_multipart(self, path: str, fields: list[tuple[str, str]],
                       files: list[tuple[str, str, str, bytes]]) -> Page:
        boundary = uuid.uuid4().hex
        parts: list[bytes] = []
        for name, value in [*fields, ("csrf_token", self.token())]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{value}\r\n".encode())
        for name, filename, ctype, data in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                         f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
                         + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body,
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def token(self) -> str:
        if self.last is None or not _TOKEN.search(self.last.text):
            self.get("/admin/login" if self.cookie is None else "/admin/")
        assert self.last is not None
        return self.last.token()

    def login(self, username: str, password: str = TEST_PASSWORD) -> Page:
        self.get("/admin/login")
        return self.post("/admin/login", {"username": username, "password": password})


def signed_in(server: Server, username: str, password: str = TEST_PASSWORD) -> AdminClient:
    client = AdminClient(server)
    page = client.login(username, password)
    assert page.status == 302, page.text
    return client


def contact_id(page: Page) -> int:
    """The id in the Location of a redirect to a contact page."""
    match = re.search(r"/admin/contacts/(\d+)$", page.location)
    assert match, (page.status, page.location, page.errors())
    return int(match.group(1))


def new_contact(client: AdminClient, kind: str = "person", **fields) -> int:
    """Create a contact through the admin form; its id."""
    client.get(f"/admin/contacts/new?kind={kind}")
    data = [("kind", kind)]
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.append((name, item))
    return contact_id(client.post("/admin/contacts/new", data))
