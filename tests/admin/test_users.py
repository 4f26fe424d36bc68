"""Users and groups pages (admins and super admins), checked from outside: what a
created or changed account can then do over DAV and in the admin."""

from __future__ import annotations

import uuid

from tests.admin.support import AdminClient, signed_in
from tests.conftest import TEST_PASSWORD, Server


def dav_login_status(server: Server, username: str, password: str = TEST_PASSWORD) -> int:
    client = server.client(username, password)
    try:
        return client.propfind(f"/dav/addressbooks/{username}/", ["D:displayname"]).status
    finally:
        client.close()


def home_books(server: Server, username: str) -> set[str]:
    client = server.client(username)
    try:
        resp = client.propfind(f"/dav/addressbooks/{username}/", ["D:resourcetype"], depth="1")
    finally:
        client.close()
    return {href.rstrip("/").rsplit("/", 1)[1] for href in resp.responses()} - {username}


def test_admin_creates_and_manages_a_user(server: Server) -> None:
    admin = signed_in(server, server.add_user(role="admin"))
    name = "new" + uuid.uuid4().hex[:8]
    page = admin.get("/admin/users/")
    assert 'value="superadmin"' not in page.text  # an admin cannot create super admins
    page = admin.post("/admin/users/", {"username": name, "display_name": "New Person",
                                        "email": "new@example.com", "role": "member",
                                        "password": "first password"})
    assert page.status == 302 and page.location == f"/admin/users/{name}"
    assert dav_login_status(server, name, "first password") == 207
    assert admin.post(f"/admin/users/{name}/password",
                      {"password": "second password"}).status == 302
    assert dav_login_status(server, name, "second password") == 207
    assert dav_login_status(server, name, "first password") == 401
    assert admin.post(f"/admin/users/{name}/role", {"role": "admin"}).status == 302
    assert "badge-role\">admin" in admin.get(f"/admin/users/{name}").text
    assert admin.post(f"/admin/users/{name}/deactivate", {}).status == 302
    assert dav_login_status(server, name, "second password") == 401
    assert AdminClient(server).login(name, "second password").status == 401
    assert admin.post(f"/admin/users/{name}/reactivate", {}).status == 302
    assert AdminClient(server).login(name, "second password").status == 302


def test_user_form_errors_are_shown(server: Server) -> None:
    admin = signed_in(server, server.add_user(role="admin"))
    admin.get("/admin/users/")
    page = admin.post("/admin/users/", {"username": "bad name!", "password": "x",
                                        "role": "member"})
    assert page.status == 400 and "invalid user name" in page.text
    existing = server.add_user()
    page = admin.post("/admin/users/", {"username": existing, "password": "x",
                                        "role": "member"})
    assert page.status == 400 and "already exists" in page.text


def test_only_super_admins_touch_super_admins(server: Server) -> None:
    admin_name = server.add_user(role="admin")
    root = server.add_user(role="superadmin")
    admin = signed_in(server, admin_name)
    admin.get("/admin/users/")
    assert admin.post(f"/admin/users/{root}/deactivate", {}).status == 403
    assert admin.post(f"/admin/users/{root}/password", {"password": "hijack"}).status == 403
    member = server.add_user()
    assert admin.post(f"/admin/users/{member}/role", {"role": "superadmin"}).status == 403
    assert admin.post(f"/admin/users/{admin_name}/role", {"role": "member"}).status == 403
    assert dav_login_status(server, root) == 207
    boss = signed_in(server, root)
    boss.get("/admin/users/")
    assert boss.post(f"/admin/users/{member}/role", {"role": "superadmin"}).status == 302


def test_groups_and_memberships(server: Server) -> None:
    admin = signed_in(server, server.add_user(role="admin"))
    member = server.add_user()
    group = "team" + uuid.uuid4().hex[:6]
    admin.get("/admin/groups/")
    page = admin.post("/admin/groups/", {"name": group, "display_name": "The Team"})
    assert page.status == 302 and page.location == f"/admin/groups/{group}"
    admin.get(f"/admin/groups/{group}")
    assert admin.post(f"/admin/groups/{group}/members",
                      {"username": member, "access": "read"}).status == 302
    assert f"group-{group}" in home_books(server, member)
    page = admin.get(f"/admin/groups/{group}")
    assert member in page.text and '<option value="read" selected>' in page.text
    # read access: the member's writes to the group book are refused over DAV
    dav = server.client(member)
    try:
        card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g1\r\nFN:G One\r\nEND:VCARD\r\n")
        href = f"/dav/addressbooks/{member}/group-{group}/g1.vcf"
        assert dav.put_card(href, card).status == 403
        admin.post(f"/admin/groups/{group}/members", {"username": member, "access": "write"})
        assert dav.put_card(href, card).status == 201
    finally:
        dav.close()
    page = admin.post(f"/admin/groups/{group}/delete", {})
    assert page.location == f"/admin/groups/{group}"  # it owns a contact: refused, said why
    assert "still owns contacts" in admin.get(page.location).text
    assert admin.post(f"/admin/groups/{group}/members/{member}/remove", {}).status == 302
    assert f"group-{group}" not in home_books(server, member)
    empty = "empty" + uuid.uuid4().hex[:6]
    admin.post("/admin/groups/", {"name": empty})
    assert admin.post(f"/admin/groups/{empty}/delete", {}).location == "/admin/groups/"
    assert admin.get(f"/admin/groups/{empty}").status == 404
