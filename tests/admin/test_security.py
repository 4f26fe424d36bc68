"""The admin's security, over plain HTTP against the real server: login and sessions,
CSRF on every POST, the ACL by contact id, escaping, and the headers every response
carries."""

from __future__ import annotations

import http.client
import ssl
import uuid
from pathlib import Path

from tests.admin.support import AdminClient, new_contact, signed_in
from tests.conftest import Server, model_db, start_server, stop_server
from tests.davclient import make_card
from tests.test_serving import access_lines, make_certificate, wait_for_log

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def dav_put(server: Server, user: str, fn: str, extra: str = "") -> str:
    """Store a card over DAV in the user's personal book; its href."""
    uid = uuid.uuid4().hex
    href = f"/dav/addressbooks/{user}/personal/{uid}.vcf"
    client = server.client(user)
    try:
        resp = client.put_card(href, make_card(uid, fn, extra=extra))
        assert resp.status == 201, resp.text
    finally:
        client.close()
    return href


def contact_id_of(server: Server, href: str) -> int:
    from davcontacts.model import AddressBook, Contact, User
    user, book, name = href.split("/")[3:6]
    with model_db(server.database_url):
        owner = User.get(User.username == user)
        book_row = AddressBook.get((AddressBook.owner_user == owner.id)
                                   & (AddressBook.slug == book))
        return Contact.get((Contact.book == book_row.id) & (Contact.name == name)).id


def dav_status(server: Server, user: str, href: str) -> int:
    client = server.client(user)
    try:
        return client.request("GET", href).status
    finally:
        client.close()


def test_security_headers_on_every_response(server: Server) -> None:
    member = server.add_user()
    anonymous = AdminClient(server)
    admin = signed_in(server, member)
    pages = [anonymous.get("/admin/login"), anonymous.get("/admin/"),
             anonymous.get("/admin"), anonymous.get("/admin/static/admin.css"),
             admin.get("/admin/"), admin.get("/admin/contacts/999999999"),
             admin.get("/admin/users/"), admin.get("/admin/no-such-page"),
             admin.post("/admin/contacts/bulk", {"action": "delete"}, token=False)]
    assert [p.status for p in pages] == [200, 302, 301, 200, 200, 404, 403, 404, 400]
    for page in pages:
        for name, value in SECURITY_HEADERS.items():
            assert page.header(name) == value, (page.status, name)
        csp = page.header("Content-Security-Policy")
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert pages[4].header("Cache-Control") == "no-store"


def test_pages_have_no_inline_script_or_style(server: Server) -> None:
    admin = signed_in(server, server.add_user(role="admin"))
    contact = new_contact(admin, "company", fn="Inline Check Ltd")
    for path in ("/admin/", "/admin/?view=cards", f"/admin/contacts/{contact}",
                 f"/admin/contacts/{contact}/edit", "/admin/contacts/new?kind=person",
                 "/admin/users/", "/admin/groups/", "/admin/setup"):
        text = admin.get(path).text
        assert "<script>" not in text and "<style" not in text, path
        assert " style=" not in text and " onclick=" not in text, path


