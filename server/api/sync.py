"""Offline sync (离线同步) for collectors' phones: the WatermelonDB protocol.

See docs/sync.md. Every endpoint but the rejections list takes a device token.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, stream_with_context
from marshmallow import Schema, fields, validate

from server import metrics
from server.api.attachments import (
    PERSONAL_QUERY,
    SHA_PARAMETER,
    AttachmentOut,
    personal_query,
    store_photo,
    upload_errors,
)
from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema, id_field
from server.domain.roles import Role
from server.errors import DomainError
from server.jsonlimits import MALFORMED, loads_bounded, request_json
from server.services.files import attachments, photo_access
from server.services.people import ratelimit
from server.services.syncing import sync, sync_admin
from server.services.uow import UnitOfWork, unit_of_work
from sync.pull import iter_chunks
from sync.push import PushConflict, PushError

blp = ApiBlueprint("sync", __name__, url_prefix="/api/v1/sync", description="离线同步 Sync")

CURSOR = {"type": "integer", "minimum": 0, "maximum": 2**62}


def _cursor(name: str) -> int | None:
    """`last_pulled_at`: absent, empty or `null` = never pulled."""
    value = request.args.get(name)
    if value in (None, "", "null", "undefined"):
        return None
    if not value.isdigit() or len(value) > 18:
        raise DomainError(
            "validation_error",
            f"{name}: a cursor from a previous pull (a whole number) or null",
            f"字段 {name}：应为上次拉取返回的 timestamp（整数）或 null",
            field=name,
            status=422,
        )
    return int(value)


def _small_int(name: str) -> int | None:
    value = request.args.get(name)
    if value in (None, "", "null"):
        return None
    if not value.isdigit() or len(value) > 6:
        raise DomainError(
            "validation_error",
            f"{name}: a whole number",
            f"字段 {name}：应为整数",
            field=name,
            status=422,
        )
    return int(value)


def _migration() -> dict[str, Any] | None:
    value = request.args.get("migration")
    if value in (None, "", "null"):
        return None
    try:
        parsed = loads_bounded(value, field="migration")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise DomainError(
            "validation_error",
            "migration: JSON {from, tables, columns} as WatermelonDB sends it",
            "字段 migration：应为 WatermelonDB 发送的 JSON 对象",
            field="migration",
            status=422,
        )
    return parsed


def _device_principal() -> Any:
    principal = authenticated_principal()
    # commits only when the version changed: otherwise the transaction goes on into the
    # view's (no second pool checkout, BEGIN and COMMIT a request)
    with unit_of_work(read_mostly=True) as uow:
        sync.note_app_version(uow, principal, request.headers.get("X-App-Version"))
    return principal


QUERY = [
    {
        "in": "query",
        "name": "last_pulled_at",
        "schema": {**CURSOR, "nullable": True},
        "description": "`timestamp` of the previous pull; absent or null on a first sync",
    },
]
CHANGES = {
    "type": "object",
    "description": "{table: {created: [record], updated: [record], deleted: [id]}}",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "created": {"type": "array", "items": {"type": "object"}},
            "updated": {"type": "array", "items": {"type": "object"}},
            "deleted": {"type": "array", "items": {"type": "string"}},
        },
    },
}


class SchemaColumn(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["string", "number", "boolean"]))
    isOptional = fields.Boolean(required=True)
    isIndexed = fields.Boolean(required=True)


class SchemaTable(Schema):
    name = fields.String(required=True)
    columns = fields.List(fields.Nested(SchemaColumn), required=True)


class AppSchema(Schema):
    version = fields.Integer(required=True)
    tables = fields.List(fields.Nested(SchemaTable), required=True)


@blp.route("/schema", methods=["GET"])
@blp.auth()
@blp.response(200, AppSchema)
def schema() -> Any:
    """The WatermelonDB `appSchema` of the synced tables, as JSON."""
    return sync.schema()


@blp.route("/pull", methods=["GET"])
@blp.auth(Role.COLLECTOR)
@blp.doc(
    parameters=[
        *QUERY,
        {"in": "query", "name": "schema_version", "schema": {"type": "integer", "minimum": 0}},
        {
            "in": "query",
            "name": "migration",
            "schema": {"type": "string"},
            "description": "WatermelonDB's migration JSON, when the app's schema was migrated",
        },
    ],
    responses={
        "200": {
            "description": "the changes since the cursor and the new cursor",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["changes", "timestamp"],
                        "properties": {"changes": CHANGES, "timestamp": {"type": "integer"}},
                    }
                }
            },
        }
    },
)
@blp.alt_response(403, schema=ErrorSchema, description="not a device token")
@blp.alt_response(422, schema=ErrorSchema, description="validation_error")
def pull() -> Any:
    """Changes in the device's grids since `last_pulled_at` (WatermelonDB `pullChanges`)."""
    principal = _device_principal()
    try:
        pulled = sync.pull(
            principal,
            _cursor("last_pulled_at"),
            _small_int("schema_version"),
            _migration(),
        )
    except PushError as error:  # e.g. a schema newer than the server's: answered as the push
        raise DomainError(
            error.code, error.message, error.message_zh, field=error.field, status=400
        ) from error
    body = pulled.body
    metrics.count_pull(pulled.counts)

    def chunks() -> Any:
        try:
            yield from iter_chunks(body)
        finally:
            body.close()

    return Response(stream_with_context(chunks()), mimetype="application/json")


