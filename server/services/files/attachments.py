"""Photos for cases: stored once per SHA-256, checked to really be images, GPS kept private.

A collector's phone photo often carries the GPS position in its EXIF data. The original is
evidence and is kept as uploaded, privately; what the API serves is a re-encoded public copy
with every metadata block removed (orientation applied first, so the photo still stands up).
Thumbnails are made later, by a task, from the public copy — so no GPS can leak through them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from flask import current_app
from PIL import ExifTags, Image, ImageOps
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.errors import DomainError, Invalid, NotFound
from server.extensions import db
from server.models import Attachment, CaseAttachment
from server.models.attachments import ATTACHMENT_ROLES
from server.services.files import media
from server.services.files.media import Variant
from server.services.uow import UnitOfWork

log = logging.getLogger(__name__)

THUMBNAIL_TASK = "minqing.attachments.thumbnail"
SHA256_RE = re.compile(r"[0-9a-f]{64}")
# The largest photo we decode. A 50 MP phone camera fits; a "decompression bomb" — a small
# file that claims gigapixels and would eat the memory of the process — does not.
MAX_PIXELS = 80_000_000
# MAX_CONTENT_LENGTH is the upload limit plus this allowance for multipart framing
# (server/config.py); the file itself may be MINQING_MAX_UPLOAD_MB at most.
MULTIPART_ALLOWANCE = 64 * 1024

# Pillow format -> (MIME type, file extension of the public copy)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS = {mime: ext for mime, ext in FORMATS.values()}
# Documents (deliberation minutes, notices): stored as sent, never decoded, no thumbnail.
PDF = "application/pdf"
EXTENSIONS[PDF] = "pdf"


@dataclass(frozen=True)
class DecodedPhoto:
    """What decoding an upload found, and the public copy made from it."""

    mime: str
    width: int
    height: int
    had_gps: bool
    public_bytes: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file the API may send: where it is and what it is."""

    path: Path
    mime: str
    etag: str


# --- refusals ---------------------------------------------------------------------------


def _too_large(limit: int) -> DomainError:
    mib = limit / (1024 * 1024)
    return DomainError(
        "payload_too_large",
        f"The file is larger than {mib:g} MiB",
        f"文件超过 {mib:g} MiB 的上限",
        field="file",
        status=413,
    )


def _bad_sha_format() -> DomainError:
    return Invalid(
        "validation_error",
        "sha256: must be 64 lowercase hexadecimal digits",
        "字段 sha256：必须是 64 位小写十六进制数字",
        field="sha256",
    )


def _hash_mismatch(declared: str, actual: str) -> DomainError:
    return DomainError(
        "hash_mismatch",
        "The body's SHA-256 differs from the one declared: the upload is damaged or wrong",
        "上传内容的 SHA-256 与声明的不一致：文件已损坏或传错",
        field="sha256",
        status=400,
        details={"declared": declared, "actual": actual},
    )


def _not_an_image() -> DomainError:
    return DomainError(
        "unsupported_media_type",
        "The file is not a complete JPEG, PNG or WebP image",
        "文件不是完整的 JPEG、PNG 或 WebP 图片（或已损坏）",
        field="file",
        status=415,
    )


def _too_many_pixels(width: int | None = None, height: int | None = None) -> DomainError:
    size = f" ({width}×{height})" if width and height else ""
    return DomainError(
        "image_too_large",
        f"The image has more than {MAX_PIXELS // 1_000_000} megapixels{size}",
        f"图片超过 {MAX_PIXELS // 1_000_000} 百万像素{size}",
        field="file",
        status=413,
    )


class PhotoRemoved(DomainError):
    """410: a photo of people removed after its cases ended (PIPL retention)."""

    status = 410

    def __init__(self, field: str = "sha256") -> None:
        super().__init__(
            "photo_removed",
            f"{field}: this photo showed people and was removed after its cases ended "
            "(personal data protection)",
            f"字段 {field}：该照片含个人信息，已在相关事项结束后删除（个人信息保护）",
            field=field,
        )


PERSONAL_VALUES = {"true": True, "1": True, "on": True, "false": False, "0": False}


def parse_personal(value: object, field: str = "personal") -> bool:
    """The optional `personal` flag of an upload (the photo shows people): absent or empty is
    false; `true`/`false`, `1`/`0` (and `on`, a checked HTML box) or a JSON boolean; anything
    else is a 400 naming the field."""
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in PERSONAL_VALUES:
        return PERSONAL_VALUES[value.strip().lower()]
    raise DomainError(
        "validation_error",
        f"{field}: must be true or false (1 or 0): does the photo show people?",
        f"字段 {field}：应为 true 或 false（1 或 0），表示照片是否含有人物（个人信息）",
        field=field,
        status=400,
    )


