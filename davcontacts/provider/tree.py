"""The discovery tree: root, principals, the homes collection and a user's home
(DESIGN.md URL space). A user reaches only their own principal and home."""

from __future__ import annotations

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection

from ..acl import policy
from ..contacts import files as file_ops
from ..contacts.actor import Actor
from . import xmlns
from .base import LivePropertiesMixin, domain_call, live_property


def dav_actor(res) -> Actor:
    return Actor(user=res.ctx.user, door="dav")


class ReadOnlyCollection(LivePropertiesMixin, DAVCollection):
    """A structural collection: listed, never written through plain WebDAV."""

    RESOURCETYPE = (xmlns.dav("collection"),)

    def privileges(self):
        return policy.READ_PRIVILEGES

    def create_empty_resource(self, name):
        raise DAVError(403, "this collection is not writable")

    def create_collection(self, name):
        raise DAVError(403, "this collection is not writable")

    def handle_delete(self):
        raise DAVError(403, "this collection cannot be deleted")

    def handle_move(self, dest_path):
        raise DAVError(403, "this collection cannot be moved")

    def handle_copy(self, dest_path, *, depth_infinity):
        raise DAVError(403, "this collection cannot be copied")

    def support_recursive_delete(self):
        return False

    def get_etag(self):
        return None

    def support_etag(self):
        return False

    def prevent_locking(self):
        return True


class Root(ReadOnlyCollection):
    def get_member_names(self):
        return ["principals", "addressbooks"]

    def get_member(self, name):
        return self.provider.get_resource_inst(f"/{name}/", self.environ)

    def get_display_name(self):
        return "davcontacts"


class PrincipalsCollection(ReadOnlyCollection):
    LIVE_PROPERTIES = (xmlns.SUPPORTED_REPORT_SET,)

    def get_member_names(self):
        return [self.ctx.user.username]

    def get_member(self, name):
        return self.provider.get_resource_inst(f"/principals/{name}/", self.environ)

    def get_display_name(self):
        return "principals"


@live_property(xmlns.PRINCIPAL_URL)
def _principal_url(res):
    return xmlns.href_element(xmlns.PRINCIPAL_URL, res.ctx.href(res.ctx.principal_path))


@live_property(xmlns.ADDRESSBOOK_HOME_SET)
def _home_set(res):
    return xmlns.href_element(xmlns.ADDRESSBOOK_HOME_SET, res.ctx.href(res.ctx.home_path))


@live_property(xmlns.GROUP_MEMBERSHIP)
def _group_membership(res):
    return xmlns.href_element(xmlns.GROUP_MEMBERSHIP)


class Principal(ReadOnlyCollection):
    """`/principals/<user>/` (RFC 3744 §2, RFC 6352 §7.1.1)."""

    RESOURCETYPE = (xmlns.dav("collection"), xmlns.dav("principal"))
    LIVE_PROPERTIES = (xmlns.PRINCIPAL_URL, xmlns.ADDRESSBOOK_HOME_SET, xmlns.GROUP_MEMBERSHIP,
                       xmlns.SUPPORTED_REPORT_SET)

    def get_member_names(self):
        return []

    def get_display_name(self):
        return self.ctx.user.display_name or self.ctx.user.username


class HomesCollection(ReadOnlyCollection):
    def get_member_names(self):
        return [self.ctx.user.username]

    def get_member(self, name):
        return self.provider.get_resource_inst(f"/addressbooks/{name}/", self.environ)

    def get_display_name(self):
        return "addressbooks"


class Home(LivePropertiesMixin, DAVCollection):
    """`/addressbooks/<user>/`: the user's books, their groups' books, and plain
    WebDAV collections and files (MKCOL without a body makes a plain collection;
    an extended MKCOL naming addressbook makes a book)."""

    RESOURCETYPE = (xmlns.dav("collection"),)

    def get_display_name(self):
        return f"{self.ctx.user.display_name or self.ctx.user.username}'s address books"

    def get_etag(self):
        return None

    def support_etag(self):
        return False

    def get_member_list(self):
        from .books import Book
        from .files import plain_resource
        base = self.ctx.home_path
        out = [Book(base + vb.segment + "/", self.environ, vb)
               for vb in policy.visible_books(self.ctx.user)]
        rows = file_ops.children(self.ctx.user.id, "")
        out += [plain_resource(self.environ, row) for row in rows]
        return out

    def get_member_names(self):
        return [m.name for m in self.get_member_list()]

    def get_member(self, name):
        return self.provider.get_resource_inst(self.ctx.home_path + name, self.environ)

    def create_collection(self, name):
        domain_call(file_ops.make_collection, dav_actor(self), self.ctx.user, name)
        self.ctx.invalidate()

    def create_empty_resource(self, name):
        from .files import PendingFile
        return PendingFile(self.ctx.home_path + name, self.environ, name)

    def support_recursive_delete(self):
        return False

    def handle_delete(self):
        raise DAVError(403, "a home cannot be deleted")

    def handle_move(self, dest_path):
        raise DAVError(403, "a home cannot be moved")

    def handle_copy(self, dest_path, *, depth_infinity):
        raise DAVError(403, "a home cannot be copied")
