"""acl/policy.py's rules for accounts and listings, decided from the users alone: who
manages which account, who links accounts to contacts, who revokes app passwords, who
lists deleted contacts."""

from __future__ import annotations

import pytest

from davcontacts.acl import policy
from davcontacts.model import User


def person(uid: int, role: str, active: bool = True) -> User:
    return User(id=uid, username=f"u{uid}", role=role, active=active)


ROOT, ROOT2 = person(1, "superadmin"), person(2, "superadmin")
ADMIN, ADMIN2 = person(3, "admin"), person(4, "admin")
MEMBER, MEMBER2 = person(5, "member"), person(6, "member")
GONE = person(7, "admin", active=False)


@pytest.mark.parametrize("actor, target, role, expected", [
    (ADMIN, None, "member", True), (ADMIN, None, "admin", True),
    (ADMIN, None, "superadmin", False), (ROOT, None, "superadmin", True),
    (ADMIN, MEMBER, None, True), (ADMIN, ADMIN2, None, True), (ADMIN, ROOT, None, False),
    (ADMIN, MEMBER, "superadmin", False), (ROOT, ROOT2, None, True),
    (ROOT, MEMBER, "superadmin", True),
    (ADMIN, ADMIN, None, False), (ROOT, ROOT, "member", False),  # never oneself
    (MEMBER, MEMBER2, None, False), (MEMBER, None, "member", False),
    (GONE, MEMBER, None, False), (None, MEMBER, None, False),
])
def test_may_manage(actor, target, role, expected) -> None:
    assert policy.may_manage(actor, target, role) is expected


def test_may_link_user_one_manages_or_oneself() -> None:
    assert policy.may_link_user(ADMIN, MEMBER) and policy.may_link_user(ADMIN, ADMIN)
    assert not policy.may_link_user(ADMIN, ROOT)
    assert policy.may_link_user(ROOT, ROOT2)
    assert not policy.may_link_user(MEMBER, MEMBER) and not policy.may_link_user(GONE, MEMBER)


def test_app_passwords_are_revoked_by_their_owner_or_any_admin() -> None:
    assert policy.may_revoke_app_password(MEMBER, MEMBER)
    assert not policy.may_revoke_app_password(MEMBER, MEMBER2)
    assert policy.may_revoke_app_password(ADMIN, ROOT)  # cutting off a device grants nothing
    assert not policy.may_revoke_app_password(GONE, GONE)
    assert not policy.may_revoke_app_password(None, MEMBER)


def test_who_lists_which_states() -> None:
    for user in (ROOT, ADMIN, MEMBER):
        assert policy.may_list_state(user, "active") and policy.may_list_state(user, "archived")
        assert not policy.may_list_state(user, "gone")
    assert policy.may_list_state(ROOT, "deleted")
    assert not policy.may_list_state(ADMIN, "deleted")
    assert not policy.may_list_state(MEMBER, "deleted")


def test_staff_list_every_book_and_nobody_lists_when_signed_out() -> None:
    assert policy.listed_books(ADMIN) is None and policy.listed_books(ROOT) is None
    assert policy.listed_books(GONE) == [] and policy.listed_books(None) == []
