"""vcard/edit.py's photo helpers: an inline PHOTO read back as image bytes, set and
removed in each vCard version, other lines kept byte for byte; only raster images
whose bytes say so."""

from __future__ import annotations

import base64

import pytest

from davcontacts.errors import InvalidInput
from davcontacts.vcard.edit import card_photo, image_type, set_photo

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 40
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x02" * 20


def card(version: str, extra: str = "") -> str:
    return (f"BEGIN:VCARD\r\nVERSION:{version}\r\nUID:p\r\nFN:Pic\r\n"
            f"X-SOCIALPROFILE;TYPE=twitter:https://x.example/p\r\n{extra}END:VCARD\r\n")


def test_image_types_come_from_the_bytes() -> None:
    assert image_type(PNG) == ("image/png", "PNG")
    assert image_type(JPEG) == ("image/jpeg", "JPEG")
    assert image_type(b"GIF89a...") == ("image/gif", "GIF")
    assert image_type(WEBP) == ("image/webp", "WEBP")
    assert image_type(b"<svg onload=alert(1)>") is None
    assert image_type(b"") is None


@pytest.mark.parametrize("version, head", [
    ("3.0", "PHOTO;ENCODING=b;TYPE=PNG:"), ("2.1", "PHOTO;ENCODING=BASE64;TYPE=PNG:"),
    ("4.0", "PHOTO:data:image/png;base64,")])
def test_set_read_and_remove_in_every_version(version: str, head: str) -> None:
    text = card(version)
    with_photo = set_photo(text, PNG)
    assert head in with_photo.replace("\r\n ", "")
    assert "X-SOCIALPROFILE;TYPE=twitter:https://x.example/p\r\n" in with_photo
    assert "\\" not in with_photo  # a data: URI is not escaped as text
    assert card_photo(with_photo) == (PNG, "image/png")
    replaced = set_photo(with_photo, JPEG)
    assert replaced.count("PHOTO") == 1 and card_photo(replaced) == (JPEG, "image/jpeg")
    assert set_photo(replaced, None) == text


def test_what_is_not_an_inline_raster_image_is_no_photo() -> None:
    svg = base64.b64encode(b"<svg onload=alert(1)></svg>").decode()
    assert card_photo(card("3.0")) is None
    assert card_photo(card("3.0", "PHOTO;VALUE=uri:https://example.org/p.jpg\r\n")) is None
    assert card_photo(card("3.0", f"PHOTO;ENCODING=b;TYPE=PNG:{svg}\r\n")) is None
    assert card_photo(card("4.0", "PHOTO:data:image/png,not-base64\r\n")) is None
    with pytest.raises(InvalidInput):
        set_photo(card("3.0"), b"<svg/>")
