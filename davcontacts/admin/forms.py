"""The contact form: its fields as the template shows them, read back into a
`vcard.build.CardRecord`, with a message per field for what cannot be saved.

Types travel as comma-joined lower-case TYPE values (`work`, `cell,pref`), so a type
set the form offers no preset for (written by a DAV client) survives an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..vcard.build import Address, CardRecord, Typed, default_fn, normal_date, normal_types

EMAIL_TYPES = (("", "Email"), ("work", "Work"), ("home", "Home"))
PHONE_TYPES = (("cell", "Mobile"), ("work", "Work"), ("home", "Home"), ("fax", "Fax"),
               ("", "Phone"))
ADDRESS_TYPES = (("work", "Work"), ("home", "Home"), ("billing", "Billing"),
                 ("shipping", "Shipping"), ("", "Other"))
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE = re.compile(r"[0-9+()./ \-#*xXp,;]+|tel:.+")
_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:\S+")
_HOST = re.compile(r"[^\s/:@]+\.[a-zA-Z]{2,}(?:[/?#]\S*)?")  # example.com/page
TEXT_LIMIT = 255
URL_LIMIT = 2000
NOTE_LIMIT = 10000


def type_key(types: tuple[str, ...]) -> str:
    return ",".join(types)


def type_choices(presets: tuple[tuple[str, str], ...], current: str) -> list[tuple[str, str]]:
    """The presets, plus the current value when it is none of them (kept as is)."""
    choices = list(presets)
    if current not in {value for value, _ in presets}:
        labels = dict(presets)
        words = current.split(",")
        main = [labels.get(w, w) for w in words if w != "pref"]
        label = " ".join(main) or "Other"
        choices.insert(0, (current, label + (" (preferred)" if "pref" in words else "")))
    return choices


@dataclass
class AddressRow:
    types: str = ""
    pobox: str = ""
    ext: str = ""
    street: str = ""
    locality: str = ""
    region: str = ""
    code: str = ""
    country: str = ""


@dataclass
class ContactForm:
    """What the form shows and sends (strings only, as typed)."""

    kind: str = "person"
    fn: str = ""
    prefix: str = ""
    given: str = ""
    middle: str = ""
    family: str = ""
    suffix: str = ""
    nickname: str = ""
    company: str = ""  # the company's name (ORG)
    department: str = ""
    title: str = ""
    emails: list[tuple[str, str]] = field(default_factory=list)  # (types, value)
    phones: list[tuple[str, str]] = field(default_factory=list)
    addresses: list[AddressRow] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    birthday: str = ""
    note: str = ""
    tags: str = ""
    assignee: str = ""
    reports_to: str = ""  # display name as typed
    reports_to_id: str = ""
    book: str = ""
    etag: str = ""
    remove_photo: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: CardRecord) -> ContactForm:
        """A person's display name built from their names shows as empty, so that
        editing the names renames them (as CSV import does)."""
        fn = record.fn
        if record.kind == "person" and fn == default_fn(replace(record, fn="")):
            fn = ""
        return cls(
            kind=record.kind, fn=fn, prefix=record.prefix, given=record.given,
            middle=record.middle, family=record.family, suffix=record.suffix,
            nickname=record.nickname, company=record.org, department=record.department,
            title=record.title,
            emails=[(type_key(t), v) for t, v in record.emails],
            phones=[(type_key(t), v) for t, v in record.phones],
            addresses=[AddressRow(type_key(t), *parts) for t, parts in record.addresses],
            urls=list(record.urls), birthday=record.birthday, note=record.note,
            tags=", ".join(record.tags))

    @classmethod
    def from_request(cls, form, kind: str) -> ContactForm:
        """Read a submitted form (a werkzeug MultiDict)."""
        def text(name: str, limit: int = TEXT_LIMIT) -> str:
            return form.get(name, "").strip()[:limit]

        def pairs(prefix: str) -> list[tuple[str, str]]:
            types = form.getlist(f"{prefix}_type")
            values = form.getlist(f"{prefix}_value")
            return [(t.strip().lower(), v.strip()[:TEXT_LIMIT])
                    for t, v in zip(types, values, strict=False) if v.strip()]

        parts = [form.getlist(f"adr_{p}") for p in
                 ("type", "pobox", "ext", "street", "locality", "region", "code", "country")]
        addresses = [AddressRow(*(v.strip()[:TEXT_LIMIT] for v in row))
                     for row in zip(*parts, strict=False)]
        return cls(
            kind=kind, fn=text("fn"), prefix=text("prefix"), given=text("given"),
            middle=text("middle"), family=text("family"), suffix=text("suffix"),
            nickname=text("nickname"), company=text("company"), department=text("department"),
            title=text("title"), emails=pairs("email"), phones=pairs("phone"),
            addresses=[a for a in addresses if any((a.street, a.locality, a.region, a.code,
                                                    a.country, a.pobox, a.ext))],
            urls=[web_address(v.strip()[:URL_LIMIT]) for v in form.getlist("url_value")
                  if v.strip()],
            birthday=text("birthday"), note=form.get("note", "").strip()[:NOTE_LIMIT],
            tags=text("tags", 2000), assignee=text("assignee"),
            reports_to=text("reports_to"), reports_to_id=text("reports_to_id"),
            book=text("book"), etag=text("etag"), remove_photo=bool(form.get("remove_photo")))

    def validate(self) -> bool:
        """Fill `errors` with what cannot be saved; True when there is nothing."""
        errors = self.errors
        if self.kind == "company" and not self.fn:
            errors["fn"] = "Enter the company's name."
        for i, (_, value) in enumerate(self.emails):
            if not _EMAIL.fullmatch(value):
                errors[f"email_{i}"] = "This does not look like an email address."
        for i, (_, value) in enumerate(self.phones):
            if not _PHONE.fullmatch(value):
                errors[f"phone_{i}"] = "Use digits, spaces and + ( ) - . / only."
        for i, value in enumerate(self.urls):
            if not _URI.fullmatch(value):
                errors[f"url_{i}"] = "Enter a web address such as https://example.com."
        for name, values in (("email", self.emails), ("phone", self.phones)):
            for i, (types, _) in enumerate(values):
                if not re.fullmatch(r"[a-z0-9,-]*", types):
                    errors[f"{name}_{i}"] = "Unknown type."
        if self.birthday and normal_date(self.birthday) is None:
            errors["birthday"] = "Write the date as YYYY-MM-DD, or --MM-DD without a year."
        if self.kind == "person" and not default_fn(self.record(CardRecord())) and not self.fn:
            errors["given"] = "Enter a name (or at least an email or phone)."
        return not errors

    def tag_list(self) -> list[str]:
        seen: set[str] = set()
        out = []
        for tag in self.tags.split(","):
            tag = tag.strip()[:TEXT_LIMIT]
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                out.append(tag)
        return out

    def record(self, base: CardRecord) -> CardRecord:
        """`base` (the stored card's record, or a new one) with the form's values; what
        the form does not show (a URL's TYPE, the PO box) comes from `base`."""
        def typed(values: list[tuple[str, str]]) -> list[Typed]:
            return [(normal_types(t.split(",")), v) for t, v in values]

        addresses: list[Address] = [
            (normal_types(a.types.split(",")),
             (a.pobox, a.ext, a.street, a.locality, a.region, a.code, a.country))
            for a in self.addresses]
        return replace(
            base, kind=self.kind, fn=self.fn, prefix=self.prefix, given=self.given,
            middle=self.middle, family=self.family, suffix=self.suffix,
            nickname=self.nickname, department=self.department,
            org=self.fn if self.kind == "company" else self.company,
            title=self.title, emails=typed(self.emails), phones=typed(self.phones),
            addresses=addresses, urls=list(self.urls),
            birthday=normal_date(self.birthday) or self.birthday,
            note=self.note, tags=self.tag_list())


def web_address(value: str) -> str:
    """What was typed, with https:// in front of a bare host name (example.com/page)."""
    return "https://" + value if _HOST.fullmatch(value) else value
