"""/api/v1/index: the published 民情指数 and the daily bulletins — public, no personal data."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema, day_field, id_field
from server.domain.roles import Role
from server.services.patrolling import index
from server.services.uow import unit_of_work

blp = ApiBlueprint("index", __name__, url_prefix="/api/v1", description="民情指数 Index")


class IndexArgs(InputSchema):
    date = day_field(metadata={"description": "local day; default: the latest computed"})
    level = fields.String(load_default="community", validate=validate.OneOf(["community", "grid"]))
    subdistrict = id_field()


class AreaIndex(Schema):
    area_id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    score = fields.Float(allow_none=True)
    change = fields.Float(allow_none=True, metadata={"description": "vs. the day before"})
    components = fields.Dict(required=True)
    formula_version = fields.String(required=True)


class IndexDay(Schema):
    date = fields.Date(allow_none=True, required=True)
    level = fields.String(required=True)
    items = fields.List(fields.Nested(AreaIndex), required=True)


class HistoryArgs(InputSchema):
    community = id_field()
    grid = id_field()
    date_from = day_field(data_key="from")
    date_to = day_field(data_key="to")


class HistoryPoint(Schema):
    day = fields.Date(required=True)
    score = fields.Float(allow_none=True)
    components = fields.Dict(required=True)


class History(Schema):
    level = fields.String(required=True)
    area_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(HistoryPoint), required=True)


class BulletinArgs(InputSchema):
    date = day_field()
    subdistrict = id_field()


class BulletinSchema(Schema):
    community_id = fields.Integer(required=True)
    text = fields.String(required=True)
    score = fields.Float(allow_none=True)
    previous = fields.Float(allow_none=True)


class BulletinDay(Schema):
    date = fields.Date(allow_none=True, required=True)
    items = fields.List(fields.Nested(BulletinSchema), required=True)


@blp.route("/index", methods=["GET"])
@blp.arguments(IndexArgs, location="query")
@blp.response(200, IndexDay)
def index_of_day(args: dict[str, Any]) -> Any:
    """Every community's (or grid's) index on a day, with its components and the change."""
    day, rows = index.published(args.get("date"), args["level"], args.get("subdistrict"))
    return {"date": day, "level": args["level"], "items": rows}


@blp.route("/index/history", methods=["GET"])
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, History)
@blp.alt_response(404, schema=ErrorSchema, description="no such community or grid")
def index_history(args: dict[str, Any]) -> Any:
    """One community's (or grid's) index day by day over [from, to] (default: 30 days)."""
    level, area_id, items = index.history_of(
        args.get("community"), args.get("grid"), args.get("date_from"), args.get("date_to")
    )
    return {"level": level, "area_id": area_id, "items": items}


class ComputeArgs(InputSchema):
    date = day_field(required=True)


class ComputeResult(Schema):
    date = fields.Date(required=True)
    grids = fields.Integer(required=True)
    communities = fields.Integer(required=True)
    bulletins = fields.Integer(required=True)


@blp.route("/index/compute", methods=["POST"])
@blp.auth(Role.DISPATCHER, Role.ADMIN)
@blp.arguments(ComputeArgs)
@blp.response(200, ComputeResult)
def compute(args: dict[str, Any]) -> Any:
    """Compute (or recompute) one day's index and bulletins now; the same numbers every time.
    A dispatcher's subdistrict only; a city admin's: all."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        result = index.compute_day(
            uow, args["date"], subdistrict_id=principal.subdistrict_id, publish=False
        )
    return {
        "date": result.day,
        "grids": result.grids,
        "communities": result.communities,
        "bulletins": result.bulletins,
    }


@blp.route("/bulletins", methods=["GET"])
@blp.arguments(BulletinArgs, location="query")
@blp.response(200, BulletinDay)
def bulletins(args: dict[str, Any]) -> Any:
    """The daily bulletins (播报) per community, as published."""
    day, rows = index.bulletins_of(args.get("date"), args.get("subdistrict"))
    return {"date": day, "items": rows}
