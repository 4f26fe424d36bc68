"""Contact-group members through the model API (contacts.members): a vCard 4 group
keeps its MEMBER spelling, members resolve in the group's book in batches, and a
new group is Apple's vCard 3 form, served as KIND:group to a vCard 4 client."""

from davcontacts.contacts import members
from davcontacts.contacts.actor import Actor
from davcontacts.model import AddressBook, Contact, User
from tests.conftest import model_db
from tests.davclient import make_card

MAX = 1 << 20


def test_members_resolve_in_batches_and_keep_the_cards_spelling(server, dav, user,
                                                                 monkeypatch):
    book = f"/dav/addressbooks/{user}/personal/"
    for i in range(5):
        assert dav.put_card(f"{book}m{i}.vcf", make_card(f"m{i}", f"Member {i}")).status == 201
    group = ("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nUID:urn:uuid:g-four\r\n"
             "FN:Four\r\nMEMBER:urn:uuid:m0\r\nMEMBER:urn:uuid:m1\r\nMEMBER:urn:uuid:gone\r\n"
             "MEMBER:urn:uuid:m2\r\nEND:VCARD\r\n")
    assert dav.put_card(f"{book}g.vcf", group).status == 201
    monkeypatch.setattr(members, "LOOKUP_BATCH", 2)
    with model_db(server.database_url):
        owner = User.get(User.username == user)
        actor = Actor(owner, "admin")
        personal = AddressBook.get((AddressBook.owner_user == owner.id)
                                   & (AddressBook.slug == "personal"))
        g = Contact.get((Contact.book == personal.id) & (Contact.uid == "urn:uuid:g-four"))
        got = members.members_of(g)
        assert [m.uid for m in got] == ["m0", "m1", "gone", "m2"]
        assert [m.contact.display_name if m.contact else None for m in got] == [
            "Member 0", "Member 1", None, "Member 2"]
        m3 = Contact.get((Contact.book == g.book_id) & (Contact.uid == "m3"))
        assert members.groups_of(m3) == []
        g = members.add_member(actor, g, m3, max_size=MAX)
        assert members.groups_of(m3) == [g]
        g = members.remove_member(actor, g, "gone", max_size=MAX)
        fresh = members.create_group(actor, personal, "Fresh", max_size=MAX)
        fresh_href = f"{book}{fresh.name}"
    text = dav.request("GET", f"{book}g.vcf").text
    assert [line for line in text.split("\r\n") if line.startswith("MEMBER")] == [
        "MEMBER:urn:uuid:m0", "MEMBER:urn:uuid:m1", "MEMBER:urn:uuid:m2", "MEMBER:urn:uuid:m3"]
    assert "X-ADDRESSBOOKSERVER" not in text
    v4 = dav.request("GET", fresh_href, headers={"Accept": "text/vcard; version=4.0"}).text
    assert "KIND:group" in v4 and "FN:Fresh" in v4
    v3 = dav.request("GET", fresh_href).text
    assert "X-ADDRESSBOOKSERVER-KIND:group" in v3 and "VERSION:3.0" in v3
