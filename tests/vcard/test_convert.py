"""Tests of davcontacts.vcard.convert: each 3.0 ⇄ 4.0 mapping both ways, 2.1 input, the
real-world corpus surviving 3.0 → 4.0 → 3.0 (and 4.0 → 3.0 → 4.0) with every item-9 field,
line endings, folding, and untouched lines kept byte for byte."""

from __future__ import annotations

import base64
import quopri
import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
import vobject

from davcontacts.errors import InvalidCard, UnsupportedCard
from davcontacts.vcard import ContentLine, detect_version, parse_card, split_cards
from davcontacts.vcard.convert import convert
from davcontacts.vcard.parse import structured_components, unescape_value

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "vcards"
SAMPLE_CARDS = [
    (path.name, index)
    for path in sorted(SAMPLES.glob("*.vcf"))
    for index in range(len(split_cards(path.read_bytes())))
]


def with_uid(text: str, uid: str = "sample-uid") -> str:
    """Insert a UID line after BEGIN:VCARD (with the card's own line ending) if it has none."""
    if re.search(r"^UID[;:]", text, re.M | re.I):
        return text
    match = re.match(r"\s*BEGIN:VCARD(\r*\n|\r)", text, re.I)
    assert match, text[:40]
    return text[: match.end()] + f"UID:{uid}" + match.group(1) + text[match.end() :]


def card(*lines: str, version: str = "3.0", fn: str | None = "Jane Doe", eol: str = "\r\n") -> str:
    head = ["BEGIN:VCARD", f"VERSION:{version}", "UID:u-1"]
    head += [f"FN:{fn}"] if fn is not None else []
    return eol.join([*head, *lines, "END:VCARD"]) + eol


def body(text: str) -> list[str]:
    """The unfolded content lines other than BEGIN, END, VERSION, UID and FN."""
    unfolded = re.sub(r"(?:\r\n|\n|\r)[ \t]", "", text)
    skip = ("BEGIN:", "END:", "VERSION:", "UID:", "FN:")
    return [
        line for line in re.split(r"\r\n|\n|\r", unfolded) if line and not line.startswith(skip)
    ]


# --- item-9 facts, compared semantically ------------------------------------------------------


def raw_value(line: ContentLine) -> str:
    """The value with QUOTED-PRINTABLE (2.1) decoded, escapes kept."""
    if "QUOTED-PRINTABLE" not in (v.upper() for v in line.param_values("ENCODING")):
        return line.value
    charset = (line.param_values("CHARSET") or ["utf-8"])[0]
    decoded = quopri.decodestring(line.value.encode()).decode(charset, errors="replace")
    return decoded.replace("\r\n", "\n").replace("\n", "\\n")


def kinds(line: ContentLine) -> tuple[frozenset[str], bool]:
    types = {v.lower() for v in line.param_values("TYPE")}
    pref = "pref" in types or line.param_values("PREF") == ["1"]
    return frozenset(types - {"pref", "internet"}), pref


def components(line: ContentLine) -> tuple[str, ...]:
    parts = structured_components(raw_value(line))
    while parts and not parts[-1]:
        parts.pop()
    return tuple(parts)


def bday(line: ContentLine) -> str:
    value = line.value.strip()
    omit = line.param_values("X-APPLE-OMIT-YEAR")
    if omit and value.startswith(omit[0]):
        value = "--" + value[4:]
    return ("--" if value.startswith("--") else "") + value.lstrip("-").replace("-", "")


def blob(line: ContentLine) -> bytes | str:
    value = line.value
    if value[:5].lower() == "data:":
        head, _, data = value[5:].partition(",")
        if "base64" not in head.lower():
            return unquote(data).encode()
        try:
            return base64.b64decode(data)
        except ValueError:
            return data
    if {v.lower() for v in line.param_values("ENCODING")} & {"b", "base64"}:
        data = "".join(value.split())
        try:
            return base64.b64decode(data)
        except ValueError:  # a truncated export (John_Doe_ANDROID.vcf #4): compare the text
            return data
    return value.strip()


def tel(line: ContentLine) -> str:
    value = line.value.strip()
    if "URI" in (v.upper() for v in line.param_values("VALUE")) and value[:4].lower() == "tel:":
        return unquote(value[4:])
    return value


def facts(text: str) -> dict[str, object]:
    """N, FN, ORG, TEL, EMAIL, ADR, BDAY, PHOTO, kind, members and item-group labels."""
    parsed = parse_card(text)
    n, first_bday = parsed.first("N"), parsed.first("BDAY")
    groups: dict[str, set[str]] = {}
    for line in parsed.lines:
        if line.group:
            groups.setdefault(line.group.upper(), set()).add(line.name)
    return {
        "N": components(n) if n else None,
        "FN": parsed.fn if parsed.first("FN") else None,
        "ORG": [components(line) for line in parsed.all("ORG")],
        "TEL": [(tel(line), *kinds(line)) for line in parsed.all("TEL")],
        "EMAIL": [
            (unescape_value(raw_value(line)).strip(), *kinds(line)) for line in parsed.all("EMAIL")
        ],
        "ADR": [(components(line), *kinds(line)) for line in parsed.all("ADR")],
        "BDAY": bday(first_bday) if first_bday else None,
        "PHOTO": [blob(line) for line in parsed.all("PHOTO")],
        "kind": parsed.kind,
        "members": [
            line.value
            for line in parsed.lines
            if line.name in ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER")
        ],
        "labels": sorted(
            (line.group.upper(), line.value, sorted(groups[line.group.upper()]))
            for line in parsed.all("X-ABLABEL")
            if line.group
        ),
    }


