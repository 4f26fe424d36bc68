"""Dead properties (PROPPATCH) in the database, keyed by ref-URL (WSGIDAV.md §6)."""

from __future__ import annotations

from peewee import fn

from ..model import DeadProperty, write_transaction


def _decode(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class DbPropertyManager:
    def __repr__(self) -> str:
        return "DbPropertyManager"

    def get_properties(self, norm_url, environ=None):
        return [r[0] for r in DeadProperty.select(DeadProperty.name)
                .where(DeadProperty.url == norm_url).tuples()]

    def get_property(self, norm_url, name, environ=None):
        row = DeadProperty.get_or_none((DeadProperty.url == norm_url) & (DeadProperty.name == name))
        return row.value.encode("utf-8") if row else None

    def write_property(self, norm_url, name, property_value, dry_run=False, environ=None):
        if dry_run:
            return
        value = _decode(property_value)
        updated = (DeadProperty.update(value=value)
                   .where((DeadProperty.url == norm_url) & (DeadProperty.name == name)).execute())
        if not updated:
            DeadProperty.create(url=norm_url, name=name, value=value)

    def remove_property(self, norm_url, name, dry_run=False, environ=None):
        if dry_run:
            return
        DeadProperty.delete().where((DeadProperty.url == norm_url)
                                    & (DeadProperty.name == name)).execute()

    def remove_properties(self, norm_url, environ=None):
        DeadProperty.delete().where(DeadProperty.url == norm_url).execute()

    def copy_properties(self, src_url, dest_url, environ=None):
        with write_transaction():
            DeadProperty.delete().where(DeadProperty.url == dest_url).execute()
            for row in DeadProperty.select().where(DeadProperty.url == src_url):
                DeadProperty.create(url=dest_url, name=row.name, value=row.value)

    def move_properties(self, src_url, dest_url, with_children, environ=None):
        with write_transaction():
            DeadProperty.delete().where(DeadProperty.url == dest_url).execute()
            DeadProperty.update(url=dest_url).where(DeadProperty.url == src_url).execute()
            if with_children:
                prefix = src_url.rstrip("/") + "/"
                for row in DeadProperty.select().where(
                        fn.SUBSTR(DeadProperty.url, 1, len(prefix)) == prefix):
                    row.url = dest_url.rstrip("/") + "/" + row.url[len(prefix):]
                    row.save()
