"""Tests of davcontacts.vcard.parse: real client exports and every validation rule."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from davcontacts.errors import InvalidCard, TooLarge, UnsupportedCard
from davcontacts.vcard import (
    ContentLine,
    detect_version,
    parse_card,
    split_cards,
    structured_components,
    unescape_value,
)

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
# Real-world samples (sources and licences in tests/data/vcards/README.md).
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "vcards"

# Files holding several cards, with their counts; all other samples hold one card.
MULTI = {"John_Doe_ANDROID.vcf": 6, "gmail-list.vcf": 3, "rfc2426-example.vcf": 2}
# The only samples that carry a UID; the others are address-book exports without one.
WITH_UID = {"John_Doe_EVOLUTION.vcf", "John_Doe_LOTUS_NOTES.vcf"}
VERSIONS = {
    "John_Doe_ANDROID.vcf": "2.1",
    "John_Doe_BLACK_BERRY.vcf": "2.1",
    "John_Doe_EVOLUTION.vcf": "3.0",
    "John_Doe_GMAIL.vcf": "3.0",
    "John_Doe_IPHONE.vcf": "3.0",
    "John_Doe_LOTUS_NOTES.vcf": "3.0",
    "John_Doe_MAC_ADDRESS_BOOK.vcf": "3.0",
    "John_Doe_MS_OUTLOOK.vcf": "2.1",
    "fullcontact.vcf": "4.0",
    "gmail-list.vcf": "3.0",
    "gmail-single.vcf": "3.0",
    "gmail-single2.vcf": "3.0",
    "outlook-2003.vcf": "2.1",
    "outlook-2007.vcf": "2.1",
    "rfc2426-example.vcf": "3.0",
    "rfc6350-example.vcf": "4.0",
    "thunderbird-MoreFunctionsForAddressBook-extension.vcf": "3.0",
}
SAMPLE_NAMES = sorted(VERSIONS)
SINGLE_NAMES = [name for name in SAMPLE_NAMES if name not in MULTI]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def with_uid(text: str, uid: str = "sample-uid") -> str:
    """Insert a UID line right after BEGIN:VCARD, with the card's own line ending."""
    match = re.match(r"\s*BEGIN:VCARD(\r*\n|\r)", text, re.I)
    assert match, text[:40]
    return text[: match.end()] + f"UID:{uid}" + match.group(1) + text[match.end() :]


def card(
    *lines: str,
    version: str = "3.0",
    uid: str | None = "u-1",
    fn: str | None = "Jane Doe",
    eol: str = "\r\n",
) -> str:
    head = ["BEGIN:VCARD", f"VERSION:{version}"]
    head += [f"UID:{uid}"] if uid is not None else []
    head += [f"FN:{fn}"] if fn is not None else []
    return eol.join([*head, *lines, "END:VCARD"]) + eol


def reason(exc: pytest.ExceptionInfo[InvalidCard]) -> str:
    return exc.value.reason


# --- real-world samples --------------------------------------------------------------------


def test_sample_list_is_complete() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.vcf")) == SAMPLE_NAMES


@pytest.mark.parametrize("name", SINGLE_NAMES)
def test_single_card_samples(name: str) -> None:
    data = sample(name)
    assert detect_version(data) == VERSIONS[name]
    [whole] = split_cards(data)
    assert (
        data.decode("utf-8").startswith(whole) and data.decode("utf-8")[len(whole) :].strip() == ""
    )
    if name in WITH_UID:
        parsed = parse_card(data)
    else:
        # Legitimately rejected: a resource needs a UID (RFC 6352 §5.1); with one it parses.
        with pytest.raises(InvalidCard) as exc:
            parse_card(data)
        assert reason(exc) == "the vCard has no UID"
        parsed = parse_card(with_uid(data.decode("utf-8")))
        assert parsed.uid == "sample-uid"
    assert parsed.version == VERSIONS[name]
    assert parsed.kind == "person"
    assert parsed.fn
    assert parsed.lines[0].name != "BEGIN" and parsed.lines[-1].name != "END"