# Names a 3.0 reader knows (RFC 2425, 2426, 2739, 4770); anything else must be an X- name.
KNOWN_30 = set(
    "VERSION SOURCE NAME PROFILE FN N NICKNAME PHOTO BDAY ADR LABEL TEL EMAIL MAILER TZ GEO "
    "TITLE ROLE LOGO AGENT ORG CATEGORIES NOTE PRODID REV SORT-STRING SOUND UID URL CLASS KEY "
    "FBURL CALURI CALADRURI CAPURI IMPP".split()
)


def assert_valid(text: str, version: str) -> None:
    """``text`` parses as ``version`` and carries nothing of the other version."""
    parsed = parse_card(text)
    assert parsed.version == version
    assert parsed.first("FN") is not None
    for line in parsed.lines:
        params = {name for name, _ in line.params}
        types = {v.lower() for v in line.param_values("TYPE")}
        assert all(value is not None for _, value in line.params), line  # no bare 2.1 params
        assert "CHARSET" not in params, line
        if version == "3.0":
            assert line.name in KNOWN_30 or line.name.startswith("X-"), line
            assert not params & {"PREF", "PID", "ALTID", "MEDIATYPE", "CALSCALE"}, line
            assert {v.lower() for v in line.param_values("ENCODING")} <= {"b"}, line
        else:
            assert "ENCODING" not in params and "pref" not in types, line
            assert not (line.name == "EMAIL" and "internet" in types), line
            assert line.name not in ("X-ADDRESSBOOKSERVER-KIND", "X-ADDRESSBOOKSERVER-MEMBER")
    if version == "3.0":
        assert parsed.first("N") is not None


def assert_same_facts(source: dict[str, object], result: dict[str, object]) -> None:
    """Every item-9 field of ``source`` is in ``result`` (N and FN may be added, not lost)."""
    for key, value in source.items():
        if value is not None:
            assert result[key] == value, key


