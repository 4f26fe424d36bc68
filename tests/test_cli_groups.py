"""`davcontacts group …` against the real database of a running server."""

import uuid

from tests.davclient import make_card


def test_group_commands(server):
    name = "team" + uuid.uuid4().hex[:6]
    user = server.add_user()
    assert "created group" in server.cli("group", "add", name, "--display-name", "Team").stdout
    assert server.cli("group", "add", name, check=False).returncode == 1
    out = server.cli("group", "add-member", name, user, "--access", "read").stdout
    assert "read access" in out
    listing = server.cli("group", "list").stdout
    assert f"{name}\tTeam\t{user} (read)" in listing
    server.cli("group", "add-member", name, user, "--access", "write")
    assert f"{user} (write)" in server.cli("group", "list").stdout
    bad = server.cli("group", "add-member", name, "no-such-user", check=False)
    assert bad.returncode == 1 and "no user named" in bad.stderr

    # a group whose book holds contacts is not deleted
    book = f"/dav/addressbooks/{user}/group-{name}/"
    assert server.client(user).put_card(book + "c.vcf", make_card("c", "Kept")).status == 201
    refused = server.cli("group", "delete", name, check=False)
    assert refused.returncode == 1 and "still owns contacts" in refused.stderr
    assert server.client(user).request("GET", book + "c.vcf").status == 200

    server.cli("group", "remove-member", name, user)
    assert user not in server.cli("group", "list").stdout
    assert server.cli("group", "remove-member", name, user, check=False).returncode == 1

    empty = "empty" + uuid.uuid4().hex[:6]
    server.cli("group", "add", empty)
    assert "deleted group" in server.cli("group", "delete", empty).stdout
    assert empty not in server.cli("group", "list").stdout
