"""/api/v1/patrols, /api/v1/patrol-logs, /api/v1/patrol-schedules, /api/v1/stats/patrols."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, fields, validate

from server.api import fastjson
from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import (
    CLIENT_ID,
    CRS_FIELD,
    SHA256,
    InputSchema,
    day_field,
    id_field,
    lat_field,
    lon_field,
    moment_field,
)
from server.domain.roles import Role
from server.services.patrolling import patrols, schedules
from server.services.uow import unit_of_work

blp = ApiBlueprint("patrols", __name__, url_prefix="/api/v1", description="巡逻 Patrols")

POINTS = fields.List(
    fields.List(fields.Raw(), validate=validate.Length(3, 4)),
    validate=validate.Length(max=5000),
    metadata={"description": "[[lon, lat, time (unix seconds or ISO 8601), accuracy_m?], …]"},
)


class StartArgs(InputSchema):
    grid_id = id_field(required=True)
    id = fields.String(validate=CLIENT_ID, metadata={"description": "client-generated id"})
    started_at = moment_field()
    points = POINTS
    crs = CRS_FIELD


class PointsArgs(InputSchema):
    points = POINTS
    crs = CRS_FIELD


class EndArgs(PointsArgs):
    ended_at = moment_field()


class FlagSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    message_zh = fields.String(required=True)
    evidence = fields.Dict(required=True)


class PatrolSchema(Schema):
    id = fields.String(required=True)
    collector_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    device_id = fields.String(allow_none=True)
    status = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)
    point_count = fields.Function(lambda p: len(p.points or []), required=True)
    distance_m = fields.Float(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    time_inside_s = fields.Float(allow_none=True)
    coverage = fields.Float(allow_none=True)
    plausible = fields.Boolean(allow_none=True)
    flags = fields.List(fields.Nested(FlagSchema), required=True)


class PatrolDetail(PatrolSchema):
    track = fields.Method("_track", metadata={"description": "simplified GeoJSON LineString"})

    def _track(self, patrol: Any) -> Any:
        from geoalchemy2.shape import to_shape

        from geo.geojson import to_geojson

        return to_geojson(to_shape(patrol.track)) if patrol.track is not None else None


class ListArgs(InputSchema):
    collector = id_field()
    grid = id_field()
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    cursor = fields.String(validate=validate.Length(1, 500))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class PatrolPage(Schema):
    items = fields.List(fields.Nested(PatrolSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _filter(args: dict[str, Any]) -> patrols.PatrolFilter:
    return patrols.PatrolFilter(
        collector_id=args.get("collector"),
        grid_id=args.get("grid"),
        since=args.get("date_from"),
        until=args.get("date_to"),
    )


def _track(args: dict[str, Any]) -> patrols.TrackInput | None:
    if not args.get("points"):
        return None
    return patrols.TrackInput(points=args["points"], crs=args.get("crs", "wgs84"))


@blp.route("/patrols", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.arguments(StartArgs)
@blp.response(201, PatrolDetail)
@blp.alt_response(200, schema=PatrolDetail, description="the same id was retried")
def start(args: dict[str, Any]) -> Any:
    """Start a patrol in one of your grids (or record one made offline, with its points)."""
    with unit_of_work() as uow:
        patrol, created = patrols.start_patrol(
            uow,
            authenticated_principal(),
            grid_id=args["grid_id"],
            patrol_id=args.get("id"),
            started_at=args.get("started_at"),
            track=_track(args),
        )
    return patrol, 201 if created else 200


@blp.route("/patrols", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.arguments(ListArgs, location="query")
@blp.response(200, PatrolPage)
def list_patrols(args: dict[str, Any]) -> Any:
    """Patrols, newest first: a collector's own; dispatchers see their subdistrict's."""
    page = patrols.list_patrol_rows(
        authenticated_principal(), _filter(args), cursor=args.get("cursor"), limit=args["limit"]
    )
    # rows without the track or the points, a plain presenter and orjson: what PatrolPage
    # dumps (tests/api/test_fast_lists.py compares the bytes)
    return fastjson.json_response(
        {"items": [patrols.patrol_row(r) for r in page.items], "next_cursor": page.next_cursor}
    )


@blp.route("/patrols/<string(maxlength=64):patrol_id>", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.response(200, PatrolDetail)
@blp.alt_response(404, schema=ErrorSchema, description="no such patrol in your scope")
def get_patrol(patrol_id: str) -> Any:
    """A patrol with its figures, plausibility flags and simplified track."""
    return patrols.own_patrol(authenticated_principal(), patrol_id)


@blp.route("/patrols/<string(maxlength=64):patrol_id>/points", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.arguments(PointsArgs)
@blp.response(200, PatrolSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such patrol of yours")
@blp.alt_response(409, schema=ErrorSchema, description="patrol_ended")
def add_points(args: dict[str, Any], patrol_id: str) -> Any:
    """Append a batch of track points while walking (a retried batch changes nothing)."""
    with unit_of_work() as uow:
        out = patrols.add_points(
            uow,
            authenticated_principal(),
            patrol_id,
            patrols.TrackInput(points=args.get("points") or [], crs=args["crs"]),
        )
    return out


@blp.route("/patrols/<string(maxlength=64):patrol_id>/end", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.arguments(EndArgs)
@blp.response(200, PatrolDetail)
@blp.alt_response(404, schema=ErrorSchema, description="no such patrol of yours")
def end(args: dict[str, Any], patrol_id: str) -> Any:
    """End the patrol: distance, time in the grid, coverage and plausibility are computed."""
    with unit_of_work() as uow:
        out = patrols.end_patrol(
            uow,
            authenticated_principal(),
            patrol_id,
            ended_at=args.get("ended_at"),
            track=_track(args),
        )
    return out


# ---------------------------------------------------------------------------------- logs


class LogArgs(InputSchema):
    text = fields.String(required=True, validate=validate.Length(1, 2000))
    lon = lon_field()
    lat = lat_field()
    crs = CRS_FIELD
    category = fields.String(validate=validate.Length(1, 32))
    photos = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=9), load_default=list
    )
    patrol_id = fields.String(validate=validate.Length(1, 64))
    id = fields.String(validate=CLIENT_ID)
    logged_at = moment_field()


class LogSchema(Schema):
    id = fields.String(required=True)
    patrol_id = fields.String(allow_none=True)
    collector_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    category_id = fields.Integer(allow_none=True)
    text = fields.String(required=True)
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    photos = fields.List(fields.String(), required=True)
    case_id = fields.String(allow_none=True)
    logged_at = fields.DateTime(required=True)


class LogPage(Schema):
    items = fields.List(fields.Nested(LogSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class LogListArgs(ListArgs):
    patrol = fields.String(validate=validate.Length(1, 64))


class RaiseArgs(InputSchema):
    category = fields.String(validate=validate.Length(1, 32))
    priority = fields.String(validate=validate.OneOf(["low", "normal", "high", "urgent"]))
    description = fields.String(validate=validate.Length(1, 2000))


class RaisedSchema(Schema):
    log = fields.Nested(LogSchema, required=True)
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    public_token = fields.String(required=True)


@blp.route("/patrol-logs", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.arguments(LogArgs)
@blp.response(201, LogSchema)
@blp.alt_response(200, schema=LogSchema, description="the same id was retried")
def create_log(args: dict[str, Any]) -> Any:
    """Log an observation (巡逻日志) in one of your grids."""
    with unit_of_work() as uow:
        log, created = patrols.create_log(uow, authenticated_principal(), patrols.LogInput(**args))
    return log, 201 if created else 200


@blp.route("/patrol-logs", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.arguments(LogListArgs, location="query")
@blp.response(200, LogPage)
def list_logs(args: dict[str, Any]) -> Any:
    """Patrol logs, newest first, scoped like patrols."""
    page = patrols.list_log_rows(
        authenticated_principal(),
        _filter(args),
        patrol_id=args.get("patrol"),
        cursor=args.get("cursor"),
        limit=args["limit"],
    )
    return fastjson.json_response(
        {"items": [patrols.log_row(r) for r in page.items], "next_cursor": page.next_cursor}
    )


@blp.route("/patrol-logs/<string(maxlength=64):log_id>/raise-case", methods=["POST"])
@blp.auth(Role.COLLECTOR)
@blp.arguments(RaiseArgs)
@blp.response(201, RaisedSchema)
@blp.alt_response(409, schema=ErrorSchema, description="case_already_raised")
def raise_case(args: dict[str, Any], log_id: str) -> Any:
    """Raise a case (source patrol) from a log, with its point and photos."""
    with unit_of_work() as uow:
        log, result = patrols.raise_case(
            uow,
            authenticated_principal(),
            log_id,
            category=args.get("category"),
            priority=args.get("priority"),
            description=args.get("description"),
        )
    return {
        "log": log,
        "case_id": result.case.id,
        "case_number": result.case.number,
        "public_token": result.case.public_token,
    }, 201


# ---------------------------------------------------------------------------------- schedules


class ScheduleArgs(InputSchema):
    collector_id = id_field(required=True)
    grid_id = id_field(required=True)
    times = fields.List(
        fields.String(validate=validate.Length(4, 5)),
        required=True,
        validate=validate.Length(1, 12),
        metadata={"example": ["09:00", "15:00"]},
    )
    weekdays = fields.List(
        fields.Integer(validate=validate.Range(1, 7)), load_default=lambda: [1, 2, 3, 4, 5, 6, 7]
    )
    tolerance_minutes = fields.Integer(load_default=60, validate=validate.Range(5, 720))
    skip_holidays = fields.Boolean(load_default=True)
    valid_from = day_field()
    valid_to = day_field()


class ScheduleSchema(Schema):
    id = fields.Integer(required=True)
    collector_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    times = fields.List(fields.String(), required=True)
    weekdays = fields.List(fields.Integer(), required=True)
    tolerance_minutes = fields.Integer(required=True)
    skip_holidays = fields.Boolean(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(allow_none=True)
    active = fields.Boolean(required=True)


class ScheduleListArgs(InputSchema):
    collector = id_field()


@blp.route("/patrol-schedules", methods=["POST"])
@blp.auth(Role.DISPATCHER, Role.ADMIN)
@blp.arguments(ScheduleArgs)
@blp.response(201, ScheduleSchema)
def create_schedule(args: dict[str, Any]) -> Any:
    """Schedule a collector's patrols of a grid (local times, weekdays, tolerance)."""
    with unit_of_work() as uow:
        out = schedules.create_schedule(
            uow, authenticated_principal(), schedules.ScheduleInput(**args)
        )
    return out, 201