# --- 3.0 → 4.0 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["TEL;type=CELL;type=pref:123"], ["TEL;type=CELL;PREF=1:123"]),
        (["TEL;TYPE=PREF,HOME:123"], ["TEL;TYPE=HOME;PREF=1:123"]),
        (["TEL;TYPE=pref;PREF=1:123"], ["TEL;PREF=1:123"]),
        (["EMAIL;type=INTERNET;type=WORK;type=pref:j@x.org"], ["EMAIL;type=WORK;PREF=1:j@x.org"]),
        (["EMAIL;TYPE=INTERNET,PREF:j@x.org"], ["EMAIL;PREF=1:j@x.org"]),
        (["EMAIL;TYPE=INTERNET:j@x.org"], ["EMAIL:j@x.org"]),
        (["item1.EMAIL;type=INTERNET:j@x.org"], ["item1.EMAIL:j@x.org"]),
        (["PHOTO;ENCODING=b;TYPE=JPEG:Zm9v"], ["PHOTO:data:image/jpeg;base64,Zm9v"]),
        (["PHOTO;ENCODING=b;TYPE=JPEG,HOME:Zm9v"], ["PHOTO;TYPE=HOME:data:image/jpeg;base64,Zm9v"]),
        (["PHOTO;X-P=1;ENCODING=B;TYPE=PNG:Zm9v"], ["PHOTO;X-P=1:data:image/png;base64,Zm9v"]),
        (["PHOTO;BASE64:/9j/4AAQ"], ["PHOTO:data:image/jpeg;base64,/9j/4AAQ"]),  # sniffed
        (["PHOTO;ENCODING=b:AAAA"], ["PHOTO:data:application/octet-stream;base64,AAAA"]),
        (["LOGO;ENCODING=b;TYPE=GIF:R0lGOD"], ["LOGO:data:image/gif;base64,R0lGOD"]),
        (["SOUND;ENCODING=b;TYPE=WAVE:UklG"], ["SOUND:data:audio/wav;base64,UklG"]),
        (["KEY;ENCODING=b;TYPE=X509:MIIB"], ["KEY:data:application/pkix-cert;base64,MIIB"]),
        (["KEY;ENCODING=b;TYPE=PGP:mQIN"], ["KEY:data:application/pgp-keys;base64,mQIN"]),
        (["PHOTO;VALUE=uri:http://e.org/a.png"], ["PHOTO:http://e.org/a.png"]),
        (
            ["PHOTO;VALUE=URI;TYPE=JPEG:http://e.org/a"],
            ["PHOTO;MEDIATYPE=image/jpeg:http://e.org/a"],
        ),
        (["N;CHARSET=UTF-8:Doe;John;;;"], ["N:Doe;John;;;"]),
        (["NOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab"], ["NOTE:a\\nb"]),
        (["BDAY;value=date:2012-06-06"], ["BDAY:2012-06-06"]),
        (["BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15"], ["BDAY:--0315"]),
        (["BDAY;X-APPLE-OMIT-YEAR=1604:1980-03-15"], ["BDAY;X-APPLE-OMIT-YEAR=1604:1980-03-15"]),
        (["GEO:37.386013;-122.082932"], ["GEO:geo:37.386013,-122.082932"]),
        (["X-ANNIVERSARY:1990-04-30"], ["ANNIVERSARY:1990-04-30"]),
        (["X-GENDER:F"], ["GENDER:F"]),
        (["X-GENDER:male"], ["X-GENDER:male"]),  # not a GENDER value: left alone
        (["X-LANG;TYPE=pref:fr", "X-LANG:en"], ["LANG;PREF=1:fr", "LANG:en"]),
        (["X-BDAY;VALUE=text:circa 1800"], ["BDAY;VALUE=text:circa 1800"]),
        (["BDAY:1800-01-01", "X-BDAY;VALUE=text:circa 1800"], None),  # one BDAY already
        (
            ["X-ANNIVERSARY:2001-01-01", "X-ANNIVERSARY:2002-02-02"],
            ["ANNIVERSARY:2001-01-01", "X-ANNIVERSARY:2002-02-02"],
        ),
        (["X-ABShowAs:COMPANY", "ORG:Acme"], ["X-ABShowAs:COMPANY", "KIND:org", "ORG:Acme"]),
        (
            ["X-ADDRESSBOOKSERVER-KIND:group", "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a-1"],
            ["KIND:group", "MEMBER:urn:uuid:a-1"],
        ),
        (["X-ADDRESSBOOKSERVER-KIND:GROUP"], ["KIND:group"]),
        # 3.0-only properties pass through untouched
        (["NAME:x", "MAILER:PigeonMail", "CLASS:PUBLIC", "SORT-STRING:Doe"], None),
        (["AGENT;VALUE=uri:CID:JQPUBLIC.part3.960129T083020.xyzMail@host3.com"], None),
        (["X-ABLabel:x", "item1.X-ABDATE:1975-03-01", "item1.X-ABLabel:_$!<Anniversary>!$_"], None),
        (
            ["item1.ADR;TYPE=HOME:;;1 Main St;Town;;;", "item1.LABEL;TYPE=HOME:1 Main St\\nTown"],
            ['item1.ADR;TYPE=HOME;LABEL="1 Main St^nTown":;;1 Main St;Town;;;'],
        ),
        (
            ["ADR;TYPE=WORK,PREF:;;2 Main;City;;;", 'LABEL;TYPE=PREF,WORK:2 "Main"\\, City^'],
            ["ADR;TYPE=WORK;PREF=1;LABEL=\"2 ^'Main^', City^^\":;;2 Main;City;;;"],
        ),
        # not clearly that address's: kept as a LABEL line
        (
            ["ADR;TYPE=WORK:;;2 Main;City;;;", "LABEL;TYPE=HOME:2 Main"],
            ["ADR;TYPE=WORK:;;2 Main;City;;;", "LABEL;TYPE=HOME:2 Main"],
        ),
        (["LABEL;TYPE=HOME:2 Main", "ADR;TYPE=HOME:;;2 Main;City;;;"], None),
        (["item1.ADR:;;1;;;;", "item2.LABEL:1"], None),
    ],
)
def test_to_40(lines: list[str], expected: list[str] | None) -> None:
    out = convert(card(*lines), "4.0")
    assert parse_card(out).version == "4.0"
    assert body(out) == (lines if expected is None else expected)


