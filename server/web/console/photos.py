"""Photos for signed-in pages (the API's routes want a bearer token; pages have a session)."""

from __future__ import annotations

from typing import Any

from flask import send_file

from server.services.files import attachments, photo_access
from server.web.console import bp
from server.web.session import page, signed_in


def _send(stored: attachments.StoredFile) -> Any:
    response = send_file(stored.path, mimetype=stored.mime, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/photos/<sha256>")
@page()
def photo(sha256: str) -> Any:
    """The public copy (EXIF stripped) of a photo the user may see."""
    if not attachments.is_sha256(sha256):
        return "", 404
    photo_access.check_readable(signed_in(), sha256)
    return _send(attachments.public_file(sha256))


@bp.get("/photos/<sha256>/thumbnail")
@page()
def thumbnail(sha256: str) -> Any:
    """The thumbnail, or the public copy while the worker has not made it yet."""
    if not attachments.is_sha256(sha256):
        return "", 404
    photo_access.check_readable(signed_in(), sha256)
    try:
        return _send(attachments.thumbnail_file(sha256))
    except attachments.ThumbnailPending:
        return _send(attachments.public_file(sha256))
