"""Tests of davcontacts.vcard.edit: structured edits that change only the matching lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from davcontacts.vcard import parse_card, split_cards, structured_components
from davcontacts.vcard.edit import (
    categories,
    members,
    set_addresses,
    set_categories,
    set_members,
    set_multi,
    set_org_name,
    set_single,
    set_structured,
)
from davcontacts.vcard.parse import text_value

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "vcards"
SAMPLE_CARDS = [
    (path.name, index)
    for path in sorted(SAMPLES.glob("*.vcf"))
    for index in range(len(split_cards(path.read_bytes())))
]
EOLS = pytest.mark.parametrize("eol", ["\r\n", "\n"], ids=["CRLF", "LF"])
VERSIONS = pytest.mark.parametrize("version", ["3.0", "4.0"])


def card(*lines: str, eol: str = "\r\n", version: str = "4.0") -> str:
    """A card with VERSION, UID and FN, then ``lines`` (already folded if need be)."""
    body = ["BEGIN:VCARD", f"VERSION:{version}", "UID:u-1", "FN:Jane Doe", *lines, "END:VCARD"]
    return eol.join(body) + eol


def logical(text: str) -> list[str]:
    """Raw content lines with their continuation lines (and QP soft breaks) and endings."""
    out: list[str] = []
    prev = ""  # the previous physical line
    for phys in re.findall(r"[^\r\n]*(?:\r*\n|\r|$)", text):
        if not phys:
            continue
        soft_break = (
            bool(out) and "QUOTED-PRINTABLE" in out[-1].upper() and prev.rstrip("\r\n")[-1:] == "="
        )
        if out and (phys[0] in " \t" or soft_break):
            out[-1] += phys
        else:
            out.append(phys)
        prev = phys
    return out


def name_of(raw: str) -> str:
    match = re.match(r"(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)", raw)
    return match.group(1).upper() if match else ""


def others(text: str, *names: str) -> list[str]:
    """The raw lines of every property but ``names``."""
    return [raw for raw in logical(text) if name_of(raw) not in names]


def values(text: str, name: str) -> list[str]:
    return [text_value(line) for line in parse_card(text).all(name)]


def with_uid(text: str) -> str:
    """The sample with a UID line after BEGIN:VCARD if it has none (parse_card needs one)."""
    if re.search(r"^UID[;:]", text, re.M | re.I):
        return text
    match = re.match(r"\s*BEGIN:VCARD(\r*\n|\r)", text, re.I)
    assert match
    return text[: match.end()] + "UID:sample-uid" + match.group(1) + text[match.end() :]


def assert_folded(text: str) -> None:
    for phys in re.split(r"\r\n|\n", text):
        assert len(phys.encode()) <= 75, phys


# --- set_single --------------------------------------------------------------------------------


@EOLS
@VERSIONS
def test_single_replaced_in_place(eol: str, version: str) -> None:
    text = card("X-FOO;x-param=1:keep me", "item1.NOTE;LANGUAGE=en:old", "item1.X-ABLabel:l",
                "TEL:1", eol=eol, version=version)  # fmt: skip
    out = set_single(text, "note", "new")
    assert logical(out)[5] == f"item1.NOTE;LANGUAGE=en:new{eol}"
    assert others(out, "NOTE") == others(text, "NOTE")
    assert values(out, "NOTE") == ["new"]


@EOLS
def test_single_unchanged_returns_the_same_text(eol: str) -> None:
    text = card("NOTE:a\\, b\\; c\\nd", eol=eol)
    assert set_single(text, "NOTE", "a, b; c\nd") is text
    assert set_single(text, "FN", "Jane Doe") is text
    assert set_single(text, "TITLE", None) is text


def test_single_drops_further_lines_and_their_groups() -> None:
    text = card("NOTE:one", "TEL:1", "item2.NOTE:two", "item2.X-ABLabel:x", "TEL:2")
    out = set_single(text, "NOTE", "three")
    assert [name_of(raw) for raw in logical(out)] == [
        "BEGIN", "VERSION", "UID", "FN", "NOTE", "TEL", "TEL", "END"]  # fmt: skip
    assert values(out, "NOTE") == ["three"]


@EOLS
def test_single_none_removes_every_line(eol: str) -> None:
    text = card("NOTE:one", "item1.NOTE:two", "item1.X-ABLabel:x", "TEL:1", eol=eol)
    out = set_single(text, "NOTE", None)
    assert out == card("TEL:1", eol=eol)


@EOLS
@VERSIONS
def test_single_added_before_end(eol: str, version: str) -> None:
    text = card("TEL:1", eol=eol, version=version)
    out = set_single(text, "X-ABShowAs", "COMPANY")
    assert out == card("TEL:1", "X-ABShowAs:COMPANY", eol=eol, version=version)
    assert parse_card(out).kind == "company"


def test_single_params_given_replace_the_old_ones() -> None:
    text = card("item1.BDAY;VALUE=date:2000-01-01")
    out = set_single(text, "BDAY", "--0101", params="VALUE=date-and-or-time")
    assert "item1.BDAY;VALUE=date-and-or-time:--0101\r\n" in out
    assert set_single(text, "BDAY", "2000-01-01", params=";VALUE=date") is text
    assert "BDAY;X-A=1:x\r\n" in set_single(card(), "BDAY", "x", params=";X-A=1")


@VERSIONS
def test_escaping_round_trips(version: str) -> None:
    value = "back\\slash, comma; semi\nnew line"
    out = set_single(card(version=version), "NOTE", value)
    assert "NOTE:back\\\\slash\\, comma\\; semi\\nnew line\r\n" in out
    assert values(out, "NOTE") == [value]
    assert "NOTE:a\\nb\r\n" in set_single(card(version=version), "NOTE", "a\r\nb\x00")


def test_21_keeps_commas_and_drops_quoted_printable() -> None:
    text = card("NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=91", version="2.1")
    out = set_single(text, "NOTE", "a, b; c")
    assert "NOTE:a, b\\; c\r\n" in out
    assert values(out, "NOTE") == ["a, b; c"]
    bare = set_single(card("NOTE;QUOTED-PRINTABLE;X-A=1:=C3=91", version="2.1"), "NOTE", "x")
    assert "NOTE;X-A=1:x\r\n" in bare


@EOLS
def test_long_values_fold_at_75_octets_without_splitting_utf8(eol: str) -> None:
    value = "Grüße aus Köln 😀 東京 " * 12
    text = card("TITLE:short", eol=eol)
    out = set_single(text, "TITLE", value)
    assert_folded(out)
    assert all(len(p.encode()) in range(70, 76) for p in re.split(r"\r\n|\n", out)[4:8])
    assert values(out, "TITLE") == [value]
    assert f"{eol} " in out and ("\r\n" in out) == (eol == "\r\n")
    assert others(out, "TITLE") == others(text, "TITLE")


def test_folded_untouched_lines_stay_folded() -> None:
    folded = "NOTE:" + "x" * 70 + "\r\n " + "y" * 10
    text = card(folded, "TITLE:a")
    out = set_single(text, "TITLE", "b")
    assert folded + "\r\n" in out


def test_folded_head_is_rewritten_whole() -> None:
    text = card('item1.TITLE;X-LONG="' + "p" * 60 + '"\r\n ;LANGUAGE=en:old')
    out = set_single(text, "TITLE", "new")
    assert values(out, "TITLE") == ["new"]
    assert parse_card(out).first("TITLE").params == (("X-LONG", "p" * 60), ("LANGUAGE", "en"))


# --- set_structured and set_org_name -------------------------------------------------------------


@EOLS
@VERSIONS
def test_structured_escapes_each_component(eol: str, version: str) -> None:
    text = card("N;SORT-AS=Doe:Doe;Jane;;;", "TEL:1", eol=eol, version=version)
    out = set_structured(text, "N", ["O;Brien", "Mary, Ann", "", "", "Jr."])
    assert f"N;SORT-AS=Doe:O\\;Brien;Mary\\, Ann;;;Jr.{eol}" in out
    line = parse_card(out).first("N")
    assert structured_components(line.value) == ["O;Brien", "Mary, Ann", "", "", "Jr."]
    assert others(out, "N") == others(text, "N")
    assert set_structured(text, "N", ["Doe", "Jane", "", "", ""]) is text
    assert set_structured(text, "N", ["Doe", "Jane"]) is text  # trailing empties are equal
    assert set_structured(text, "N", None) == card("TEL:1", eol=eol, version=version)
    assert set_structured(card(), "ORG", ["A", "B"]).endswith("ORG:A;B\r\nEND:VCARD\r\n")


@EOLS
@VERSIONS
def test_org_name_keeps_departments_group_and_params(eol: str, version: str) -> None:
    text = card("TEL:1", "item1.ORG;TYPE=work:Old\\; Co;Dept\\, A;Unit", "ORG:Second",
                eol=eol, version=version)  # fmt: skip
    out = set_org_name(text, "New; Co, Ltd")
    assert logical(out)[5] == f"item1.ORG;TYPE=work:New\\; Co\\, Ltd;Dept\\, A;Unit{eol}"
    assert structured_components(parse_card(out).first("ORG").value)[:2] == [
        "New; Co, Ltd", "Dept, A"]  # fmt: skip
    assert others(out, "ORG") == others(text, "ORG")
    assert "ORG:Second" in out
    assert set_org_name(text, "Old; Co") is text


def test_org_name_added_or_removed() -> None:
    assert set_org_name(card("TEL:1"), "Acme").endswith("TEL:1\r\nORG:Acme\r\nEND:VCARD\r\n")
    assert set_org_name(card("TEL:1"), " ") == card("TEL:1")
    assert set_org_name(card("ORG:Acme", "TEL:1"), "") == card("TEL:1")
    assert "ORG:;Sales\r\n" in set_org_name(card("ORG:Acme;Sales"), "")


def test_org_name_decodes_quoted_printable_departments() -> None:
    text = card("ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=91;Dept=\r\n=20X", version="2.1")
    out = set_org_name(text, "Acme")
    assert "ORG:Acme;Dept X\r\n" in out
    assert set_org_name(text, "Ñ") is text


# --- categories --------------------------------------------------------------------------------


@EOLS
@VERSIONS
def test_categories_read_every_line(eol: str, version: str) -> None:
    lines = ("CATEGORIES:a\\,b,c , ,work", "item1.CATEGORIES:Work,d", "CATEGORIES:")
    text = card(*lines, eol=eol, version=version)
    assert categories(text) == ["a,b", "c", "work", "d"]
    assert categories(card()) == []


@EOLS
@VERSIONS
def test_set_categories(eol: str, version: str) -> None:
    text = card("CATEGORIES:b,a", "TEL:1", "CATEGORIES;X-A=1:c", "NOTE:n", eol=eol, version=version)
    assert set_categories(text, ["a", "c", "b"]) is text
    assert set_categories(text, [" c", "a", "b", "A", ""]) is text
    out = set_categories(text, ["a, b", "Ü" * 40, "c"])
    assert logical(out)[4].startswith("CATEGORIES:a\\, b,ÜÜ")
    assert_folded(out)
    assert categories(out) == ["a, b", "Ü" * 40, "c"]
    assert others(out, "CATEGORIES") == others(text, "CATEGORIES")
    assert set_categories(text, []) == card("TEL:1", "NOTE:n", eol=eol, version=version)
    added = set_categories(card("TEL:1", eol=eol), ["x"])
    assert added == card("TEL:1", "CATEGORIES:x", eol=eol)
    assert set_categories(card(eol=eol), []) == card(eol=eol)


def test_set_categories_keeps_group_and_params_of_the_first_line() -> None:
    out = set_categories(card("item3.CATEGORIES;CHARSET=UTF-8;X-A=1:a"), ["b"])
    assert "item3.CATEGORIES;X-A=1:b\r\n" in out


# --- members ------------------------------------------------------------------------------------


GROUP_40 = ("KIND:group", "MEMBER:urn:uuid:AAA", "MEMBER:URN:UUID:bbb", "MEMBER:plain-uid",
            "MEMBER;X-A=1:mailto:x@example.com", "NOTE:n")  # fmt: skip


@EOLS
def test_members_are_bare_uids_in_order(eol: str) -> None:
    assert members(card(*GROUP_40, eol=eol)) == ["AAA", "bbb", "plain-uid", "mailto:x@example.com"]
    apple = card("X-ADDRESSBOOKSERVER-KIND:group", "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:C",
                 eol=eol, version="3.0")  # fmt: skip
    assert members(apple) == ["C"]
    assert members(card()) == []


@EOLS
def test_set_members_40(eol: str) -> None:
    text = card(*GROUP_40, eol=eol)
    assert set_members(text, members(text)) is text
    assert set_members(text, list(reversed(members(text)))) is text
    out = set_members(text, ["plain-uid", "new-1", "mailto:x@example.com", "AAA", "new-2"])
    assert out == card("KIND:group", "MEMBER:urn:uuid:AAA", "MEMBER:plain-uid",
                       "MEMBER;X-A=1:mailto:x@example.com", "MEMBER:urn:uuid:new-1",
                       "MEMBER:urn:uuid:new-2", "NOTE:n", eol=eol)  # fmt: skip
    assert set_members(text, []) == card("KIND:group", "NOTE:n", eol=eol)


@EOLS
def test_set_members_30_uses_the_apple_property(eol: str) -> None:
    text = card("X-ADDRESSBOOKSERVER-KIND:group", "NOTE:n", eol=eol, version="3.0")
    out = set_members(text, ["u-2", "mailto:a@b.c"])
    new = ["X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:u-2", "X-ADDRESSBOOKSERVER-MEMBER:mailto:a@b.c"]
    assert out == card("X-ADDRESSBOOKSERVER-KIND:group", "NOTE:n", *new, eol=eol, version="3.0")
    assert members(out) == ["u-2", "mailto:a@b.c"]
    assert set_members(out, ["u-2", "u-3"]).count("X-ADDRESSBOOKSERVER-MEMBER:") == 2
    mixed = card("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a", "NOTE:n", eol=eol)  # 4.0, Apple's name
    assert set_members(mixed, ["a", "b"]) == card(
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a", "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:b", "NOTE:n",
        eol=eol)  # fmt: skip


def test_set_members_new_one_folds() -> None:
    out = set_members(card("KIND:group"), ["x" * 100])
    assert_folded(out)
    assert members(out) == ["x" * 100]


# --- set_multi ---------------------------------------------------------------------------------


IPHONE = (
    "item1.EMAIL;type=INTERNET;type=pref:john@ibm.com",
    "TEL;type=CELL;type=VOICE;type=pref:905-555-1234",
    "item2.TEL:905-222-1234",
    "item2.X-ABLabel:_$!<AssistantPhone>!$_",
    "TEL;type=HOME:905-666-1234",
    "item5.URL;type=pref:http\\://www.ibm.com",
    "item5.X-ABLabel:_$!<HomePage>!$_",
)


@EOLS
@VERSIONS
def test_multi_keeps_known_values_verbatim(eol: str, version: str) -> None:
    text = card(*IPHONE, eol=eol, version=version)
    tels = [(["cell"], "905-555-1234"), ([], "905-222-1234"), (["home"], "905-666-1234")]
    assert set_multi(text, "TEL", tels) is text
    assert set_multi(text, "URL", [([], "http://www.ibm.com")]) is text
    assert set_multi(text, "EMAIL", [(["work"], " john@ibm.com ")]) is text


@EOLS
@VERSIONS
def test_multi_removes_item_group_and_appends(eol: str, version: str) -> None:
    text = card(*IPHONE, eol=eol, version=version)
    out = set_multi(text, "TEL", [(["cell"], "905-555-1234"), (["work", "voice"], "+1 (555) 0,1")])
    assert out == card(IPHONE[0], IPHONE[1], "TEL;TYPE=work,voice:+1 (555) 0,1", *IPHONE[5:],
                       eol=eol, version=version)  # fmt: skip
    assert values(out, "TEL")[-1] == "+1 (555) 0,1"
    gone = set_multi(text, "URL", [])
    assert "item5" not in gone and others(gone, "URL", "X-ABLABEL") == others(
        text, "URL", "X-ABLABEL"
    )


def test_multi_reorders_within_the_places_of_that_name() -> None:
    text = card(*IPHONE)
    out = set_multi(text, "TEL", [(["x"], "905-666-1234"), ([], "new"), (["y"], "905-555-1234")])
    assert out == card(IPHONE[0], IPHONE[4], "TEL:new", IPHONE[1], *IPHONE[5:])


def test_multi_moves_a_kept_line_with_its_item_group() -> None:
    out = set_multi(card(*IPHONE), "TEL", [([], "905-222-1234"), (["work"], "1")])
    assert out == card(IPHONE[0], IPHONE[2], IPHONE[3], "TEL;TYPE=work:1", *IPHONE[5:])


def test_multi_escapes_text_but_not_uris() -> None:
    out = set_multi(card(), "EMAIL", [(["work"], "a,b@example.com")])
    assert "EMAIL;TYPE=work:a\\,b@example.com\r\n" in out
    out = set_multi(card(), "URL", [([], "https://e.com/a;b,c")])
    assert "URL:https://e.com/a;b,c\r\n" in out and values(out, "URL") == ["https://e.com/a;b,c"]
    out = set_multi(card(version="2.1"), "TEL", [(["work", "voice"], "1")])
    assert "TEL;work;voice:1\r\n" in out
    with pytest.raises(ValueError):
        set_multi(card(), "TEL", [(["a b"], "1")])


def test_multi_new_long_value_is_folded() -> None:
    out = set_multi(card(), "URL", [([], "https://example.com/" + "ü" * 80)])
    assert_folded(out)
    assert values(out, "URL") == ["https://example.com/" + "ü" * 80]


# --- set_addresses -----------------------------------------------------------------------------


HOME = ["", "", "Silicon Alley 5,", "New York", "New York", "12345", "USA"]
ADRS = (
    "item3.ADR;type=HOME;type=pref:;;Silicon Alley 5\\,;New York;New York;12345;USA",
    "item3.X-ABADR:us",
    "ADR;TYPE=WORK:;;1 Main St;Albany;NY;12345;",
    "LABEL;TYPE=WORK:1 Main St\\nAlbany",
    "NOTE:n",
)


@EOLS
@VERSIONS
def test_addresses(eol: str, version: str) -> None:
    text = card(*ADRS, eol=eol, version=version)
    work = ["", "", "1 Main St", "Albany", "NY", "12345"]
    assert set_addresses(text, [([], HOME), (["work"], work)]) is text
    swapped = set_addresses(text, [(["work"], work), ([], HOME)])
    assert swapped == card(ADRS[2], ADRS[3], ADRS[0], ADRS[1], ADRS[4], eol=eol, version=version)
    out = set_addresses(text, [(["home"], ["", "Apt; 2", "Elm St, 3", "Town", "", "1", "FR"])])
    assert out == card("ADR;TYPE=home:;Apt\\; 2;Elm St\\, 3;Town;;1;FR", "NOTE:n",
                       eol=eol, version=version)  # fmt: skip
    line = parse_card(out).first("ADR")
    assert structured_components(line.value) == ["", "Apt; 2", "Elm St, 3", "Town", "", "1", "FR"]
    assert set_addresses(text, []) == card("NOTE:n", eol=eol, version=version)
    with pytest.raises(ValueError):
        set_addresses(text, [([], [""] * 8)])


# --- what is not one vCard -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "BEGIN:VCARD\r\nVERSION:4.0\r\n",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nno colon\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCARD\r\n continued\r\nVERSION:4.0\r\nEND:VCARD\r\n",
    ],
)
def test_not_one_vcard(text: str) -> None:
    for edit in (lambda t: set_single(t, "NOTE", "x"), categories, members,
                 lambda t: set_multi(t, "TEL", [])):  # fmt: skip
        with pytest.raises(ValueError):
            edit(text)


def test_bad_names_and_params() -> None:
    for name in ("BEGIN", "VERSION", "A B", ""):
        with pytest.raises(ValueError):
            set_single(card(), name, "x")
    with pytest.raises(ValueError):
        set_single(card(), "NOTE", "x", params="TYPE=a:b")


def test_blank_lines_bom_and_crcrlf_survive() -> None:
    text = "\ufeffBEGIN:VCARD\r\r\nVERSION:3.0\r\r\n\r\r\nFN:a\r\r\nEND:VCARD\r\r\n\r\r\n"
    out = set_single(text, "NOTE", "n")
    assert out == text.replace("END:VCARD", "NOTE:n\r\nEND:VCARD")


# --- the real-world samples ----------------------------------------------------------------------


@pytest.mark.parametrize("name, index", SAMPLE_CARDS, ids=[f"{n}#{i}" for n, i in SAMPLE_CARDS])
def test_samples_edit_org_and_categories(name: str, index: int) -> None:
    text = with_uid(split_cards((SAMPLES / name).read_bytes())[index])
    out = set_org_name(text, "New Co, Ltd; Ü")
    org = parse_card(out).first("ORG")
    assert org is not None and structured_components(org.value)[0] == "New Co, Ltd; Ü"
    assert others(out, "ORG") == others(text, "ORG")
    names = [name_of(raw) for raw in logical(text)]
    position = names.index("ORG") if "ORG" in names else len(names) - 1  # in place, or before END
    assert name_of(logical(out)[position]) == "ORG"
    assert set_org_name(out, "New Co, Ltd; Ü") is out

    tags = categories(text)
    assert set_categories(text, list(reversed(tags))) is text
    out = set_categories(text, [*tags, "VIP, gold", "Ñandú"])
    parse_card(out)
    assert categories(out) == [*tags, "VIP, gold", "Ñandú"]
    assert others(out, "CATEGORIES") == others(text, "CATEGORIES")
    assert_folded("".join(raw for raw in logical(out) if name_of(raw) == "CATEGORIES"))