# --- 4.0 → 3.0 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["TEL;TYPE=cell;PREF=1:123"], ["TEL;TYPE=cell;TYPE=pref:123"]),
        (["TEL;PREF=2:123"], ["TEL:123"]),
        (['TEL;TYPE="work,voice":123'], ["TEL;TYPE=work,voice:123"]),
        (["TEL;VALUE=uri;TYPE=home:tel:+1-555-555-0100"], ["TEL;TYPE=home:+1-555-555-0100"]),
        (["TEL;VALUE=uri:tel:+1-418-656-9254;ext=102"], ["TEL:+1-418-656-9254;ext=102"]),
        (["TEL;VALUE=uri:sip:jane@example.org"], None),  # no 3.0 phone number: kept
        (["EMAIL;PID=1.1:a@b.org", "CLIENTPIDMAP:1;urn:uuid:x"], ["EMAIL:a@b.org"]),
        (["PHOTO:data:image/jpeg;base64,Zm9v"], ["PHOTO;ENCODING=b;TYPE=JPEG:Zm9v"]),
        (
            ["PHOTO;TYPE=home:data:image/png;base64,Zm9v"],
            ["PHOTO;ENCODING=b;TYPE=PNG;TYPE=home:Zm9v"],
        ),
        (["LOGO:data:image/svg+xml,%3Csvg%2F%3E"], ["LOGO;ENCODING=b;TYPE=SVG+XML:PHN2Zy8+"]),
        (["KEY:data:application/pgp-keys;base64,mQIN"], ["KEY;ENCODING=b;TYPE=PGP:mQIN"]),
        (["SOUND:data:audio/x-wav;base64,UklG"], ["SOUND;ENCODING=b;TYPE=WAVE:UklG"]),
        (["PHOTO:data:;base64,AAAA"], ["PHOTO;ENCODING=b:AAAA"]),
        (["PHOTO:http://e.org/a.jpg"], ["PHOTO;VALUE=uri:http://e.org/a.jpg"]),
        (
            ["PHOTO;MEDIATYPE=image/jpeg:http://e.org/a"],
            ["PHOTO;VALUE=uri;TYPE=JPEG:http://e.org/a"],
        ),
        (["KEY;TYPE=work;VALUE=uri:http://e.org/k.asc"], None),
        (["FBURL;MEDIATYPE=text/calendar:http://e.org/fb"], ["FBURL:http://e.org/fb"]),
        (["KIND:org", "N:;;;;", "ORG:Acme"], ["X-ABShowAs:COMPANY", "N:;;;;", "ORG:Acme"]),
        (["KIND:org", "X-ABShowAs:COMPANY", "N:;;;;"], ["X-ABShowAs:COMPANY", "N:;;;;"]),
        (["KIND:org", "ORG:Acme"], ["X-ABShowAs:COMPANY", "ORG:Acme"]),
        (
            ["KIND:group", "N:;;;;", "MEMBER:urn:uuid:a-1", "MEMBER;PID=1.1:urn:uuid:a-2"],
            [
                "X-ADDRESSBOOKSERVER-KIND:group",
                "N:;;;;",
                "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a-1",
                "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a-2",
            ],
        ),
        (["KIND:individual", "N:Doe;Jane;;;"], ["N:Doe;Jane;;;"]),
        (["KIND:location", "N:;;;;"], ["X-ADDRESSBOOKSERVER-KIND:location", "N:;;;;"]),
        (["N:Doe;Jane;;;", "GENDER:F"], ["N:Doe;Jane;;;", "X-GENDER:F"]),
        (
            ["N:;;;;", "ANNIVERSARY:20090808T1430-0500"],
            ["N:;;;;", "X-ANNIVERSARY:20090808T1430-0500"],
        ),
        (
            ["N:;;;;", "LANG;PREF=1:fr", "LANG;PREF=2:en"],
            ["N:;;;;", "X-LANG;TYPE=pref:fr", "X-LANG:en"],
        ),
        (
            ["N:;;;;", "item1.RELATED;TYPE=spouse:urn:uuid:x"],
            ["N:;;;;", "item1.X-RELATED;TYPE=spouse:urn:uuid:x"],
        ),
        (
            ["N:;;;;", "EXPERTISE;LEVEL=expert:chemistry"],
            ["N:;;;;", "X-EXPERTISE;LEVEL=expert:chemistry"],
        ),
        (["N:;;;;", "TITLE;LANGUAGE=fr:Patron"], None),
        (["N:;;;;", "BDAY:--0203"], ["N:;;;;", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-03"]),
        (["N:;;;;", "BDAY;VALUE=date-and-or-time:19800322"], ["N:;;;;", "BDAY:19800322"]),
        (["N:;;;;", "BDAY;VALUE=text:circa 1800"], ["N:;;;;", "X-BDAY;VALUE=text:circa 1800"]),
        (
            ["N:;;;;", "BDAY;ALTID=1;VALUE=text:circa 1800", "BDAY;ALTID=1:18000101"],
            ["N:;;;;", "BDAY:18000101"],
        ),
        (
            ["N:;;;;", "ANNIVERSARY;CALSCALE=gregorian:20000101"],
            ["N:;;;;", "X-ANNIVERSARY:20000101"],
        ),
        (["N:;;;;", "GEO:geo:46.772673,-71.282945"], ["N:;;;;", "GEO:46.772673;-71.282945"]),
        (["N:;;;;", "TZ:Europe/Paris"], ["N:;;;;", "TZ;VALUE=text:Europe/Paris"]),
        (["N:;;;;", "TZ;VALUE=utc-offset:-0500"], ["N:;;;;", "TZ:-05:00"]),
        (["N:;;;;", "TZ:-05:00"], None),
        (
            ["N:;;;;", "ADR;TYPE=work;PREF=1;LABEL=\"1 Main St^nTown, ^'X^'\":;;1 Main St;Town;;;"],
            [
                "N:;;;;",
                "ADR;TYPE=work;TYPE=pref:;;1 Main St;Town;;;",
                'LABEL;TYPE=work;TYPE=pref:1 Main St\\nTown\\, "X"',
            ],
        ),
        (
            ["N:;;;;", 'item2.ADR;LABEL="A\\nB":;;A;B;;;'],  # RFC 6350 §6.3.1's own example form
            ["N:;;;;", "item2.ADR:;;A;B;;;", "item2.LABEL:A\\nB"],
        ),
        (["N:Doe;Jane;;;", "X-ABLabel:x", "item1.EMAIL:a@b", "item1.X-ABLabel:Home"], None),
    ],
)
def test_to_30(lines: list[str], expected: list[str] | None) -> None:
    out = convert(card(*lines, version="4.0"), "3.0")
    assert parse_card(out).version == "3.0"
    got = body(out)
    if not any(line.startswith("N:") for line in lines):  # 3.0 needs N: added last
        assert got.pop() in ("N:Jane Doe;;;;", "N:;;;;")
    assert got == (lines if expected is None else expected)