def _unknown(missing: list[str], field: str) -> DomainError:
    return Invalid(
        "unknown_attachment",
        f"{field}: no photo uploaded with SHA-256 {', '.join(missing)}",
        f"字段 {field}：以下照片尚未上传：{', '.join(missing)}",
        field=field,
        details={"missing": missing},
    )


# --- checks and decoding ----------------------------------------------------------------


def max_upload_bytes() -> int:
    """MINQING_MAX_UPLOAD_MB in bytes."""
    configured = current_app.config.get("MAX_UPLOAD_BYTES")
    if configured:
        return int(configured)
    return int(current_app.config["MAX_CONTENT_LENGTH"]) - MULTIPART_ALLOWANCE


def is_sha256(value: str) -> bool:
    return SHA256_RE.fullmatch(value) is not None


def _check_declared_hash(declared: str | None, actual: str) -> None:
    if declared is None:
        return
    if not is_sha256(declared):
        raise _bad_sha_format()
    if declared != actual:
        raise _hash_mismatch(declared, actual)


def _had_gps(image: Image.Image) -> bool:
    """Whether the image's EXIF data has a GPSInfo IFD (position where it was taken)."""
    try:
        return ExifTags.IFD.GPSInfo in image.getexif()
    except Exception:  # unreadable EXIF: nothing we can tell; the public copy drops it anyway
        log.warning("unreadable EXIF data in an upload", exc_info=True)
        return False