@pytest.mark.parametrize("name", sorted(MULTI))
def test_multi_card_samples(name: str) -> None:
    data = sample(name)
    text = data.decode("utf-8")
    cards = split_cards(data)
    assert len(cards) == MULTI[name]
    pos = 0
    for one in cards:  # each card is exactly the next slice of the original text
        start = text.index(one, pos)
        assert text[pos:start].strip() == ""
        pos = start + len(one)
        assert one.upper().startswith("BEGIN:VCARD") and one.rstrip().upper().endswith("END:VCARD")
        with pytest.raises(InvalidCard, match="no UID"):
            parse_card(one)
        assert parse_card(with_uid(one)).version == VERSIONS[name]
    assert text[pos:].strip() == ""
    with pytest.raises(InvalidCard) as exc:
        parse_card(data)
    assert reason(exc) == f"the body holds {MULTI[name]} vCards; a resource holds exactly one"
    assert detect_version(data) is None


def test_iphone_groups_labels_and_folded_photo() -> None:
    # iOS ends lines with "\r\r\n" and folds the base64 photo over hundreds of lines.
    parsed = parse_card(with_uid(sample("John_Doe_IPHONE.vcf").decode()))
    email = parsed.first("email")
    assert email is not None and email.group == "item1"
    assert email.param_values("type") == ["INTERNET", "pref"]
    labels = {line.group: line.value for line in parsed.all("X-ABLabel")}
    assert labels["item2"] == "_$!<AssistantPhone>!$_"
    assert parsed.all("TEL")[0].param_values("TYPE") == ["CELL", "VOICE", "pref"]
    photo = parsed.first("PHOTO")
    assert photo is not None and "\r" not in photo.value and "\n" not in photo.value
    assert base64.b64decode(photo.value).startswith(b"\xff\xd8")  # a JPEG
    assert parsed.fn == "Mr. John Richter James Doe Sr."


def test_evolution_quoted_params_and_escapes() -> None:
    parsed = parse_card(sample("John_Doe_EVOLUTION.vcf"))
    assert parsed.uid == "477343c8e6bf375a9bac1f96a5000837"
    assert parsed.fn == "Mr. John Richter, James Doe Sr."
    aim = parsed.first("X-AIM")
    assert aim == ContentLine(
        None,
        "X-AIM",
        (("TYPE", "HOME"), ("X-COUCHDB-UUID", "cb9e11fc-bb97-4222-9cd8-99820c1de454")),
        "johnny5@aol.com",
    )
    n = parsed.first("N")
    assert n is not None
    assert structured_components(n.value) == ["Doe", "John", "Richter, James", "Mr.", "Sr."]


def test_quoted_printable_21_samples() -> None:
    cards = split_cards(sample("John_Doe_ANDROID.vcf"))
    parsed = parse_card(with_uid(cards[3]))
    assert parsed.fn == " ".join(["Ñ"] * 11)  # soft line breaks joined, then decoded
    notes = parsed.all("NOTE")
    assert len(notes) == 2 and all("\n" not in n.value and "=\r" not in n.value for n in notes)
    last = parse_card(with_uid(cards[5]))  # a soft break followed by a blank line
    assert [line.name for line in last.lines].count("ORG") == 3
    outlook = parse_card(with_uid(sample("outlook-2007.vcf").decode()))
    note = outlook.first("NOTE")
    assert note is not None and note.value.endswith("It does not preserve the formatting")
    tel = outlook.first("TEL")
    assert tel is not None and tel.param_values("TYPE") == ["WORK", "VOICE"]
    photo = outlook.first("PHOTO")
    assert photo is not None and photo.param_values("ENCODING") == ["BASE64"]


def test_rfc6350_example_quoted_type_list() -> None:
    parsed = parse_card(with_uid(sample("rfc6350-example.vcf").decode()))
    tel = parsed.first("TEL")
    assert tel is not None and tel.value == "tel:+1-418-656-9254;ext=102"
    assert tel.param_values("TYPE") == ["work", "voice"]
    assert tel.param_values("PREF") == ["1"]
    adr = parsed.first("ADR")
    assert adr is not None
    assert structured_components(adr.value)[2:4] == ["2875 Laurier", "Quebec"]