@blp.route("/push", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.doc(
    parameters=QUERY,
    requestBody={"required": True, "content": {"application/json": {"schema": CHANGES}}},
    responses={
        "200": {
            "description": "applied; records refused on their merits are listed (and kept "
            "as sync_rejections the device pulls)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "experimentalRejectedIds": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                },
                            }
                        },
                    }
                }
            },
        }
    },
)
@blp.alt_response(400, schema=ErrorSchema, description="malformed body")
@blp.alt_response(403, schema=ErrorSchema, description="not a device token")
@blp.alt_response(409, schema=ErrorSchema, description="sync_conflict: pull first")
@blp.alt_response(413, schema=ErrorSchema, description="push_too_large: send smaller batches")
@blp.alt_response(429, schema=ErrorSchema, description="too_many_requests: pushes per minute")
def push() -> Any:
    """Apply the device's changes (WatermelonDB `pushChanges`): whole, or nothing on 409."""
    principal = _device_principal()
    cursor = _cursor("last_pulled_at")
    body, decoded = _bounded_push_body()
    device_id = principal.device_id

    def count(uow: UnitOfWork) -> None:
        if device_id is not None:
            ratelimit.sync_push(uow, device_id)

    try:
        # The push counts itself against the device's rate limit first thing in its own
        # transaction (one commit a push); a push that fails after that (400, 409, an
        # error) is counted again on its own, so a failing request still counts.
        result = sync.push(principal, cursor, body, decoded, count=count)
    except PushError as error:
        raise DomainError(
            error.code, error.message, error.message_zh, field=error.field, status=400
        ) from error
    except PushConflict as conflict:
        metrics.SYNC_PUSHES.labels("conflict").inc()
        raise DomainError(
            "sync_conflict",
            "records changed on the server since your last pull: pull, then push again",
            "自上次拉取后服务器上的记录已有变化，请先拉取再推送",
            status=409,
            details={"records": conflict.records},
        ) from conflict
    metrics.count_push(result.counts, result.rejected, result.replayed)
    return result.response()


def _push_too_large(what: str, limit: int, what_zh: str) -> DomainError:
    return DomainError(
        "push_too_large",
        f"A push may hold at most {limit:,} {what}; send the changes in smaller batches",
        f"单次推送最多 {limit:,} {what_zh}，请分批推送",
        status=413,
        details={"limit": limit, "unit": what},
    )


def _bounded_push_body() -> tuple[bytes, Any]:
    """The push body and its parsed JSON (parsed once for the request: `request_json`),
    refused with 413 past the byte or record limits before the engine sees it (a push of
    60,000 ids once held SQLite's write lock for two minutes). The JSON is MALFORMED when
    the body is not JSON: the engine answers it with its own 400."""
    max_bytes = int(current_app.config["SYNC_MAX_PUSH_BYTES"])
    if (request.content_length or 0) > max_bytes:
        raise _push_too_large("bytes", max_bytes, "字节")
    body = request.get_data(cache=True)
    if len(body) > max_bytes:
        raise _push_too_large("bytes", max_bytes, "字节")
    changes = request_json()
    if changes is MALFORMED:
        return body, None  # the engine parses it again and answers with its own 400
    max_records = int(current_app.config["SYNC_MAX_PUSH_RECORDS"])
    if _record_count(changes) > max_records:
        raise _push_too_large("records", max_records, "条记录")
    return body, changes


def _record_count(changes: Any) -> int:
    if not isinstance(changes, dict):
        return 0
    total = 0
    for table in changes.values():
        if isinstance(table, dict):
            for kind in ("created", "updated", "deleted"):
                items = table.get(kind)
                if isinstance(items, list):
                    total += len(items)
    return total


@blp.route(
    "/attachments/<sha256>", methods=["PUT", "HEAD"], parameters=[SHA_PARAMETER, PERSONAL_QUERY]
)
@blp.auth()
@blp.doc(
    requestBody={
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
)
@blp.response(201, AttachmentOut, description="stored")
@blp.alt_response(200, schema=AttachmentOut, description="already stored")
@blp.alt_response(404, description="HEAD: not stored yet")
@blp.alt_response(422, schema=ErrorSchema, description="validation_error: malformed hash")
@upload_errors
def attachment(sha256: str) -> Any:
    """Upload a photo under its SHA-256 (PUT, idempotent; `?personal=true` when it shows
    people) or ask whether it is stored (HEAD)."""
    if request.method == "HEAD":
        photo_access.check_readable(authenticated_principal(), sha256)
        attachments.public_file(sha256)
        return Response(status=200)
    personal = personal_query()
    return store_photo(request.get_data(cache=False), sha256, personal)


class RejectionArgs(InputSchema):
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    collector = id_field(load_default=None)


class RejectionOut(Schema):
    id = fields.String(required=True)
    device_id = fields.String(required=True)
    collector_id = fields.Integer(required=True)
    table_name = fields.String(required=True)
    record_id = fields.String(required=True)
    operation = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    message_zh = fields.String(required=True)
    field = fields.String(allow_none=True)
    payload = fields.Raw(allow_none=True)
    created_at = fields.DateTime(required=True)


class RejectionPage(Schema):
    items = fields.List(fields.Nested(RejectionOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("/rejections", methods=["GET"])
@blp.auth(Role.DISPATCHER, Role.ADMIN)
@blp.arguments(RejectionArgs, location="query")
@blp.response(200, RejectionPage)
def rejections(args: dict[str, Any]) -> Any:
    """Changes from phones the server refused, newest first (dispatchers: their subdistrict)."""
    return sync_admin.list_rejections(
        authenticated_principal(), args["cursor"], args["limit"], args["collector"]
    )
