"""Deterministic, realistic vCard 3.0 test data for the benchmark.

Every server gets the same bytes: a seeded generator makes names (some non-ASCII),
several emails and phones, one or two addresses, ORG/TITLE, CATEGORIES, a note, an
Apple-style labelled URL in some, and a ~20 KB base64 JPEG-like PHOTO in about 1 in 50.
Cards are 1-2 KB without a photo; lines are folded at 75 octets (RFC 6350 §3.2).
"""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass, field, replace

FIRST = [
    "Maria", "James", "Anna", "Mark", "Sofia", "Omar", "Chen", "Aisha", "Lukas", "Emma",
    "Martin", "Olivia", "Noah", "Tamara", "Mateo", "Zoë", "Jürgen", "Amélie", "Søren",
    "Łukasz", "Priya", "Kenji", "Fatima", "Marco", "Ingrid", "Diego", "Hana", "Pierre",
    "Elif", "Thomas", "Yuki", "Grace", "Andrés", "Nadia", "Oliver", "Marta", "Ravi",
    "Chloé", "Samuel", "Leila", "Björn", "Elena", "David", "Ama", "Viktor", "Julia",
    "Hamza", "Ines", "Patrick", "Mei",
]
LAST = [
    "Smith", "García", "Müller", "Rossi", "Kowalski", "Nguyen", "Johansson", "Dubois",
    "Marshall", "Okafor", "Tanaka", "Martinez", "Schneider", "O'Brien", "Haddad", "Silva",
    "Novak", "Ivanova", "Lindqvist", "Patel", "Kim", "Fischer", "Moreau", "Brown",
    "Demir", "Andersen", "Wójcik", "Costa", "Hoffmann", "Lee", "Nakamura", "Romano",
    "Bianchi", "Jensen", "Weber", "Mendes", "Schmidt", "Taylor", "Duarte", "Kaur",
    "Laurent", "Horvath", "Petrov", "Clarke", "Yilmaz", "Mbeki", "Virtanen", "Bauer",
    "Santos", "Wang",
]
MIDDLE = ["", "", "", "", "J.", "Louise", "A.", "Maria", "K.", "Paul"]
PREFIX = ["", "", "", "", "", "Dr.", "Prof.", "Ms.", "Mr."]
COMPANIES = [
    ("Acme Corp", "Research"), ("Globex", "Sales"), ("Initech", "IT"),
    ("Umbrella GmbH", "Legal"), ("Stark Industries", "Engineering"),
    ("Wayne Enterprises", "Finance"), ("Hooli", "Marketing"), ("Vandelay Industries", ""),
    ("Nordwind AG", "Logistik"), ("Société Générale de Test", "Direction"),
    ("Cyberdyne Systems", "Operations"), ("Soylent Ltd", "Support"),
]
TITLES = ["Engineer", "Account Manager", "Director", "Consultant", "Designer",
          "Project Lead", "Analyst", "Head of Operations", "Intern", "CEO"]
STREETS = ["Main Street", "Hauptstraße", "Rue de la Paix", "Via Roma", "Elm Avenue",
           "Kungsgatan", "Calle Mayor", "Station Road", "Oak Lane", "Ringweg"]
CITIES = [("Berlin", "", "10115", "Germany"), ("Paris", "", "75002", "France"),
          ("Springfield", "IL", "62704", "USA"), ("Milano", "MI", "20121", "Italy"),
          ("Stockholm", "", "111 22", "Sweden"), ("Madrid", "", "28013", "Spain"),
          ("London", "", "SW1A 1AA", "United Kingdom"), ("Toronto", "ON", "M5V 2T6", "Canada"),
          ("Tokyo", "", "100-0001", "Japan"), ("Wien", "", "1010", "Austria")]
CATEGORIES = ["Family", "Friends", "Work", "Clients", "Suppliers", "VIP", "Newsletter",
              "Football club", "School", "Neighbours"]
NOTE_WORDS = ("met at the conference, prefers email; call after 5pm, knows the project history "
              "and the budget, birthday gift ideas: books, coffee, music. Follow up next quarter "
              "about the contract renewal and the invoice from last year").split()
EMAIL_DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example"]


@dataclass(frozen=True)
class Card:
    """One contact: its resource name, UID, FN and the vCard text it is rendered to."""

    name: str
    uid: str
    fn: str
    lines: tuple[str, ...] = field(repr=False)

    def render(self, note: str | None = None) -> bytes:
        """The card as CRLF-terminated, folded vCard 3.0 bytes; `note` replaces NOTE."""
        lines = self.lines
        if note is not None:
            lines = tuple(f"NOTE:{escape(note)}" if ln.startswith("NOTE:") else ln
                          for ln in lines)
        return b"".join(fold(ln) + b"\r\n" for ln in lines)

    def edited(self, note: str) -> Card:
        """The same contact with a new NOTE (the UID, FN and name stay)."""
        return replace(self, lines=tuple(f"NOTE:{escape(note)}" if ln.startswith("NOTE:")
                                         else ln for ln in self.lines))