# --- structure and encoding rules ----------------------------------------------------------


def test_minimal_card() -> None:
    parsed = parse_card(card("N:Doe;Jane;;;", "EMAIL:jane@example.org"))
    assert (parsed.version, parsed.uid, parsed.fn, parsed.kind) == (
        "3.0",
        "u-1",
        "Jane Doe",
        "person",
    )
    assert [line.name for line in parsed.lines] == ["VERSION", "UID", "FN", "N", "EMAIL"]


def test_too_large_is_checked_before_decoding() -> None:
    data = card().encode()
    assert parse_card(data, max_size=len(data)).uid == "u-1"
    with pytest.raises(TooLarge) as exc:
        parse_card(data, max_size=len(data) - 1)
    assert exc.value.condition == CARDDAV + "max-resource-size"
    with pytest.raises(TooLarge):
        parse_card(b"\xff" * 100, max_size=10)
    with pytest.raises(TooLarge):  # str input is measured in UTF-8 bytes
        parse_card(card(fn="Ñ" * 50), max_size=len(card(fn="Ñ" * 50)))


def test_not_utf8() -> None:
    with pytest.raises(InvalidCard, match=r"^not UTF-8 text"):
        parse_card(card(fn="Müller").encode("latin-1"))
    with pytest.raises(InvalidCard, match=r"^not UTF-8 text"):
        parse_card(card(fn="\ud800"))


def test_bom_and_str_input() -> None:
    assert parse_card(b"\xef\xbb\xbf" + card().encode()).uid == "u-1"
    assert parse_card("\ufeff" + card()).uid == "u-1"
    assert parse_card(card(fn="Ñandú")).fn == "Ñandú"


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r", "\r\r\n"])
def test_line_endings(eol: str) -> None:
    parsed = parse_card(card("NOTE:a long", "  note", "TEL:1", eol=eol))
    assert parse_card(card("NOTE:a long", "  note", "TEL:1")).lines == parsed.lines
    note = parsed.first("NOTE")
    assert note is not None and note.value == "a long note"


def test_folding_with_space_and_tab() -> None:
    lines = ("NOTE:one", " two", "\tthree", "  four", "TE", " L;TY", "\tPE=cell:12", " 3")
    parsed = parse_card(card(*lines))
    assert parsed.lines[3].value == "onetwothree four"
    tel = parsed.first("TEL")
    assert tel is not None and tel.params == (("TYPE", "cell"),) and tel.value == "123"


def test_blank_lines_around_and_inside_are_ignored() -> None:
    text = "\r\n\r\n" + card("", "TEL:1", "   ").replace("END:", "\r\nEND:") + "\r\n\r\n"
    assert parse_card(text).first("TEL") is not None


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "the body is empty; expected one vCard"),
        (" \r\n\r\n", "the body is empty; expected one vCard"),
        (
            "VERSION:3.0\r\nBEGIN:VCARD\r\nEND:VCARD\r\n",
            "line 1: the body must start with BEGIN:VCARD",
        ),
        (
            "\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            "line 2: the body must start with BEGIN:VCARD",
        ),
        (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:x\r\n",
            "line 1: BEGIN:VCARD has no matching END:VCARD",
        ),
        (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCALENDAR\r\n",
            "line 3: END:VCALENDAR does not close a vCard",
        ),
        (
            "BEGIN:VCARD\r\n continued\r\nEND:VCARD\r\n",
            "line 2: a continuation line follows no property",
        ),
    ],
)
def test_structure_errors(body: str, message: str) -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(body)
    assert reason(exc) == message


def test_several_cards_and_trailing_text() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card() + card(uid="u-2"))
    assert reason(exc) == "the body holds 2 vCards; a resource holds exactly one"
    with pytest.raises(InvalidCard) as exc:
        parse_card(card() + "\r\n" + card(uid="u-2") + card(uid="u-3"))
    assert reason(exc) == "the body holds 3 vCards; a resource holds exactly one"
    with pytest.raises(InvalidCard) as exc:
        parse_card(card() + "\r\ngarbage\r\n")
    assert reason(exc) == "line 7: text after END:VCARD"
    assert parse_card(card() + "\r\n \r\n\r\n").uid == "u-1"