def _upright(image: Image.Image) -> Image.Image:
    """A new image, turned as the EXIF orientation says (phones store photos sideways)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # broken orientation data: keep the pixels as stored
        log.warning("could not apply EXIF orientation", exc_info=True)
        return image.copy()


def _public_copy(upright: Image.Image, pil_format: str, icc_profile: bytes | None) -> bytes:
    """Re-encode without any metadata (EXIF, GPS, XMP, comments); keep the colour profile."""
    transparency = upright.info.get("transparency")
    upright.info = {}  # a fresh image (see _upright): no metadata of the original may pass
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if pil_format == "JPEG":
        options.update(quality=90, optimize=True)
    elif pil_format == "WEBP":
        options.update(quality=90)
    elif transparency is not None:  # PNG with a transparent colour (palette or grey/RGB)
        options["transparency"] = transparency
    out = BytesIO()
    upright.save(out, format=pil_format, **options)
    return out.getvalue()


def _format_of(image: Image.Image) -> str:
    # A JPEG holding several pictures (MPO, from some phone cameras) is still a JPEG to us;
    # the public copy keeps the first picture.
    pil_format = "JPEG" if image.format == "MPO" else str(image.format)
    if pil_format not in FORMATS:
        raise _not_an_image()
    return pil_format


def decode_photo(data: bytes) -> DecodedPhoto:
    """Prove the bytes are a whole JPEG, PNG or WebP image and make its public copy.

    `verify()` checks the container; the full decode (`load()`) then catches truncated or
    corrupt pixel data, which `verify()` alone does not for JPEG.
    """
    formats = list(FORMATS)
    try:
        with Image.open(BytesIO(data), formats=formats) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:  # refused before any pixel is decoded
                raise _too_many_pixels(width, height)
            probe.verify()
        with Image.open(BytesIO(data), formats=formats) as image:
            image.load()
            pil_format = _format_of(image)
            had_gps = _had_gps(image)
            upright = _upright(image)
            public = _public_copy(upright, pil_format, image.info.get("icc_profile"))
    except DomainError:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels() from exc
    except Exception as exc:  # any failure of the decoder means: not an image we accept
        raise _not_an_image() from exc
    return DecodedPhoto(
        mime=FORMATS[pil_format][0],
        width=upright.width,
        height=upright.height,
        had_gps=had_gps,
        public_bytes=public,
    )


# --- paths ------------------------------------------------------------------------------


def path_for(sha256: str, variant: Variant, *, mime: str | None = None) -> Path:
    """The file of a photo's variant. The public copy keeps the format of the original, so
    its extension needs the MIME type (looked up when not given)."""
    if variant == "original":
        return media.media_path(sha256, "original")
    if variant == "thumb":
        return media.media_path(sha256, "thumb", "jpg")
    if mime is None:
        row = db.session.get(Attachment, sha256)
        if row is None:
            raise NotFound("Photo", "照片", field="sha256")
        mime = row.mime
    return media.media_path(sha256, "public", EXTENSIONS[mime])


# --- use cases --------------------------------------------------------------------------


def find(sha256: str) -> Attachment | None:
    """The stored photo with this hash, if any (malformed hashes are simply not found)."""
    if not is_sha256(sha256):
        return None
    return db.session.get(Attachment, sha256)


def store_upload(
    uow: UnitOfWork,
    data: bytes,
    *,
    declared_sha256: str | None,
    uploader_id: int | None,
    personal: bool = False,
) -> tuple[Attachment, bool]:
    """Store an uploaded photo once; `(attachment, created)`.

    `personal`: the uploader says the photo shows people (kept only as long as its cases
    need it). Refused, in this order: too large (413), a declared hash that is malformed
    (422) or differs from the body's (400), not a whole JPEG/PNG/WebP image (415), too many
    pixels (413). The same bytes uploaded again return the stored row (created False), not
    decoded again; flagged `personal` by their own uploader, the stored photo is flagged
    too (an upload never clears the flag: that is the PATCH's work).
    """
    limit = max_upload_bytes()
    if len(data) > limit:
        raise _too_large(limit)
    sha256 = hashlib.sha256(data).hexdigest()
    _check_declared_hash(declared_sha256, sha256)
    existing = uow.session.get(Attachment, sha256)
    if existing is not None:
        if existing.removed_at is not None:
            raise PhotoRemoved("file")
        if personal and uploader_id is not None and existing.uploaded_by_id == uploader_id:
            existing.personal = True
        return existing, False

    photo = decode_photo(data)
    # Files first, then the row. If the transaction fails, the files stay behind: they are
    # named by the hash of their content, so they are harmless and a retry reuses them.
    media.write_once(path_for(sha256, "original"), data)
    media.write_once(path_for(sha256, "public", mime=photo.mime), photo.public_bytes)
    row = Attachment(
        sha256=sha256,
        size=len(data),
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        had_gps=photo.had_gps,
        thumbnail_ready=False,
        uploaded_by_id=uploader_id,
        personal=personal,
    )
    try:
        with uow.savepoint():
            uow.session.add(row)
            uow.session.flush()
    except IntegrityError:
        # The same photo arrived twice at once and the other upload committed first.
        winner = uow.session.get(Attachment, sha256)
        if winner is None:
            raise
        return winner, False
    uow.after_commit(THUMBNAIL_TASK, sha256)
    return row, True


def is_pdf(data: bytes) -> bool:
    """A whole PDF: the header at the start and the end-of-file marker near the end."""
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def store_file(uow: UnitOfWork, data: bytes, *, uploader_id: int | None) -> tuple[Attachment, bool]:
    """Store an uploaded photo (as `store_upload`) or PDF document; `(attachment, created)`.

    A PDF is checked only for its header and end marker (415 otherwise), never decoded or
    rendered; its public copy is the file itself. Too large is 413 as for photos.
    """
    if not data.startswith(b"%PDF-"):
        return store_upload(uow, data, declared_sha256=None, uploader_id=uploader_id)
    limit = max_upload_bytes()
    if len(data) > limit:
        raise _too_large(limit)
    if not is_pdf(data):
        raise DomainError(
            "unsupported_media_type",
            "The file is not a complete PDF document or JPEG, PNG or WebP image",
            "文件不是完整的 PDF 文档或 JPEG、PNG、WebP 图片（或已损坏）",
            field="file",
            status=415,
        )
    sha256 = hashlib.sha256(data).hexdigest()
    existing = uow.session.get(Attachment, sha256)
    if existing is not None:
        if existing.removed_at is not None:
            raise PhotoRemoved("file")
        return existing, False
    media.write_once(path_for(sha256, "original"), data)
    media.write_once(path_for(sha256, "public", mime=PDF), data)
    row = Attachment(
        sha256=sha256,
        size=len(data),
        mime=PDF,
        width=None,
        height=None,
        had_gps=False,
        thumbnail_ready=False,
        uploaded_by_id=uploader_id,
    )
    try:
        with uow.savepoint():
            uow.session.add(row)
            uow.session.flush()
    except IntegrityError:
        winner = uow.session.get(Attachment, sha256)
        if winner is None:
            raise
        return winner, False
    return row, True


def make_thumbnail(uow: UnitOfWork, sha256: str) -> bool:
    """Make the thumbnail of a stored photo from its public copy; False if nothing to do.

    The longest side becomes THUMBNAIL_SIZE (smaller photos are not enlarged). Idempotent:
    a photo whose thumbnail is ready, or that no longer exists, is left alone.
    """
    row = uow.session.get(Attachment, sha256)
    if row is None or row.thumbnail_ready or row.mime == PDF or row.removed_at is not None:
        return False
    size = int(current_app.config["THUMBNAIL_SIZE"])
    with Image.open(path_for(sha256, "public", mime=row.mime)) as image:
        image.load()
        thumb = _flatten(image)
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = BytesIO()
    thumb.save(out, format="JPEG", quality=85, optimize=True)
    media.write_atomic(path_for(sha256, "thumb"), out.getvalue())
    row.thumbnail_ready = True
    return True


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent parts become white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def public_file(sha256: str) -> StoredFile:
    """The public (metadata-free) copy of a photo, for sending."""
    row = _require(sha256)
    return _existing_file(
        StoredFile(path=path_for(sha256, "public", mime=row.mime), mime=row.mime, etag=sha256)
    )


class ThumbnailPending(DomainError):
    status = 404

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(
            "thumbnail_pending",
            "The thumbnail is being made; try again shortly",
            "缩略图正在生成，请稍后再试",
            headers={"Retry-After": str(retry_after)},
        )


def thumbnail_file(sha256: str) -> StoredFile:
    """A photo's thumbnail; ThumbnailPending until the task has made it."""
    row = _require(sha256)
    if not row.thumbnail_ready:
        raise ThumbnailPending()
    return _existing_file(
        StoredFile(path=path_for(sha256, "thumb"), mime="image/jpeg", etag=f"{sha256}-thumb")
    )


def _require(sha256: str) -> Attachment:
    row = find(sha256)
    if row is None:
        raise NotFound("Photo", "照片", field="sha256")
    if row.removed_at is not None:
        raise PhotoRemoved()
    return row


def set_personal(uow: UnitOfWork, sha256: str, personal: bool) -> Attachment:
    """Flag a photo as showing people (or not); 410 once it was removed. The caller checks
    who may."""
    row = uow.session.get(Attachment, sha256)
    if row is None:
        raise NotFound("Photo", "照片", field="sha256")
    if row.removed_at is not None:
        raise PhotoRemoved()
    row.personal = personal
    return row


def removed_among(shas: Sequence[str]) -> set[str]:
    """Those of `shas` whose photo was removed (retention)."""
    wanted = [s for s in dict.fromkeys(shas) if is_sha256(s)]
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            select(Attachment.sha256).where(
                Attachment.sha256.in_(wanted), Attachment.removed_at.is_not(None)
            )
        )
    )