def test_session_cookie_is_signed_httponly_and_lax(server: Server) -> None:
    client = AdminClient(server)
    client.get("/admin/login")
    page = client.post("/admin/login", {"username": server.add_user(), "password":
                                        "correct horse battery staple"})
    assert page.status == 302
    cookie = page.header("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; set per request over TLS
    forged = AdminClient(server)
    forged.cookie = client.cookie[:-2] + ("AA" if not client.cookie.endswith("AA") else "BB")
    assert forged.get("/admin/").status == 302  # a tampered cookie is no session


def test_login_refuses_wrong_password_and_inactive_users(server: Server) -> None:
    member = server.add_user()
    client = AdminClient(server)
    page = client.login(member, "not the password")
    assert page.status == 401 and "Wrong user name or password" in page.text
    assert client.get("/admin/").status == 302
    from davcontacts.contacts.users import deactivate_user
    with model_db(server.database_url):
        deactivate_user(member)
    page = client.login(member)
    assert page.status == 401 and "deactivated" in page.text


def test_login_without_csrf_token_is_refused(server: Server) -> None:
    client = AdminClient(server)
    client.get("/admin/login")
    page = client.post("/admin/login", {"username": server.add_user(),
                                        "password": "correct horse battery staple"},
                       token=False)
    assert page.status == 400
    assert client.get("/admin/").status == 302


def test_post_without_csrf_token_changes_nothing(server: Server) -> None:
    member = server.add_user()
    href = dav_put(server, member, "Kept Contact")
    cid = contact_id_of(server, href)
    client = signed_in(server, member)
    client.get("/admin/contacts/new?kind=person")
    create = [("kind", "person"), ("given", "Never"), ("family", "Stored")]
    assert client.post("/admin/contacts/new", create, token=False).status == 400
    wrong = create + [("csrf_token", "x" * 43)]
    assert client.post("/admin/contacts/new", wrong, token=False).status == 400
    bulk = {"action": "delete", "ids": str(cid)}
    assert client.post("/admin/contacts/bulk", bulk, token=False).status == 400
    assert client.post(f"/admin/contacts/{cid}/delete", {}, token=False).status == 400
    assert client.post("/admin/logout", {}, token=False).status == 400
    assert dav_status(server, member, href) == 200
    listing = client.get("/admin/?q=Stored")
    assert "Never" not in listing.text
    assert client.get("/admin/").status == 200  # still signed in


def test_member_cannot_reach_another_members_contact(server: Server) -> None:
    alice, bob = server.add_user(), server.add_user()
    href = dav_put(server, alice, "Alice Private", "TEL:+1 555 0199")
    cid = contact_id_of(server, href)
    client = signed_in(server, bob)
    for path in (f"/admin/contacts/{cid}", f"/admin/contacts/{cid}/edit",
                 f"/admin/contacts/{cid}/photo", f"/admin/contacts/{cid}/revisions/1"):
        assert client.get(path).status == 404, path
    assert "Alice Private" not in client.get("/admin/?q=Alice").text
    assert "Alice Private" not in client.get("/admin/api/contacts?kind=person&q=Alice").text
    page = client.post("/admin/contacts/bulk", {"action": "delete", "ids": str(cid),
                                                "back": "/admin/"})
    assert page.status == 302
    assert client.post(f"/admin/contacts/{cid}/delete", {}).status == 404
    assert dav_status(server, alice, href) == 200
    owner = signed_in(server, alice)
    assert owner.get(f"/admin/contacts/{cid}").status == 200


def test_script_in_a_contact_is_rendered_as_text(server: Server) -> None:
    member = server.add_user()
    payload = "<script>alert(1)</script>"
    href = dav_put(server, member, payload,
                   "ORG:<img src=x onerror=alert(2)>\r\nNOTE:\"><svg onload=alert(3)>\r\n"
                   "CATEGORIES:<b>bold</b>")
    cid = contact_id_of(server, href)
    client = signed_in(server, member)
    for path in ("/admin/", "/admin/?view=cards", f"/admin/contacts/{cid}",
                 f"/admin/contacts/{cid}/edit", f"/admin/contacts/{cid}/revisions/1",
                 "/admin/?q=script"):
        text = client.get(path).text
        assert payload not in text and "<img src=x" not in text and "<svg" not in text, path
        assert "<b>bold" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/admin/contacts/{cid}").text
    api = client.get("/admin/api/contacts?kind=person&q=script")
    assert api.header("Content-Type").startswith("application/json")


def test_session_ends_when_the_password_is_reset(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    assert client.get("/admin/").status == 200
    from davcontacts.contacts.users import set_password
    with model_db(server.database_url):
        set_password(member, "a brand new password", scrypt_n=1024)
    assert client.get("/admin/").status == 302


def test_logout_ends_the_session(server: Server) -> None:
    client = signed_in(server, server.add_user())
    assert client.get("/admin/").status == 200
    assert client.post("/admin/logout", {}).status == 302
    assert client.get("/admin/").status == 302


def test_login_goes_back_only_inside_the_admin(server: Server) -> None:
    member = server.add_user()
    for target, expected in (("/admin/setup", "/admin/setup"),
                             ("//evil.example/admin/", "/admin/"),
                             ("https://evil.example/admin/", "/admin/"),
                             ("/dav/", "/admin/")):
        client = AdminClient(server)
        client.get("/admin/login")
        page = client.post("/admin/login", {"username": member, "next": target,
                                            "password": "correct horse battery staple"})
        assert page.status == 302 and page.location == expected, target


def test_users_and_groups_pages_are_for_admins(server: Server) -> None:
    member = signed_in(server, server.add_user())
    for path in ("/admin/users/", "/admin/groups/"):
        assert member.get(path).status == 403
    page = member.post("/admin/users/", {"username": "sneaky" + uuid.uuid4().hex[:6],
                                         "password": "pw", "role": "superadmin"})
    assert page.status == 403
    assert "/admin/users/" not in member.get("/admin/").text  # no menu entry either


def test_cookie_is_secure_over_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    config = tmp_path / "tls.toml"
    config.write_text(f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    url = f"sqlite:///{tmp_path}/davcontacts.sqlite3"
    srv = start_server(tmp_path, url, "sqlite", extra_env={"DAVCONTACTS_CONFIG": str(config)})
    try:
        wait_for_log(srv.log, f"listening on https://127.0.0.1:{srv.port}/")
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=30)
        conn.request("GET", "/admin/login")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200
        cookie = resp.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        stop_server(srv)


def test_sessions_and_tokens_work_across_worker_processes(two_workers: Server) -> None:
    """Every connection may land on another process: the session cookie and the CSRF
    token of one must be good in the other (nothing lives in one process's memory)."""
    server = two_workers
    client = signed_in(server, server.add_user())
    pids = set()
    for i in range(12):  # each request on a new connection (AdminClient closes it)
        assert client.get("/admin/").status == 200
        page = client.post("/admin/contacts/bulk", {"action": "tag", "tag": "t",
                                                    "ids": "999999999", "back": "/admin/"})
        assert page.status == 302, (i, page.status)
    for match in access_lines(server, 24):
        pids.add(match["pid"])
    assert len(pids) == 2, "the test needs both workers to answer"