@blp.route("/patrol-schedules", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.arguments(ScheduleListArgs, location="query")
@blp.response(200, ScheduleSchema(many=True))
def list_schedules(args: dict[str, Any]) -> Any:
    """Active schedules: a collector's own, or the subdistrict's."""
    return schedules.list_schedules(authenticated_principal(), args.get("collector"))


@blp.route("/patrol-schedules/<int(min=1, max=2147483647):schedule_id>", methods=["DELETE"])
@blp.auth(Role.DISPATCHER, Role.ADMIN)
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="no such schedule")
def delete_schedule(schedule_id: int) -> Any:
    """Stop a schedule (its history of done and missed slots is kept)."""
    with unit_of_work() as uow:
        schedules.deactivate_schedule(uow, authenticated_principal(), schedule_id)
    return None


class FiguresArgs(InputSchema):
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    collector = id_field()


class RatioSchema(Schema):
    numerator = fields.Integer(required=True)
    denominator = fields.Integer(required=True)
    value = fields.Float(allow_none=True)


class CollectorFigures(Schema):
    collector_id = fields.Integer(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)
    scheduled_patrols = fields.Integer(required=True)
    patrols_on_time = fields.Integer(required=True)
    on_time_patrol_rate = fields.Nested(RatioSchema, required=True)
    average_coverage = fields.Float(allow_none=True)
    reports_made = fields.Integer(required=True)
    valid_report_rate = fields.Nested(RatioSchema, required=True)
    verified = fields.Integer(required=True)
    verified_on_time_rate = fields.Nested(RatioSchema, required=True)


@blp.route("/stats/patrols", methods=["GET"])
@blp.auth(Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN)
@blp.arguments(FiguresArgs, location="query")
@blp.response(200, CollectorFigures(many=True))
def collector_figures(args: dict[str, Any]) -> Any:
    """Per collector: on-time patrol rate, average coverage, valid-report rate, verified on
    time — over [from, to) (default: the last 30 days)."""
    now = datetime.now(UTC)
    date_to = args.get("date_to") or now
    date_from = args.get("date_from") or date_to - timedelta(days=30)
    return schedules.collector_figures(
        authenticated_principal(),
        date_from=date_from,
        date_to=date_to,
        collector_id=args.get("collector"),
    )
