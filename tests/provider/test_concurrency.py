"""Concurrent writers: If-Match updates from several connections answer only 2xx or
412, never 5xx, and every 2xx is exactly one stored revision (compare-and-swap)."""

import threading

from davcontacts.model import AddressBook, Contact, Revision, User
from tests.conftest import model_db
from tests.davclient import make_card


def test_concurrent_if_match_updates_are_serialised(server, user):
    path = f"/dav/addressbooks/{user}/personal/race.vcf"
    first = server.client(user)
    assert first.put_card(path, make_card("race", "Race 0")).status == 201
    statuses: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        client = server.client(user)
        for i in range(15):
            etag = client.request("GET", path).header("ETag")
            r = client.put_card(path, make_card("race", f"Race {n}-{i}"), {"If-Match": etag})
            with lock:
                statuses.append(r.status)
        client.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {204, 412}, statuses
    assert statuses.count(204) >= 1
    with model_db(server.database_url):
        book = AddressBook.get((AddressBook.owner_user == User.get(User.username == user).id)
                               & (AddressBook.slug == "personal"))
        contact = Contact.get((Contact.book == book.id) & (Contact.name_key == "race.vcf"))
        revisions = Revision.select().where(Revision.contact == contact.id).count()
    assert revisions == 1 + statuses.count(204)
    final = first.request("GET", path)
    assert final.status == 200 and final.header("ETag") == f'"{contact.etag}"'
