"""Accounts in the admin, over HTTP against the real server: app passwords (made on
one's account page, shown once, usable over DAV but not for the admin's login,
revoked by their owner or an admin), client and supplier roles on the contact page,
and links between contacts and system users."""

from __future__ import annotations

import re
from html import unescape

from tests.admin.support import AdminClient, new_contact, signed_in
from tests.admin.test_users import dav_login_status
from tests.conftest import Server, model_db

SECRET = re.compile(r'data-secret>([^<]+)<')


def shown_secret(text: str) -> str:
    match = SECRET.search(text)
    assert match, "no password shown on the page"
    return unescape(match.group(1))


def test_an_app_password_works_over_dav_but_not_for_the_admin(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    page = client.get("/admin/account/")
    assert page.status == 200 and "No app passwords" in page.text
    page = client.post("/admin/account/app-passwords", {"label": "Test phone"})
    assert page.status == 200
    password = shown_secret(page.text)
    assert password.startswith("dcap_") and "shown only this once" in page.text
    assert password.split("_")[2] not in (page.header("Set-Cookie") or "")
    assert password not in client.get("/admin/account/").text  # never again
    assert dav_login_status(server, member, password) == 207
    login = AdminClient(server).login(member, password)
    assert login.status == 401 and "Wrong user name or password" in login.text
    from davcontacts.model import LoginThrottle
    with model_db(server.database_url):  # counted as a failed sign-in
        assert LoginThrottle.get(LoginThrottle.key == f"user:{member}").failures >= 1
    listing = client.get("/admin/account/").text
    assert "Test phone" in listing and "never" not in listing  # last use: the PROPFIND
    public_id = password.split("_")[1]
    page = client.post(f"/admin/account/app-passwords/{public_id}/revoke", {})
    assert page.status == 302 and page.location == "/admin/account/"
    assert dav_login_status(server, member, password) == 401
    assert "No app passwords" in client.get("/admin/account/").text


def test_app_password_label_is_required_and_others_cannot_revoke(server: Server) -> None:
    alice, bob = server.add_user(), server.add_user()
    client = signed_in(server, alice)
    client.get("/admin/account/")
    page = client.post("/admin/account/app-passwords", {"label": "  "})
    assert page.status == 400 and "needs a label" in page.text
    password = shown_secret(client.post("/admin/account/app-passwords",
                                        {"label": "Alice laptop"}).text)
    public_id = password.split("_")[1]
    other = signed_in(server, bob)
    other.get("/admin/account/")
    page = other.post(f"/admin/account/app-passwords/{public_id}/revoke", {})
    assert page.status == 302  # "bob has no app password …": nothing revoked
    assert "has no app password" in other.get("/admin/account/").text
    assert other.post(f"/admin/users/{alice}/app-passwords/{public_id}/revoke",
                      {}).status == 403
    assert dav_login_status(server, alice, password) == 207
    admin = signed_in(server, server.add_user(role="admin"))
    page = admin.get(f"/admin/users/{alice}")
    assert "Alice laptop" in page.text and public_id in page.text
    page = admin.post(f"/admin/users/{alice}/app-passwords/{public_id}/revoke", {})
    assert page.status == 302
    assert dav_login_status(server, alice, password) == 401


def test_roles_on_the_contact_page(server: Server) -> None:
    member = server.add_user()
    client = signed_in(server, member)
    cid = new_contact(client, "company", fn="Role Holder Inc")
    page = client.get(f"/admin/contacts/{cid}")
    assert "Neither a client nor a supplier" in page.text and "Add a role" in page.text
    page = client.post(f"/admin/contacts/{cid}/roles", {
        "role": "client", "number": "C-4711", "status": "prospect",
        "details": "Net 30 <b>days</b>"})
    assert page.status == 302 and page.location.endswith(f"/admin/contacts/{cid}#roles")
    page = client.get(f"/admin/contacts/{cid}")
    assert "No. C-4711" in page.text and "prospect" in page.text
    assert "Net 30 &lt;b&gt;days&lt;/b&gt;" in page.text
    assert '<option value="supplier">' in page.text  # the one still free
    client.post(f"/admin/contacts/{cid}/roles", {"role": "client", "number": "C-4712",
                                                 "status": "active", "details": ""})
    assert "No. C-4712" in client.get(f"/admin/contacts/{cid}").text
    other = new_contact(client, "company", fn="Second Holder Inc")
    client.post(f"/admin/contacts/{other}/roles", {"role": "client", "number": "C-4712"})
    assert "already given to another contact" in client.get(f"/admin/contacts/{other}").text
    client.post(f"/admin/contacts/{cid}/roles/client/remove", {})
    assert "Neither a client nor a supplier" in client.get(f"/admin/contacts/{cid}").text
    stranger = signed_in(server, server.add_user())
    stranger.get("/admin/")
    assert stranger.post(f"/admin/contacts/{cid}/roles", {"role": "client"}).status == 404


def test_link_a_person_to_a_new_user_and_unlink(server: Server) -> None:
    member = server.add_user()
    admin_name = server.add_user(role="admin")
    admin = signed_in(server, admin_name)
    cid = new_contact(admin, "person", given="Una", family="Linked",
                      email_type="work", email_value="una.linked@example.com")
    page = admin.get(f"/admin/contacts/{cid}")
    assert "Create a user for this person" in page.text
    suggested = re.search(r'name="username" value="([^"]+)"', page.text).group(1)
    assert suggested.startswith("una.linked")
    assert 'value="superadmin"' not in page.text.split("Create a user")[1]
    page = admin.post(f"/admin/contacts/{cid}/user/create",
                      {"username": suggested, "role": "member", "password": ""})
    assert page.status == 200 and "Initial password" in page.text
    password = shown_secret(page.text)
    assert dav_login_status(server, suggested, password) == 207
    assert AdminClient(server).login(suggested, password).status == 302
    page = admin.get(f"/admin/contacts/{cid}")
    assert f'href="/admin/users/{suggested}"' in page.text and "Unlink" in page.text
    assert "Una Linked" in admin.get(f"/admin/users/{suggested}").text
    assert admin.post(f"/admin/contacts/{cid}/user/unlink", {}).status == 302
    assert "Create a user for this person" in admin.get(f"/admin/contacts/{cid}").text
    page = admin.post(f"/admin/contacts/{cid}/user/link", {"username": member})
    assert page.status == 302
    assert f'href="/admin/users/{member}"' in admin.get(f"/admin/contacts/{cid}").text
    from davcontacts.model import User
    with model_db(server.database_url):
        assert User.get(User.username == member).display_name == "Una Linked"
    chosen = "chosen" + suggested[-6:]
    other = new_contact(admin, "person", given="Pia", family="Chosen")
    page = admin.post(f"/admin/contacts/{other}/user/create",
                      {"username": chosen, "role": "admin", "password": "picked by admin"})
    assert page.status == 302  # a password the admin typed is not shown back
    assert dav_login_status(server, chosen, "picked by admin") == 207
    # members may not link or create accounts, even for their own contacts
    own = signed_in(server, member)
    mine = new_contact(own, "person", given="Mo", family="Member")
    assert "Create a user for this person" not in own.get(f"/admin/contacts/{mine}").text
    own.post(f"/admin/contacts/{mine}/user/create", {"username": "sneaky" + chosen[-6:],
                                                     "role": "admin", "password": "x"})
    assert "only admins" in own.get(f"/admin/contacts/{mine}").text
    assert dav_login_status(server, "sneaky" + chosen[-6:], "x") == 401