def test_to_30_alternatives_keep_the_first() -> None:
    alternatives = ["FN;ALTID=1;LANGUAGE=en:Jane", "FN;ALTID=1;LANGUAGE=fr:Jeanne", "N:;;;;"]
    out = convert(card(*alternatives, version="4.0", fn=None), "3.0")
    assert body(out) == ["FN;LANGUAGE=en:Jane", "N:;;;;"]


@pytest.mark.parametrize(
    "lines, n",
    [
        ([], "N:Jane Doe;;;;"),  # a person: Apple shows N, so FN goes in the family name
        (["KIND:org", "ORG:Acme"], "N:;;;;"),
        (["KIND:group"], "N:Jane Doe;;;;"),  # Apple's groups carry their name in N
    ],
)
def test_to_30_adds_n(lines: list[str], n: str) -> None:
    out = convert(card(*lines, version="4.0"), "3.0")
    assert body(out)[-1] == n
    assert parse_card(out).first("N") is not None


@pytest.mark.parametrize(
    "lines, fn",
    [
        (["N:Doe;Jane;Q.;Dr.;Jr."], "Dr. Jane Q. Doe Jr."),
        (["ORG:Acme\\, Inc.;Sales"], "Acme\\, Inc. Sales"),
        (["EMAIL:a@b.org"], "a@b.org"),
        (["TEL:+1 555"], "+1 555"),
        ([], ""),
    ],
)
def test_fn_is_derived_when_missing(lines: list[str], fn: str) -> None:
    out = convert(card(*lines, version="4.0", fn=None), "3.0")
    assert f"\r\nFN:{fn}\r\n" in out
    assert parse_card(out).fn == unescape_value(fn)


# --- 2.1 input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["TEL;WORK;VOICE:1"], ["TEL;TYPE=WORK,VOICE:1"]),
        (["TEL;TYPE=CELL:1"], None),
        (["NOTE;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:caf=E9, ok"], ["NOTE:café\\, ok"]),
        (["N;CHARSET=UTF-8;QUOTED-PRINTABLE:=C3=91;A\\;B;;;"], ["N:Ñ;A\\;B;;;"]),
        (["ORG;ENCODING=QUOTED-PRINTABLE:Company, The;Dept=", "=2E"], ["ORG:Company\\, The;Dept."]),
        (["NOTE;ENCODING=QUOTED-PRINTABLE:C:\\temp=0D=0A"], ["NOTE:C:\\\\temp\\n"]),
        (["FBURL;ENCODING=QUOTED-PRINTABLE:a=0Cb"], ["FBURL:ab"]),  # no control characters
        (["X-CUSTOM;ENCODING=QUOTED-PRINTABLE:a;b=0Ac"], ["X-CUSTOM:a;b\\nc"]),
        (["ORG:Company, The;Dept"], None),  # unencoded values are left as they are
        (
            ["PHOTO;JPEG;ENCODING=BASE64:", "    /9j/4AAQ", "    SkZJRg==", ""],
            ["PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQSkZJRg=="],
        ),
        (["PHOTO;VALUE=URL:http://e.org/a.gif"], ["PHOTO;VALUE=uri:http://e.org/a.gif"]),
        (["GEO:37.24,-17.87"], ["GEO:37.24;-17.87"]),
        (["LABEL;WORK;ENCODING=QUOTED-PRINTABLE:A=0D=0AB"], ["LABEL;TYPE=WORK:A\\nB"]),
        (["EMAIL;PREF;INTERNET:a@b.org"], ["EMAIL;TYPE=PREF,INTERNET:a@b.org"]),
        (["TEL;8BIT:1"], ["TEL:1"]),
    ],
)
def test_21_to_30(lines: list[str], expected: list[str] | None) -> None:
    out = convert(card(*lines, version="2.1"), "3.0")
    assert parse_card(out).version == "3.0"
    got = body(out)
    if not any(line.startswith("N;") or line.startswith("N:") for line in lines):
        assert got.pop() == "N:Jane Doe;;;;"  # 3.0 needs N
    assert got == (lines if expected is None else expected)


