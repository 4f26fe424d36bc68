"""A contact's photo: read the inline PHOTO of a stored card, set or remove it.

Model layer (vcard/): vcard.build covers no PHOTO, and edit.set_single escapes its
value as text (a 4.0 data: URI would gain backslashes), so these two helpers sit on
edit.py's card reader until they move to vcard/edit.py. Only raster images whose
bytes say what they are (JPEG, PNG, GIF, WebP) are stored or served: never SVG or
HTML under an image name.
"""

from __future__ import annotations

import base64
import binascii

from ..errors import InvalidInput
from ..vcard import edit
from ..vcard.parse import parse_card

# Magic bytes → (MIME type, vCard 3.0 TYPE).
_FORMATS = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)


def image_type(data: bytes) -> tuple[str, str] | None:
    """(MIME type, vCard TYPE) of a raster image, from its first bytes."""
    for magic, mime, vtype in _FORMATS:
        if data.startswith(magic):
            return mime, vtype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    return None


def card_photo(text: str) -> tuple[bytes, str] | None:
    """The inline image of the card's first PHOTO and its MIME type, or None (no
    photo, a URL, undecodable data, or not a raster image)."""
    line = parse_card(text).first("PHOTO")
    if line is None:
        return None
    value = line.value.strip()
    if value[:5].lower() == "data:":
        head, _, value = value.partition(",")
        if ";base64" not in head.lower():
            return None
    elif not {e.lower() for e in line.param_values("ENCODING")} & {"b", "base64"}:
        return None
    try:
        data = base64.b64decode("".join(value.split()), validate=False)
    except (binascii.Error, ValueError):
        return None
    kind = image_type(data)
    return (data, kind[0]) if kind else None


def set_photo(text: str, data: bytes | None) -> str:
    """The card with its PHOTO replaced by `data` (None removes it): a data: URI in
    vCard 4.0, ENCODING=b with TYPE in 3.0 (and BASE64 in 2.1)."""
    if data is None:
        return edit.set_single(text, "PHOTO", None)
    kind = image_type(data)
    if kind is None:
        raise InvalidInput("the photo must be a JPEG, PNG, GIF or WebP image")
    mime, vtype = kind
    b64 = base64.b64encode(data).decode("ascii")
    card = edit._read(text)
    if card.version == "4.0":
        value, params = f"data:{mime};base64,{b64}", ""
    elif card.version == "2.1":
        value, params = b64, f";ENCODING=BASE64;TYPE={vtype}"
    else:
        value, params = b64, f";ENCODING=b;TYPE={vtype}"
    found = card.find("PHOTO")
    return card.put(found, value, f"PHOTO{params}:{value}", lambda _: False, params)
