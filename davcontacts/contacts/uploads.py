"""Uploaded import files between the preview and the import: stored in the database
under a random token (model/uploads.py), readable by their uploader only, removed
after the import, on discard, or after UPLOAD_HOURS by the next upload."""

from __future__ import annotations

import datetime as _dt
import secrets
from pathlib import PurePosixPath

from ..errors import InvalidInput, NotFound
from ..model import User, utcnow, write_transaction
from ..model.uploads import Upload

UPLOAD_HOURS = 24
PER_USER = 5  # a user's older uploads beyond this are dropped
FORMATS = {".csv": "csv", ".vcf": "vcf", ".vcard": "vcf"}


def format_of(filename: str) -> str:
    """csv or vcf, from the file name's extension."""
    fmt = FORMATS.get(PurePosixPath(filename.lower()).suffix)
    if fmt is None:
        raise InvalidInput("choose a .csv or .vcf file")
    return fmt


def stash(user: User, filename: str, data: bytes) -> Upload:
    """Keep an uploaded file for `user`; its token names it in the next requests."""
    fmt = format_of(filename)
    if not data:
        raise InvalidInput("the file is empty")
    name = PurePosixPath(filename.replace("\\", "/")).name[:255] or f"upload.{fmt}"
    now = utcnow()
    with write_transaction():
        Upload.delete().where(Upload.created_at < now - _dt.timedelta(hours=UPLOAD_HOURS)
                              ).execute()
        keep = (Upload.select(Upload.id).where(Upload.user == user.id)
                .order_by(Upload.id.desc()).limit(PER_USER - 1))
        Upload.delete().where((Upload.user == user.id) & Upload.id.not_in(keep)).execute()
        return Upload.create(token=secrets.token_urlsafe(24), user=user.id, filename=name,
                             format=fmt, data=data, size=len(data), created_at=now)


def load(user: User, token: str) -> Upload:
    """The user's upload with this token (NotFound for anyone else's, or when gone)."""
    upload = Upload.get_or_none((Upload.token == token) & (Upload.user == user.id))
    if upload is None or upload.created_at < utcnow() - _dt.timedelta(hours=UPLOAD_HOURS):
        raise NotFound("this upload is gone (imported, discarded or too old): upload the "
                       "file again")
    return upload


def content(upload: Upload) -> bytes:
    return bytes(upload.data)  # PostgreSQL hands out a memoryview


def text(upload: Upload) -> str:
    """A CSV upload as text (UTF-8, with or without a BOM)."""
    try:
        return content(upload).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 (byte {exc.start}): save it as "
                           "CSV UTF-8 and upload it again") from None


def discard(upload: Upload) -> None:
    Upload.delete().where(Upload.id == upload.id).execute()