def test_21_to_40() -> None:
    out = convert(
        card("EMAIL;PREF;INTERNET:a@b.org", "PHOTO;ENCODING=BASE64;JPEG:Zm9v", version="2.1"), "4.0"
    )
    assert parse_card(out).version == "4.0"
    photo = "PHOTO:data:image/jpeg;base64,Zm9v"
    assert body(out) == ["EMAIL;PREF=1:a@b.org", photo, "N:Jane Doe;;;;"]


def test_21_without_n_or_fn() -> None:
    out = convert(card("N:Doe;John;;;", version="2.1", fn=None), "3.0")
    assert parse_card(out).fn == "John Doe"
    out = convert(card("EMAIL;PREF:a@b.org", version="2.1", fn=None), "4.0")
    assert body(out) == ["EMAIL;PREF=1:a@b.org", "N:a@b.org;;;;"]  # N from the 3.0 step
    assert parse_card(out).fn == "a@b.org"


# --- round trips --------------------------------------------------------------------------------

PHOTO = base64.b64encode(bytes(range(256)) * 8).decode()
APPLE_COMPANY = card(
    "PRODID:-//Apple Inc.//macOS 14.0//EN",
    "N:;;;;",
    "ORG:Acme\\, Inc.;Sales",
    "X-ABShowAs:COMPANY",
    "item1.EMAIL;type=INTERNET;type=pref:sales@acme.example",
    "item1.X-ABLabel:_$!<Work>!$_",
    "TEL;type=WORK;type=VOICE;type=pref:+1 555 0100",
    "item2.TEL:+1 555 0101",
    "item2.X-ABLabel:Hotline",
    "item3.ADR;type=WORK;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;USA",
    "item3.X-ABADR:us",
    "BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15",
    "PHOTO;ENCODING=b;TYPE=JPEG:" + PHOTO,
    "X-ABUID:6B29A774-D124-4822-B8D0-2780EC117F60\\:ABPerson",
    fn="Acme, Inc.",
)
APPLE_GROUP = card(
    "N:Friends;;;;",
    "X-ADDRESSBOOKSERVER-KIND:group",
    "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:11111111-2222-3333-4444-555555555555",
    "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:66666666-7777-8888-9999-000000000000",
    fn="Friends",
)
V4_PERSON = card(
    "N:Doe;Jane;Q.;Dr.;",
    "ORG:Acme;Research",
    "TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+1-555-555-0100",
    "TEL;TYPE=home:+1 555 555 0101",
    "EMAIL;TYPE=work;PREF=2:jane@acme.example",
    "item1.EMAIL:jane@home.example",
    "item1.X-ABLabel:Private",
    'ADR;TYPE=home;LABEL="12 Elm St^nSpringfield":;;12 Elm St;Springfield;;;',
    "BDAY:--0203",
    "ANNIVERSARY:20090808",
    "GENDER:F",
    "LANG;PREF=1:en",
    "PHOTO:data:image/png;base64," + PHOTO,
    "CLIENTPIDMAP:1;urn:uuid:53e374d9-337e-4727-8803-a1e9c14e0556",
    version="4.0",
)
V4_COMPANY = card("KIND:org", "ORG:Globex", "URL:https://globex.example", fn="Gl", version="4.0")
V4_GROUP = card(
    "KIND:group",
    "MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af",
    "MEMBER:mailto:subscriber1@example.com",
    fn="The Doe family",
    version="4.0",
)


@pytest.mark.parametrize("text", [APPLE_COMPANY, APPLE_GROUP], ids=["company", "group"])
def test_round_trip_30(text: str) -> None:
    there = convert(text, "4.0")
    back = convert(there, "3.0")
    assert_valid(there, "4.0")
    assert_valid(back, "3.0")
    assert facts(text) == facts(there) == facts(back)
    assert parse_card(there).kind == parse_card(text).kind != "person"
    assert convert(back, "4.0") == there  # one round trip reaches a fixed point


@pytest.mark.parametrize(
    "text", [V4_PERSON, V4_COMPANY, V4_GROUP], ids=["person", "company", "group"]
)
def test_round_trip_40(text: str) -> None:
    there = convert(text, "3.0")
    back = convert(there, "4.0")
    assert_valid(there, "3.0")
    assert_valid(back, "4.0")
    assert_same_facts(facts(text), facts(there))
    assert_same_facts(facts(text), facts(back))
    assert convert(back, "3.0") == there