def escape(text: str) -> str:
    """vCard 3.0 TEXT escaping (RFC 2426 §4)."""
    return (text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\n", "\\n"))


def fold(line: str, limit: int = 75) -> bytes:
    """Fold a content line at `limit` octets without splitting a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= limit:
        return data
    out, start, width = [], 0, limit
    while start < len(data):
        end = min(start + width, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        out.append(data[start:end])
        start, width = end, limit - 1
    return b"\r\n ".join(out)


def _photo(rng: random.Random) -> str:
    """~20 KB of base64 that starts and ends like a JPEG (SOI/APP0 ... EOI)."""
    body = rng.randbytes(15_000)
    return base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + body + b"\xff\xd9"
                            ).decode()


def _phone(rng: random.Random) -> str:
    return f"+{rng.choice([1, 33, 44, 49, 39, 46, 81])} {rng.randint(100, 999)} " \
           f"{rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _ascii(text: str) -> str:
    table = str.maketrans("üöäéèçøåłóñÜÖÄÉØÅŁëáí'", "uoaeecoaloaUOAEOALeai-")
    return text.translate(table).lower()


def make_card(rng: random.Random, index: int) -> Card:
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    first, last = rng.choice(FIRST), rng.choice(LAST)
    middle, prefix = rng.choice(MIDDLE), rng.choice(PREFIX)
    fn = " ".join(p for p in (prefix, first, middle, last) if p)
    org, dept = rng.choice(COMPANIES)
    lines = ["BEGIN:VCARD", "VERSION:3.0", "PRODID:-//davcontacts//bench//EN", f"UID:{uid}",
             f"N:{escape(last)};{escape(first)};{escape(middle)};{escape(prefix)};",
             f"FN:{escape(fn)}"]
    if rng.random() < 0.2:
        lines.append(f"NICKNAME:{escape(first[:3])}")
    lines.append(f"ORG:{escape(org)};{escape(dept)}" if dept else f"ORG:{escape(org)}")
    lines.append(f"TITLE:{escape(rng.choice(TITLES))}")
    local = f"{_ascii(first)}.{_ascii(last)}"
    kinds = ["WORK", "HOME", "OTHER"]
    for k in range(rng.randint(1, 3)):
        pref = ",PREF" if k == 0 else ""
        lines.append(f"EMAIL;TYPE=INTERNET,{kinds[k]}{pref}:{local}{index if k else ''}"
                     f"@{rng.choice(EMAIL_DOMAINS)}")
    for k, kind in enumerate(rng.sample(["CELL", "WORK,VOICE", "HOME,VOICE", "FAX"],
                                        rng.randint(1, 3))):
        lines.append(f"TEL;TYPE={kind}{',PREF' if k == 0 else ''}:{_phone(rng)}")
    for kind in rng.sample(["HOME", "WORK"], rng.randint(1, 2)):
        city, region, code, country = rng.choice(CITIES)
        street = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
        lines.append(f"ADR;TYPE={kind}:;;{escape(street)};{escape(city)};{escape(region)};"
                     f"{escape(code)};{escape(country)}")
    if rng.random() < 0.3:
        lines.append(f"item1.URL:https://www.{_ascii(org).replace(' ', '')}.example/{local}")
        lines.append("item1.X-ABLabel:_$!<HomePage>!$_")
    if rng.random() < 0.4:
        lines.append(f"BDAY:{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                     f"{rng.randint(1, 28):02d}")
    cats = rng.sample(CATEGORIES, rng.randint(1, 3))
    lines.append("CATEGORIES:" + ",".join(escape(c) for c in cats))
    note = " ".join(rng.choice(NOTE_WORDS) for _ in range(rng.randint(50, 130)))
    lines.append(f"NOTE:{escape(note.capitalize() + '.')}")
    if index % 50 == 7:
        lines.append(f"PHOTO;ENCODING=b;TYPE=JPEG:{_photo(rng)}")
    lines.append(f"REV:2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                 f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z")
    lines.append("END:VCARD")
    return Card(name=f"{uid}.vcf", uid=uid, fn=fn, lines=tuple(lines))


def generate(n: int, seed: int = 20240601) -> list[Card]:
    """n cards, the same for the same (n, seed); card i does not depend on n."""
    rng = random.Random(seed)
    return [make_card(rng, i) for i in range(n)]


def fn_contains(cards: list[Card], needle: str) -> set[str]:
    """Names of cards whose FN contains `needle` under i;unicode-casemap (RFC 4790 §9.3),
    approximated by casefold: what an addressbook-query text-match must return."""
    folded = needle.casefold()
    return {c.name for c in cards if folded in c.fn.casefold()}
