"""Photos (照片), addressed by their SHA-256: upload once, check before re-uploading, read.

What is served is always the public copy, with EXIF/GPS removed; the original (evidence)
is never sent by these endpoints. Any authenticated principal — a user or a collector's
device — may upload and read. A photo showing people is flagged `personal` (PATCH) and is
removed after its cases ended: its URLs then answer 410 `photo_removed`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request, send_file, url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema
from server.models import Attachment
from server.services.files import attachments, photo_access
from server.services.files.attachments import StoredFile
from server.services.uow import unit_of_work

blp = ApiBlueprint("attachments", __name__, url_prefix="/api/v1", description="照片 Attachments")

CACHE_SECONDS = 365 * 24 * 3600  # content-addressed: a photo's URL never changes content

SHA_PARAMETER = {
    "in": "path",
    "name": "sha256",
    "required": True,
    "description": "SHA-256 of the original file, 64 lowercase hex digits",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64},
}
BINARY = {"type": "string", "format": "binary"}
IMAGE_CONTENT = {mime: {"schema": BINARY} for mime in ("image/jpeg", "image/png", "image/webp")}
IMAGE_HEADERS = {
    "ETag": {"description": "the SHA-256, quoted", "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, immutable", "schema": {"type": "string"}},
}
LOCATION = {"Location": {"description": "URL of the photo", "schema": {"type": "string"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait (thumbnail_pending only)",
        "required": False,
        "schema": {"type": "integer"},
    }
}


class UploadForm(InputSchema):
    file = Upload(required=True, metadata={"description": "a JPEG, PNG or WebP photo"})
    # One multipart body: webargs reads `file` from the files, the view reads `personal` from
    # the form (declared here so that the documented body shows both).
    personal = fields.String(
        load_default=None,
        metadata={
            "description": "the photo shows people (faces): `true`/`false` or `1`/`0` "
            "(default false); kept only as long as its cases need it. Anything else: 400 "
            "`validation_error` naming `personal`"
        },
    )


PERSONAL_QUERY = {
    "in": "query",
    "name": "personal",
    "required": False,
    "description": "PUT: the photo shows people (faces), `true`/`false` or `1`/`0` (default "
    "false); kept only as long as its cases need it. Anything else: 400 naming `personal`",
    "schema": {"type": "string"},
}


def personal_query() -> bool:
    """The `?personal=` of a raw-body upload (400 naming it when it is no yes or no)."""
    return attachments.parse_personal(request.args.get("personal"))


class FlagIn(InputSchema):
    personal = fields.Boolean(
        required=True,
        truthy={True},
        falsy={False},
        metadata={"description": "the photo shows people (faces): removed after its cases end"},
    )


class AttachmentOut(Schema):
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "bytes of the original"})
    mime = fields.String(required=True, metadata={"example": "image/jpeg"})
    width = fields.Integer(required=True, allow_none=True, metadata={"description": "upright"})
    height = fields.Integer(required=True, allow_none=True)
    thumbnail_ready = fields.Boolean(required=True)
    url = fields.String(required=True, metadata={"description": "the public copy (no EXIF)"})
    thumbnail_url = fields.String(required=True)
    personal = fields.Boolean(
        required=True, metadata={"description": "shows people: removed after its cases end"}
    )
    removed_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "when retention removed it"}
    )


def _out(row: Attachment) -> dict[str, Any]:
    return {
        "sha256": row.sha256,
        "size": row.size,
        "mime": row.mime,
        "width": row.width,
        "height": row.height,
        "thumbnail_ready": row.thumbnail_ready,
        "url": url_for("attachments.AttachmentByHash", sha256=row.sha256),
        "thumbnail_url": url_for("attachments.thumbnail", sha256=row.sha256),
        "personal": bool(row.personal),
        "removed_at": row.removed_at,
    }


def store_photo(
    data: bytes, declared_sha256: str | None, personal: bool = False
) -> tuple[dict[str, Any], int, Any]:
    principal = authenticated_principal()
    with unit_of_work() as uow:
        row, created = attachments.store_upload(
            uow,
            data,
            declared_sha256=declared_sha256,
            uploader_id=principal.user_id,
            personal=personal,
        )
    body = _out(row)
    return body, (201 if created else 200), {"Location": body["url"]}


def _send(stored: StoredFile) -> Response:
    response = send_file(stored.path, mimetype=stored.mime, etag=stored.etag, max_age=CACHE_SECONDS)
    # Readable only with a token: browsers may keep it, shared caches must not.
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def upload_errors(func: Any) -> Any:
    for status, description in (
        (
            400,
            "hash_mismatch: the body is not the file the hash names; validation_error: "
            "`personal` is no yes or no",
        ),
        (413, "payload_too_large (MINQING_MAX_UPLOAD_MB) or image_too_large (megapixels)"),
        (415, "unsupported_media_type: not a whole JPEG, PNG or WebP image"),
        (410, "photo_removed: these bytes were a photo of people removed under retention"),
    ):
        func = blp.alt_response(status, schema=ErrorSchema, description=description)(func)
    return func


@blp.route("/attachments", methods=["POST"])
@blp.auth()
@blp.arguments(UploadForm, location="files")
@blp.response(201, AttachmentOut, description="stored", headers=LOCATION)
@blp.alt_response(
    200,
    schema=AttachmentOut,
    description="already stored (flagged `personal` if you uploaded it and say so)",
)
@upload_errors
def upload(form: dict[str, Any]) -> Any:
    """Upload a photo (multipart field `file`, optional field `personal`: it shows people);
    the same bytes twice are stored once."""
    personal = attachments.parse_personal(request.form.get("personal"))
    return store_photo(form["file"].read(), None, personal)


@blp.route("/attachments/<sha256>", parameters=[SHA_PARAMETER])
class AttachmentByHash(MethodView):
    @blp.auth()
    @blp.doc(
        requestBody={
            "required": True,
            "description": "the file's bytes (any Content-Type is accepted)",
            "content": {"application/octet-stream": {"schema": BINARY}},
        }
    )
    @blp.doc(parameters=[PERSONAL_QUERY])
    @blp.response(201, AttachmentOut, description="stored", headers=LOCATION)
    @blp.alt_response(200, schema=AttachmentOut, description="already stored; nothing changed")
    @blp.alt_response(422, schema=ErrorSchema, description="validation_error: malformed hash")
    @upload_errors
    def put(self, sha256: str) -> Any:
        """Upload a photo as the raw body under its SHA-256, which is checked (idempotent);
        `?personal=true` when it shows people."""
        personal = personal_query()
        return store_photo(request.get_data(cache=False), sha256, personal)

    @blp.auth()
    @blp.arguments(FlagIn)
    @blp.response(200, AttachmentOut, description="the photo's flag as now set")
    @blp.alt_response(403, schema=ErrorSchema, description="forbidden: not its uploader")
    @blp.alt_response(404, schema=ErrorSchema, description="not_found: no photo you may see")
    @blp.alt_response(410, schema=ErrorSchema, description="photo_removed")
    @blp.alt_response(422, schema=ErrorSchema, description="validation_error: `personal`")
    def patch(self, args: dict[str, Any], sha256: str) -> Any:
        """Flag a photo as showing people (`personal`), or not: its uploader, or a dispatcher
        or admin who may see it. A personal photo is removed MINQING_PERSON_PHOTO_DAYS after
        every case and topic holding it ended."""
        photo_access.check_flaggable(authenticated_principal(), sha256)
        with unit_of_work() as uow:
            row = attachments.set_personal(uow, sha256, bool(args["personal"]))
            body = _out(row)
        return body

    @blp.auth()
    @blp.doc(responses={"200": {"description": "the photo without EXIF/GPS metadata"}})
    @blp.alt_response(404, description="not stored: upload it")
    def head(self, sha256: str) -> Any:
        """Whether a photo you may see is stored (200) or not (404), to skip re-uploading."""
        photo_access.check_readable(authenticated_principal(), sha256)
        return _send(attachments.public_file(sha256))

    @blp.auth()
    @blp.doc(
        responses={
            "200": {
                "description": "the public copy: re-encoded, without EXIF/GPS metadata",
                "content": IMAGE_CONTENT,
                "headers": IMAGE_HEADERS,
            },
            "304": {"description": "not modified (If-None-Match)"},
        }
    )
    @blp.alt_response(404, schema=ErrorSchema, description="not_found")
    @blp.alt_response(410, schema=ErrorSchema, description="photo_removed (personal data)")
    def get(self, sha256: str) -> Any:
        """A photo (its public copy, without EXIF/GPS): yours, or of a case you may see."""
        photo_access.check_readable(authenticated_principal(), sha256)
        return _send(attachments.public_file(sha256))


@blp.route("/attachments/<sha256>/thumbnail", parameters=[SHA_PARAMETER])
@blp.auth()
@blp.doc(
    responses={
        "200": {
            "description": "a JPEG whose longest side is THUMBNAIL_SIZE",
            "content": {"image/jpeg": {"schema": BINARY}},
            "headers": IMAGE_HEADERS,
        },
        "304": {"description": "not modified (If-None-Match)"},
    }
)
@blp.alt_response(
    404,
    schema=ErrorSchema,
    description="not_found, or thumbnail_pending (with Retry-After) while it is being made",
    headers=RETRY_AFTER,
)
@blp.alt_response(410, schema=ErrorSchema, description="photo_removed (personal data)")
def thumbnail(sha256: str) -> Any:
    """A photo's thumbnail, made in the background after the upload."""
    photo_access.check_readable(authenticated_principal(), sha256)
    return _send(attachments.thumbnail_file(sha256))
