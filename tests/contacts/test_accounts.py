"""The model API behind the admin's account features, on SQLite and PostgreSQL: logins
without app passwords, user links (create a user from a contact, link, unlink),
client and supplier numbers, user-name suggestions, and uploads waiting for import."""

from __future__ import annotations

import datetime as _dt
import uuid

import pytest

from davcontacts.acl.auth import ThrottlePolicy
from davcontacts.contacts import records, uploads
from davcontacts.contacts.actor import Actor
from davcontacts.contacts.cards import archive_card, put_card
from davcontacts.contacts.users import (
    authenticate,
    create_app_password,
    suggest_username,
)
from davcontacts.errors import Conflict, Forbidden, InvalidInput, NotFound
from davcontacts.model import AddressBook, Contact, LoginThrottle, User
from davcontacts.model.uploads import Upload
from tests.conftest import TEST_PASSWORD, model_db


def person(username: str, fn: str, email: str = "") -> Contact:
    owner = User.get(User.username == username)
    book = AddressBook.get(AddressBook.owner_user == owner.id)
    uid = uuid.uuid4().hex
    text = f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\n"
    text += f"EMAIL:{email}\r\n" if email else ""
    return put_card(Actor.cli(), book, f"{uid}.vcf", (text + "END:VCARD\r\n").encode(),
                    max_size=1 << 20).contact


def as_user(username: str) -> Actor:
    return Actor(User.get(User.username == username), "admin")


def test_without_app_passwords_one_is_a_wrong_password_and_counted(server) -> None:
    member = server.add_user()
    policy = ThrottlePolicy(address_failures=50, user_failures=50)
    with model_db(server.database_url):
        _, app_password = create_app_password(member, "phone", scrypt_n=1024)
        address = f"198.51.100.{uuid.uuid4().int % 250}"
        assert authenticate(member, app_password, client_address=address,
                            throttle=policy).username == member
        assert authenticate(member, app_password, client_address=address, throttle=policy,
                            app_passwords=False) is None
        row = LoginThrottle.get(LoginThrottle.key == f"user:{member}")
        assert row.failures == 1
        assert authenticate(member, TEST_PASSWORD, client_address=address, throttle=policy,
                            app_passwords=False).username == member


def test_create_a_user_from_a_contact_and_unlink(server) -> None:
    admin, member = server.add_user(role="admin"), server.add_user()
    with model_db(server.database_url):
        contact = person(member, "Lena Link", "lena@link.example")
        name = suggest_username(contact.display_name, contact.email)
        assert name.startswith("lena")
        with pytest.raises(Forbidden):  # members do not create accounts
            records.create_linked_user(as_user(member), contact, name)
        with pytest.raises(Forbidden):  # admins do not create super admins
            records.create_linked_user(as_user(admin), contact, name, role="superadmin")
        user, password = records.create_linked_user(as_user(admin), contact, name,
                                                     scrypt_n=1024)
        assert len(password) >= 20 and user.role == "member"
        assert (user.display_name, user.email) == ("Lena Link", "lena@link.example")
        assert authenticate(name, password).id == user.id
        assert Contact.get_by_id(contact.id).linked_user_id == user.id
        assert suggest_username("Lena Link", "lena@link.example") != name  # now taken
        other = person(member, "Second Lena")
        with pytest.raises(Conflict):  # one contact per user
            records.link_user(as_user(admin), other, name)
        with pytest.raises(Conflict):  # and one user per contact; nothing created
            records.create_linked_user(as_user(admin), contact, "another" + name,
                                       scrypt_n=1024)
        assert User.get_or_none(User.username == "another" + name) is None
        with pytest.raises(Forbidden):
            records.unlink_user(as_user(member), contact)
        records.unlink_user(as_user(admin), contact)
        assert Contact.get_by_id(contact.id).linked_user_id is None
        assert User.get(User.username == name).active  # the account stays


def test_links_to_super_admins_and_archived_contacts_are_refused(server) -> None:
    admin, root = server.add_user(role="admin"), server.add_user(role="superadmin")
    with model_db(server.database_url):
        contact = person(admin, "Root Person")
        with pytest.raises(Forbidden):
            records.link_user(as_user(admin), contact, root)
        records.link_user(as_user(root), contact, root)
        records.unlink_user(as_user(root), contact)
        records.link_user(as_user(admin), contact, admin)  # one's own account
        archived = person(admin, "Old Person")
        archive_card(Actor.cli(), archived)
        with pytest.raises(InvalidInput):
            records.link_user(as_user(admin), Contact.get_by_id(archived.id), root)


def test_client_numbers_are_unique_per_role_and_bounded(server) -> None:
    member = server.add_user()
    with model_db(server.database_url):
        actor = as_user(member)
        first, second = person(member, "First Client"), person(member, "Second Client")
        number = "C-" + uuid.uuid4().hex[:8]
        records.assign_role(actor, first, "client", number=f"  {number} ", status="")
        assert [(a.number, a.status) for a in records.roles(first)] == [(number, "active")]
        with pytest.raises(Conflict):
            records.assign_role(actor, second, "client", number=number)
        records.assign_role(actor, second, "supplier", number=number)  # another role
        records.assign_role(actor, first, "client", number=number, status="on hold")
        with pytest.raises(InvalidInput):
            records.assign_role(actor, first, "client", number="x" * 65)
        with pytest.raises(InvalidInput):
            records.assign_role(actor, first, "client", status="s" * 33)
        with pytest.raises(NotFound):
            records.assign_role(as_user(server.add_user()), first, "client")


def test_uploads_are_their_uploaders_and_expire(server) -> None:
    alice, bob = server.add_user(), server.add_user()
    with model_db(server.database_url):
        owner = User.get(User.username == alice)
        stored = uploads.stash(owner, "C:\\Users\\alice\\contacts.CSV", "fn\r\nÄnn\r\n".encode())
        assert (stored.filename, stored.format, stored.size) == ("contacts.CSV", "csv", 10)
        assert uploads.text(uploads.load(owner, stored.token)) == "fn\r\nÄnn\r\n"
        with pytest.raises(NotFound):
            uploads.load(User.get(User.username == bob), stored.token)
        with pytest.raises(InvalidInput):
            uploads.stash(owner, "contacts.xlsx", b"PK")
        with pytest.raises(InvalidInput):
            uploads.stash(owner, "empty.vcf", b"")
        latin = uploads.stash(owner, "latin.csv", "fn\r\nÄnn\r\n".encode("latin-1"))
        with pytest.raises(InvalidInput, match="not UTF-8"):
            uploads.text(latin)
        for n in range(uploads.PER_USER + 2):
            uploads.stash(owner, f"more{n}.vcf", b"BEGIN:VCARD")
        assert Upload.select().where(Upload.user == owner.id).count() == uploads.PER_USER
        old = uploads.stash(owner, "old.vcf", b"BEGIN:VCARD")
        Upload.update(created_at=old.created_at - _dt.timedelta(hours=25)).where(
            Upload.id == old.id).execute()
        with pytest.raises(NotFound):
            uploads.load(owner, old.token)
        uploads.stash(User.get(User.username == bob), "b.vcf", b"BEGIN:VCARD")
        assert Upload.get_or_none(Upload.token == old.token) is None  # purged by the next one
