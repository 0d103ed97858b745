"""The inbox: each user's own notifications about cases, and marking them read."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import PageArgs
from server.services.interop import hotline_digest
from server.services.messaging import notify
from server.services.uow import unit_of_work

blp = ApiBlueprint("inbox", __name__, url_prefix="/api/v1", description="消息 Inbox")


def _link(n: Any) -> str | None:
    if n.case_id:
        return url_for("console.case_page", case_id=n.case_id)
    found = hotline_digest.queue_filter(n.event, n.created_at)
    return url_for("console.cases", **found) if found else None


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(required=True, metadata={"example": "case.dispatched"})
    case_id = fields.String(allow_none=True, required=True)
    title = fields.String(required=True, metadata={"description": "Chinese title"})
    title_en = fields.String(required=True)
    body = fields.String(allow_none=True, required=True)
    read = fields.Function(
        lambda n: n.read_at is not None, required=True, metadata={"type": "boolean"}
    )
    read_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    cases_filter = fields.Function(
        lambda n: hotline_digest.queue_filter(n.event, n.created_at),
        allow_none=True,
        metadata={
            "type": "object",
            "description": "an entry about many cases (hotline.imported): the GET /api/v1/cases "
            "arguments that list exactly them; null otherwise",
            "example": {"source": "hotline", "imported_at": "2026-12-04T07:30:00.123456+00:00"},
        },
    )
    link = fields.Function(
        _link,
        allow_none=True,
        metadata={"description": "the console page the entry opens (the case, or the queue)"},
    )


class InboxSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    unread_count = fields.Integer(required=True, metadata={"description": "all unread, any page"})


class InboxArgs(PageArgs):
    unread = fields.Boolean(
        metadata={"description": "true: only unread; false: only read; absent: all"}
    )


class ReadAllSchema(Schema):
    updated = fields.Integer(required=True, metadata={"description": "notifications marked read"})


@blp.route("/inbox", methods=["GET"])
@blp.auth()
@blp.arguments(InboxArgs, location="query")
@blp.response(200, InboxSchema)
@blp.alt_response(400, schema=ErrorSchema, description="invalid_cursor")
def inbox(args: dict[str, Any]) -> Any:
    """Your notifications, newest first, with the number still unread."""
    return notify.list_inbox(
        authenticated_principal(),
        unread=args.get("unread"),
        cursor=args.get("cursor"),
        limit=args["limit"],
    )


@blp.route("/inbox/<int:notification_id>/read", methods=["POST"])
@blp.auth()
@blp.response(200, NotificationSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not yours or no such notification")
def read_one(notification_id: int) -> Any:
    """Mark one of your notifications read (again is harmless)."""
    with unit_of_work() as uow:
        out = notify.mark_read(uow, authenticated_principal(), notification_id)
    return out


@blp.route("/inbox/read-all", methods=["POST"])
@blp.auth()
@blp.response(200, ReadAllSchema)
def read_all() -> Any:
    """Mark all your unread notifications read."""
    with unit_of_work() as uow:
        out = notify.mark_all_read(uow, authenticated_principal())
    return {"updated": out}