def test_nested_agent_card() -> None:
    nested = card("AGENT:", "BEGIN:VCARD", "VERSION:2.1", "FN:Agent", "END:VCARD", version="2.1")
    with pytest.raises(InvalidCard) as exc:
        parse_card(nested)
    assert reason(exc).startswith("line 6: BEGIN:VCARD inside the vCard; nested vCards")
    # vCard 3.0 embeds the agent as an escaped text value: that is one ordinary line.
    escaped = card(r"AGENT:BEGIN:VCARD\nVERSION:3.0\nFN:Agent\nEND:VCARD\n")
    agent = parse_card(escaped).first("AGENT")
    assert agent is not None and unescape_value(agent.value).startswith("BEGIN:VCARD\nVERSION:3.0")


@pytest.mark.parametrize(
    "line, message",
    [
        ("just some text", "line 5: property has no ':'"),
        ("TEL;TYPE=cell", "line 5: property has no ':'"),
        ("BAD NAME:x", "line 5: invalid property name 'BAD NAME'"),
        ("item1..EMAIL:x", "line 5: invalid property name 'item1..EMAIL'"),
        ("a.b.EMAIL:x", "line 5: invalid property name 'a.b.EMAIL'"),
        ("X_UNDERSCORE:x", "line 5: invalid property name 'X_UNDERSCORE'"),
        (":value", "line 5: invalid property name ''"),
        ('TEL;TYPE="cell:123', "line 5: unterminated quoted parameter value"),
        ("TEL;;TYPE=cell:123", "line 5: malformed parameters"),
        ("TEL;TY PE=cell:123", "line 5: malformed parameters"),
    ],
)
def test_invalid_content_lines(line: str, message: str) -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card(line))
    assert reason(exc).startswith(message)


def test_line_numbers_count_physical_lines() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card("NOTE:folded", " over", " three", "oops", eol="\n"))
    assert reason(exc).startswith("line 8: property has no ':'")


def test_nul_is_rejected() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card("NOTE:a\x00b"))
    assert reason(exc) == ("line 5: the vCard contains a NUL character, "
                           "which RFC 6350 does not allow")


# --- VERSION, UID, FN ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.1", "3.0", "4.0"])
def test_supported_versions(version: str) -> None:
    assert parse_card(card(version=version)).version == version


@pytest.mark.parametrize("version", ["5.0", "1.0", "3"])
def test_unsupported_version(version: str) -> None:
    with pytest.raises(UnsupportedCard) as exc:
        parse_card(card(version=version))
    assert reason(exc) == f"vCard version {version} is not supported; use 3.0 or 4.0"
    assert exc.value.condition == CARDDAV + "supported-address-data"


def test_version_missing_or_repeated() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card("BEGIN:VCARD\r\nUID:1\r\nFN:x\r\nEND:VCARD\r\n")
    assert reason(exc) == "the vCard has no VERSION"
    with pytest.raises(InvalidCard, match="2 VERSION lines"):
        parse_card(card("VERSION:3.0"))


def test_uid_rules() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card(uid=None))
    assert reason(exc) == "the vCard has no UID"
    assert exc.value.condition == CARDDAV + "valid-address-data"
    with pytest.raises(InvalidCard, match="2 UID lines"):
        parse_card(card("UID:u-2"))
    with pytest.raises(InvalidCard, match="UID is empty"):
        parse_card(card(uid="  "))
    assert parse_card(card(uid=" urn:uuid:0A1b-2C ")).uid == "urn:uuid:0A1b-2C"
    assert parse_card(card(uid=r"a\,b\;c")).uid == "a,b;c"


def test_fn_rules() -> None:
    with pytest.raises(InvalidCard) as exc:
        parse_card(card(fn=None))
    assert reason(exc) == "a vCard 3.0 needs FN"
    assert parse_card(card(fn=None, version="4.0")).fn == ""
    assert parse_card(card(fn=None, version="2.1")).fn == ""
    assert parse_card(card(fn=r"Doe\, Jane\nJr.")).fn == "Doe, Jane\nJr."
    qp_fn = ("FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=91and=", "=C3=BA")
    qp = card(*qp_fn, fn=None, version="2.1")
    assert parse_card(qp).fn == "Ñandú"