def test_round_trip_40_keeps_4_0_only_properties() -> None:
    back = convert(convert(V4_PERSON, "3.0"), "4.0")
    for line in ("ANNIVERSARY:20090808", "GENDER:F", "LANG;PREF=1:en", "BDAY:--0203"):
        assert f"\r\n{line}\r\n" in back
    assert 'ADR;TYPE=home;LABEL="12 Elm St^nSpringfield":;;12 Elm St;Springfield;;;' in back
    assert "CLIENTPIDMAP" not in back and "PREF=2" not in back  # no 3.0 form


def test_round_trip_30_is_exact_for_apple_lines() -> None:
    """Only lines that differ between the versions are rewritten, and they come back."""
    back = convert(convert(APPLE_COMPANY, "4.0"), "3.0")
    changed = {"item1.EMAIL", "TEL;type=WORK", "item3.ADR"}  # type=pref, type=INTERNET
    kept = [line for line in body(APPLE_COMPANY) if not line.startswith(tuple(changed))]
    assert [line for line in body(back) if not line.startswith(tuple(changed))] == kept
    assert "item1.EMAIL;TYPE=pref:sales@acme.example" in body(back)


# --- the real-world corpus -------------------------------------------------------------------


def test_corpus_is_all_there() -> None:
    assert len(SAMPLE_CARDS) == 25


@pytest.mark.parametrize("name, index", SAMPLE_CARDS, ids=[f"{n}#{i}" for n, i in SAMPLE_CARDS])
def test_sample_round_trip(name: str, index: int) -> None:
    text = with_uid(split_cards((SAMPLES / name).read_bytes())[index])
    version = detect_version(text)
    if version == "2.1":  # read as a 3.0 source
        converted = convert(text, "3.0")
        assert_valid(converted, "3.0")
        assert_valid(convert(text, "4.0"), "4.0")
        assert_same_facts(facts(text), facts(converted))
        text, version = converted, "3.0"
    other = "4.0" if version == "3.0" else "3.0"
    there = convert(text, other)
    back = convert(there, version)
    assert_valid(there, other)
    assert_valid(back, version)
    source = facts(text)
    assert_same_facts(source, facts(there))
    assert_same_facts(source, facts(back))
    # After one round trip the card is stable: further round trips change nothing.
    assert convert(convert(back, other), version) == back


# Samples an independent reader rejects whatever we do: their defects are the export's own.
VOBJECT_REJECTS = {
    ("John_Doe_ANDROID.vcf", 4): "the photo's base64 is truncated (1169 characters)",
    ("John_Doe_IPHONE.vcf", 0): "untouched lines keep iOS's CR CR LF endings",
    ("John_Doe_LOTUS_NOTES.vcf", 0): "vobject cannot take RFC 2425's PROFILE:VCard",
}


READABLE_CARDS = [c for c in SAMPLE_CARDS if c not in VOBJECT_REJECTS]


@pytest.mark.parametrize("name, index", READABLE_CARDS,
                         ids=[f"{n}#{i}" for n, i in READABLE_CARDS])
def test_vobject_reads_converted_samples(name: str, index: int) -> None:
    """A second, independent parser (vobject, a project dependency) reads what we serve."""
    text = with_uid(split_cards((SAMPLES / name).read_bytes())[index])
    for version in ("3.0", "4.0"):
        served = vobject.readOne(convert(text, version))
        assert served.version.value == version and served.fn.value


@pytest.mark.parametrize("name, index", sorted(VOBJECT_REJECTS))
def test_vobject_rejects_those_samples_as_exported(name: str, index: int) -> None:
    """The cards left out above are rejected by vobject before any conversion: the
    defect is the export's, not ours."""
    text = with_uid(split_cards((SAMPLES / name).read_bytes())[index])
    with pytest.raises(Exception):  # noqa: B017 (vobject raises several unrelated types)
        card = vobject.readOne(text)
        card.serialize()
        if "PHOTO" in text:
            base64.b64decode(card.photo.value if isinstance(card.photo.value, str)
                             else base64.b64encode(card.photo.value), validate=True)


def test_sample_multi_card_file() -> None:
    text = (SAMPLES / "gmail-list.vcf").read_bytes().decode()
    out = convert(text, "4.0")
    cards = split_cards(out)
    assert len(cards) == 3
    assert all(parse_card(with_uid(c)).version == "4.0" for c in cards)
    assert "EMAIL:asmithk@gmail.com\r\n" in out


def test_sample_iphone_lines_kept_byte_for_byte() -> None:
    # iOS ends lines with CR CR LF: untouched lines keep it, rewritten ones get CRLF.
    text = with_uid((SAMPLES / "John_Doe_IPHONE.vcf").read_bytes().decode())
    out = convert(text, "4.0")
    for line in (
        "item2.TEL:905-222-1234\r\r\n",
        "item2.X-ABLabel:_$!<AssistantPhone>!$_\r\r\n",
        "item4.X-ABADR:Street 4, Building 6,\\n Floor 8\\nNew York\\nUSA\r\r\n",
        "TEL;type=HOME;type=VOICE:905-666-1234\r\r\n",
        "N:Doe;John;Richter,James;Mr.;Sr.\r\r\n",
    ):
        assert line in out
    assert "\r\nitem1.EMAIL;PREF=1:john.doe@ibm.com\r\n" in out
    photo = parse_card(out).first("PHOTO")
    assert photo is not None and photo.value.startswith("data:image/jpeg;base64,/9j/")


