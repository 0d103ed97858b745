"""/api/v1/audit/roots: the published daily roots of the case history — public, no personal
data (anyone may keep them and later check that the history was not rewritten)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema, day_field
from server.errors import DomainError
from server.services.uow import unit_of_work
from server.services.upkeep import audit

blp = ApiBlueprint("audit", __name__, url_prefix="/api/v1/audit", description="防篡改 Audit")


class RootArgs(InputSchema):
    date_from = day_field(data_key="from")
    date_to = day_field(data_key="to")


class Root(Schema):
    day = fields.Date(required=True)
    root = fields.String(required=True, metadata={"description": "hex SHA-256"})
    events = fields.Integer(required=True, metadata={"description": "case events of the day"})
    topic_events = fields.Integer(
        allow_none=True,
        metadata={
            "description": "deliberation topic events of the day; null for days sealed before "
            "topic events were chained (their root covers case events only)"
        },
    )


class Roots(Schema):
    items = fields.List(fields.Nested(Root), required=True)


@blp.route("/roots", methods=["GET"])
@blp.arguments(RootArgs, location="query")
@blp.response(200, Roots)
@blp.alt_response(422, schema=ErrorSchema, description="validation_error")
def roots(args: dict[str, Any]) -> Any:
    """Daily roots over every case's and topic's hash chain (UTC days; default: the last
    30 sealed)."""
    with unit_of_work() as uow:
        last = args.get("date_to") or uow.now.date()
        first = args.get("date_from") or last - timedelta(days=30)
        if first > last or (last - first).days > 366:
            raise DomainError(
                "validation_error",
                "from: must be on or before `to`, at most 366 days earlier",
                "字段 from：须早于 to，且相差不超过 366 天",
                field="from",
                status=422,
            )
        rows = audit.roots(uow, first, last)
        return {
            "items": [
                {"day": r.day, "root": r.root, "events": r.events, "topic_events": r.topic_events}
                for r in rows
            ]
        }