# --- kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, version, kind",
    [
        ((), "3.0", "person"),
        (("KIND:group", "MEMBER:urn:uuid:1"), "4.0", "group"),
        (("KIND:GROUP",), "4.0", "group"),
        (("KIND:org",), "4.0", "company"),
        (("KIND:individual",), "4.0", "person"),
        (("KIND:location",), "4.0", "person"),
        (
            ("X-ADDRESSBOOKSERVER-KIND:group", "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:1"),
            "3.0",
            "group",
        ),
        (("X-ABShowAs:COMPANY", "ORG:Acme"), "3.0", "company"),
        (("x-abshowas:company",), "3.0", "company"),
        (("X-ABShowAs:PERSON",), "3.0", "person"),
    ],
)
def test_kind(lines: tuple[str, ...], version: str, kind: str) -> None:
    assert parse_card(card(*lines, version=version)).kind == kind


# --- content lines and parameters ----------------------------------------------------------


def test_item_groups_and_labels() -> None:
    parsed = parse_card(
        card(
            "item1.EMAIL;type=INTERNET:a@b.c",
            "item1.X-ABLabel:_$!<Other>!$_",
            "ITEM2.tel:1",
            "item2.X-ABLabel:custom",
        )
    )
    email = parsed.first("EMAIL")
    assert email == ContentLine("item1", "EMAIL", (("TYPE", "INTERNET"),), "a@b.c")
    assert [(line.group, line.value) for line in parsed.all("x-ablabel")] == [
        ("item1", "_$!<Other>!$_"),
        ("item2", "custom"),
    ]
    tel = parsed.first("TEL")
    assert tel is not None and tel.group == "ITEM2"
    assert parsed.first("PHOTO") is None and parsed.all("PHOTO") == []


def test_quoted_params_with_colon_and_semicolon() -> None:
    parsed = parse_card(
        card(
            'X-FOO;LABEL="Main St; 5: left";type=home:value:with:colons',
            'ADR;LABEL="a,b";TYPE="work,home":;;Street;;;;',
        )
    )
    foo = parsed.first("X-FOO")
    assert foo is not None
    assert foo.params == (("LABEL", "Main St; 5: left"), ("TYPE", "home"))
    assert foo.value == "value:with:colons"
    adr = parsed.first("ADR")
    assert adr is not None and adr.param_values("TYPE") == ["work", "home"]


def test_param_values() -> None:
    parsed = parse_card(
        card(
            "TEL;type=CELL;TYPE=voice,pref;Type=x-custom;PREF=1:1",
            "TEL;WORK;FAX;ENCODING=8BIT:2",
            "TEL;HOME;QUOTED-PRINTABLE:3",
            "TEL;TYPE=:4",
        )
    )
    cell, work, home, empty = parsed.all("TEL")
    assert cell.param_values("type") == ["CELL", "voice", "pref", "x-custom"]
    assert cell.param_values("PREF") == ["1"]
    assert cell.param_values("LABEL") == []
    assert work.params == (("WORK", None), ("FAX", None), ("ENCODING", "8BIT"))
    assert work.param_values("TYPE") == ["WORK", "FAX"]
    assert home.param_values("TYPE") == ["HOME"]
    assert home.param_values("encoding") == ["QUOTED-PRINTABLE"]
    assert empty.params == (("TYPE", ""),) and empty.param_values("TYPE") == []


def test_value_is_raw() -> None:
    parsed = parse_card(card(r"NOTE:a\, b\nc", "URL:http\\://x", "X-EMPTY:"))
    assert [line.value for line in parsed.lines[3:]] == [r"a\, b\nc", "http\\://x", ""]


def test_content_line_is_frozen() -> None:
    line = ContentLine(None, "TEL", (), "1")
    with pytest.raises(AttributeError):
        line.value = "2"  # type: ignore[misc]