# --- line endings, folding, untouched text ---------------------------------------------------


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"])
@pytest.mark.parametrize("text", [APPLE_COMPANY, V4_PERSON], ids=["30", "40"])
def test_line_endings_are_kept(eol: str, text: str) -> None:
    source = text.replace("\r\n", eol)
    out = convert(source, "4.0" if "VERSION:3.0" in text else "3.0")
    assert re.findall(r"\r\n|\n|\r", out) == [eol] * len(re.findall(r"\r\n|\n|\r", out))
    assert out.endswith("END:VCARD" + eol)


def test_no_final_line_ending() -> None:
    out = convert(card("EMAIL;TYPE=INTERNET:a@b.org").rstrip("\r\n"), "4.0")
    assert out.endswith("\r\nEMAIL:a@b.org\r\nEND:VCARD")


@pytest.mark.parametrize("text", [APPLE_COMPANY, V4_PERSON], ids=["30", "40"])
def test_rewritten_lines_are_folded_at_75_octets(text: str) -> None:
    out = convert(text, "4.0" if "VERSION:3.0" in text else "3.0")
    lines = out.split("\r\n")
    assert max(len(line.encode()) for line in lines) == 75
    photo = parse_card(out).first("PHOTO")
    assert photo is not None and blob(photo) == base64.b64decode(PHOTO)


def test_folding_never_splits_utf8() -> None:
    name = "Ñ" * 60 + "€" * 30 + "😀" * 10
    source = card("N;CHARSET=UTF-8:" + name + ";;;;", "NOTE:" + name)  # NOTE: kept as sent
    assert len(("NOTE:" + name).encode()) > 75
    out = convert(source, "4.0")
    physical = out.encode().split(b"\r\n")
    assert all(len(line) <= 75 for line in physical if not line.startswith(b"NOTE:"))
    assert [line.decode() for line in physical]  # each piece is whole UTF-8
    n = parse_card(out).first("N")
    assert n is not None and n.value == name + ";;;;"


def test_unchanged_lines_are_byte_identical() -> None:
    untouched = [
        "N:Doe;Jane;;;",
        'X-UNKNOWN;X-PARAM="a:b";type=odd:value\\, with\\; escapes',
        "item1.URL;type=HOME:http\\://example.org",
        "item1.X-ABLabel:_$!<HomePage>!$_",
        "NOTE:A long note that is folded by the client at an unusual place and must stay e",
        " xactly as it was sent, fold and all.",
        "CATEGORIES:a,b,c",
        "item2.X-ABRELATEDNAMES:Jenny",
    ]
    source = card("EMAIL;TYPE=INTERNET:a@b.org", *untouched)
    out = convert(source, "4.0")
    assert "\r\nEMAIL:a@b.org\r\n" + "\r\n".join(untouched) + "\r\nEND:VCARD\r\n" in out


def test_same_version_is_returned_unchanged() -> None:
    text = card("EMAIL;TYPE=INTERNET:a@b.org", "\r\n")
    assert convert(text, "3.0") is text
    v4 = card("KIND:org", version="4.0")
    assert convert(v4, "4.0") is v4


def test_each_card_of_a_text_is_converted_on_its_own() -> None:
    v3, v4 = card("EMAIL;TYPE=INTERNET:a@b.org"), card("KIND:org", version="4.0", eol="\r\n")
    out = convert(v3 + v4, "4.0")
    assert out == convert(v3, "4.0") + v4
    assert convert(v3 + v4, "3.0") == v3 + convert(v4, "3.0")


def test_bom_and_blank_lines() -> None:
    out = convert("\ufeff" + card("", "EMAIL;TYPE=INTERNET:a@b.org", " ", ""), "4.0")
    assert out.startswith("BEGIN:VCARD\r\n") and "\r\n\r\n" not in out


def test_errors() -> None:
    with pytest.raises(ValueError):
        convert(card(), "2.1")
    with pytest.raises(InvalidCard, match="no VERSION"):
        convert("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", "4.0")
    with pytest.raises(UnsupportedCard):
        convert(card(version="5.0"), "4.0")
    with pytest.raises(InvalidCard, match="no matching END"):
        convert("BEGIN:VCARD\r\nVERSION:3.0\r\n", "4.0")


def test_time_is_linear() -> None:
    small = card(*[f"TEL;TYPE=CELL,PREF:{k}" for k in range(50)])
    large = card(*[f"TEL;TYPE=CELL,PREF:{k}" for k in range(5000)])

    def best(text: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            convert(text, "4.0")
            times.append(time.perf_counter() - start)
        return min(times)

    assert best(large) < 300 * best(small)  # 100× the lines, well under quadratic