def _existing_file(stored: StoredFile) -> StoredFile:
    if not stored.path.is_file():
        # The row says the file exists: the media folder lost it (restore from backup).
        log.error("media file missing: %s", stored.path)
        raise NotFound("Photo file", "照片文件", field="sha256")
    return stored


def require_attachments(shas: Sequence[str], field: str = "photos") -> list[Attachment]:
    """The stored photos named by `shas` (in that order, duplicates once); 422
    `unknown_attachment` naming every hash that was never uploaded."""
    wanted = list(dict.fromkeys(shas))
    valid = [s for s in wanted if is_sha256(s)]
    rows = {
        a.sha256: a
        for a in db.session.scalars(select(Attachment).where(Attachment.sha256.in_(valid)))
    }
    missing = [s for s in wanted if s not in rows]
    if missing:
        raise _unknown(missing, field)
    return [rows[s] for s in wanted]


def link_to_case(case_id: str, shas: Sequence[str], role: str, event_id: int | None) -> None:
    """Attach stored photos to a case at one step (report, result, verify, rating).

    Does not commit: the case service's transaction does. A photo already linked to the
    case in that role is skipped. Call `require_attachments` first for a clear error.
    """
    if role not in ATTACHMENT_ROLES:
        raise ValueError(f"unknown attachment role {role!r}; one of {ATTACHMENT_ROLES}")
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return
    linked = set(
        db.session.scalars(
            select(CaseAttachment.sha256).where(
                CaseAttachment.case_id == case_id,
                CaseAttachment.role == role,
                CaseAttachment.sha256.in_(wanted),
            )
        )
    )
    for sha256 in wanted:
        if sha256 not in linked:
            db.session.add(
                CaseAttachment(case_id=case_id, sha256=sha256, role=role, event_id=event_id)
            )