# --- text helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, text",
    [
        ("plain", "plain"),
        (r"a\nb\Nc", "a\nb\nc"),
        (r"a\,b\;c\\d", "a,b;c\\d"),
        (r"\\n", "\\n"),
        (r"http\://x", "http://x"),
        ("trailing\\", "trailing\\"),
        ("", ""),
    ],
)
def test_unescape_value(raw: str, text: str) -> None:
    assert unescape_value(raw) == text


@pytest.mark.parametrize(
    "raw, parts",
    [
        ("Doe;John;Richter\\, James;Mr.;Sr.", ["Doe", "John", "Richter, James", "Mr.", "Sr."]),
        (
            ";;123 Main St\\nApt 4;City;;12345;",
            ["", "", "123 Main St\nApt 4", "City", "", "12345", ""],
        ),
        ("IBM;Accounting", ["IBM", "Accounting"]),
        ("a\\;b;c", ["a;b", "c"]),
        ("a\\\\;b", ["a\\", "b"]),
        ("Acme", ["Acme"]),
        ("", [""]),
        ("a;", ["a", ""]),
        ("x\\", ["x\\"]),
    ],
)
def test_structured_components(raw: str, parts: list[str]) -> None:
    assert structured_components(raw) == parts


# --- detect_version and split_cards --------------------------------------------------------


def test_detect_version() -> None:
    assert detect_version(card(version="4.0").encode()) == "4.0"
    assert detect_version("\ufeff\r\n" + card(version="2.1")) == "2.1"
    assert detect_version(card() + card()) is None
    assert detect_version(card() + "junk") is None
    assert detect_version("BEGIN:VCARD\r\nUID:1\r\nEND:VCARD\r\n") is None
    assert detect_version(card().replace("END:VCARD", "")) is None
    assert detect_version("VERSION:3.0\r\n") is None
    assert detect_version(b"\xff\xfe") is None


def test_split_cards_keeps_exact_text() -> None:
    one, two = card(), card(uid="u-2", eol="\n")
    text = "\ufeff\r\n" + one + "\r\n" + two.rstrip("\n")
    cards = split_cards(text.encode())
    assert cards == [one, two.rstrip("\n")]
    assert split_cards("") == [] and split_cards("\r\n \r\n") == []
    assert split_cards(one.replace("\r\n", "\r")) == [one.replace("\r\n", "\r")]


def test_split_cards_keeps_nested_agent_inside() -> None:
    nested = card("AGENT:", "BEGIN:VCARD", "VERSION:2.1", "END:VCARD", version="2.1")
    assert split_cards(nested + card()) == [nested, card()]


def test_split_cards_structure_errors() -> None:
    with pytest.raises(InvalidCard) as exc:
        split_cards(card() + "garbage\r\n" + card())
    assert reason(exc) == "line 6: expected BEGIN:VCARD, found 'garbage'"
    with pytest.raises(InvalidCard) as exc:
        split_cards(card() + "BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert reason(exc) == "line 6: BEGIN:VCARD has no matching END:VCARD"
    with pytest.raises(InvalidCard, match=r"^not UTF-8 text"):
        split_cards(b"BEGIN:VCARD\r\nFN:\xe9\r\nEND:VCARD\r\n")


def test_other_control_characters_are_rejected() -> None:
    text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Esc\x1bape\r\nEND:VCARD\r\n"
    with pytest.raises(InvalidCard) as info:
        parse_card(text)
    assert "line 4" in info.value.reason and "U+001B" in info.value.reason


def test_split_cards_with_mixed_line_breaks_in_one_file() -> None:
    """An export mixes cards written with LF, bare CR and CRLF."""
    text = ("BEGIN:VCARD\nVERSION:3.0\nUID:a\nFN:A\nEND:VCARD\n"
            "BEGIN:VCARD\rVERSION:4.0\rUID:b\rFN:B\rEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:C\r\nEND:VCARD\r\n")
    cards = split_cards(text)
    assert "".join(cards) == text
    assert [parse_card(c).uid for c in cards] == ["a", "b", "c"]
