"""Photos for signed-in pages (the API's routes want a bearer token; pages have a session)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, send_file, url_for

from server.services.files import attachments, photo_access
from server.services.uow import unit_of_work
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


@bp.post("/photos/<sha256>/personal")
@page()
def photo_personal(sha256: str) -> Any:
    """Flag a photo as showing people (removed some time after its cases ended), or not;
    back to the case it was flagged on."""
    if not attachments.is_sha256(sha256):
        return "", 404
    photo_access.check_flaggable(signed_in(), sha256)
    with unit_of_work() as uow:
        attachments.set_personal(uow, sha256, request.form.get("personal") == "1")
    case_id = request.form.get("case_id", "")[:64]
    if not case_id:
        return redirect(url_for("console.cases"))
    return redirect(url_for("console.case_page", case_id=case_id) + "#h-photos")
