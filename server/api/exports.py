"""/api/v1/exports/{subject}: 台账 as XLSX or CSV — the queue, KPIs, patrols, the index.

Same scope, filters and masking as the JSON endpoints; each export is logged (who, what,
when) before the file streams.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.cases import ListArgs, case_filter
from server.api.schemas import InputSchema, day_field, id_field, moment_field
from server.domain.roles import Role
from server.services.interop import exports, hotline
from server.services.interop.tabular import XLSX_MIME
from server.services.patrolling.index import latest_day, yesterday
from server.services.patrolling.patrols import PatrolFilter
from server.services.uow import unit_of_work

blp = ApiBlueprint("exports", __name__, url_prefix="/api/v1", description="台账导出 Exports")

FORMAT = fields.String(
    load_default="xlsx",
    validate=validate.OneOf(exports.FORMATS),
    metadata={"description": "xlsx (one sheet per subject) or csv (UTF-8 with BOM)"},
)
BINARY = {"type": "string", "format": "binary"}
FILE_RESPONSE = {
    "200": {
        "description": "the file (Content-Disposition: attachment)",
        "content": {XLSX_MIME: {"schema": BINARY}, "text/csv": {"schema": BINARY}},
    }
}


class CaseExportArgs(ListArgs):
    format = FORMAT


class KpiExportArgs(InputSchema):
    format = FORMAT
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    by = fields.String(load_default="community", validate=validate.OneOf(["community", "unit"]))


class PatrolExportArgs(InputSchema):
    format = FORMAT
    collector = id_field()
    grid = id_field()
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")


class IndexExportArgs(InputSchema):
    format = FORMAT
    level = fields.String(load_default="community", validate=validate.OneOf(["community", "grid"]))
    date_from = day_field(data_key="from")
    date_to = day_field(data_key="to")


@blp.route("/exports/cases", methods=["GET"])
@blp.auth()
@blp.arguments(CaseExportArgs, location="query")
@blp.doc(responses=FILE_RESPONSE)
def export_cases(args: dict[str, Any]) -> Any:
    """The queue with the same filters and sort as GET /cases, every page, as a 台账."""
    with unit_of_work() as uow:
        export = exports.export_cases(
            uow, authenticated_principal(), args["format"], case_filter(args), args["sort"]
        )
    return exports.response_for(export)


@blp.route("/exports/kpis", methods=["GET"])
@blp.auth(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
@blp.arguments(KpiExportArgs, location="query")
@blp.doc(responses=FILE_RESPONSE)
def export_kpis(args: dict[str, Any]) -> Any:
    """Key figures over [from, to) (default: the last 30 days), with (XLSX) one row per
    community or unit."""
    date_to = args.get("date_to") or datetime.now(UTC)
    date_from = args.get("date_from") or date_to - timedelta(days=30)
    with unit_of_work() as uow:
        export = exports.export_kpis(
            uow,
            authenticated_principal(),
            args["format"],
            date_from=date_from,
            date_to=date_to,
            by=args["by"],
        )
    return exports.response_for(export)


@blp.route("/exports/patrols", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.arguments(PatrolExportArgs, location="query")
@blp.doc(responses=FILE_RESPONSE)
def export_patrols(args: dict[str, Any]) -> Any:
    """Patrols (figures and flags, no tracks): a collector's own, or the subdistrict's."""
    f = PatrolFilter(
        collector_id=args.get("collector"),
        grid_id=args.get("grid"),
        since=args.get("date_from"),
        until=args.get("date_to"),
    )
    with unit_of_work() as uow:
        export = exports.export_patrols(uow, authenticated_principal(), args["format"], f)
    return exports.response_for(export)


@blp.route("/exports/index", methods=["GET"])
@blp.auth()
@blp.arguments(IndexExportArgs, location="query")
@blp.doc(responses=FILE_RESPONSE)
def export_index(args: dict[str, Any]) -> Any:
    """The daily 民情指数 per community (or grid) over [from, to] (default: 30 days up to
    the latest computed day)."""
    principal = authenticated_principal()
    last = args.get("date_to") or latest_day(principal.subdistrict_id) or yesterday()
    first = args.get("date_from") or last - timedelta(days=29)
    with unit_of_work() as uow:
        export = exports.export_index(
            uow, principal, args["format"], level=args["level"], first=first, last=last
        )
    return exports.response_for(export)


class HotlineReplyArgs(InputSchema):
    format = FORMAT
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    finished = fields.Boolean(
        load_default=False,
        metadata={"description": "only work orders verified, closed, rejected or merged"},
    )


@blp.route("/exports/hotline-replies", methods=["GET"])
@blp.auth(Role.DISPATCHER, Role.ADMIN)
@blp.arguments(HotlineReplyArgs, location="query")
@blp.doc(responses=FILE_RESPONSE)
def export_hotline_replies(args: dict[str, Any]) -> Any:
    """The 12345 reply sheet (回复单): the imported work orders (imported in [from, to)) with
    our case number, status, handling unit, result and times, to send back to the platform."""
    f = hotline.ReplyFilter(
        imported_from=args.get("date_from"),
        imported_to=args.get("date_to"),
        finished_only=args["finished"],
    )
    with unit_of_work() as uow:
        export = hotline.export_replies(uow, authenticated_principal(), args["format"], f)
    return exports.response_for(export)
