"""/api/v1/cases: report, the queue, a case with its history, actions, bulk dispatch, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import request
from marshmallow import Schema, fields, pre_load, validate

from server.api import fastjson
from server.api.blueprint import ApiBlueprint, authenticated_principal, current_principal
from server.api.errors import ErrorSchema
from server.api.schemas import (
    CLIENT_ID,
    CRS_FIELD,
    MAX_ID,
    SHA256,
    DeadlineNote,
    InputSchema,
    id_field,
    lat_field,
    lon_field,
    moment_field,
)
from server.domain.cases import Action, Stage, Status
from server.domain.kpis import LABELS
from server.domain.roles import Role
from server.models.cases import PRIORITIES, SOURCES
from server.services.caseloop import (
    case_location,
    case_present,
    case_queries,
    cases,
    kpi,
    triage,
)
from server.services.people import ratelimit
from server.services.uow import unit_of_work

blp = ApiBlueprint("cases", __name__, url_prefix="/api/v1", description="民情事项 Cases")

PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{4,19}$", error="Not a phone number.")
ACTIONS = [a.value for a in Action if a not in (Action.RATE, Action.RATING_TIMEOUT)]
DISPATCHERS = (Role.DISPATCHER, Role.ADMIN)


# ---------------------------------------------------------------------------------- schemas


class ReportArgs(InputSchema):
    category = fields.String(
        required=True,
        validate=validate.Length(1, 32),
        metadata={"description": "category code, e.g. sanitation"},
    )
    description = fields.String(required=True, validate=validate.Length(1, 2000))
    lon = lon_field()
    lat = lat_field()
    crs = CRS_FIELD
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    source = fields.String(
        validate=validate.OneOf(SOURCES),
        metadata={
            "description": "dispatchers: hotline, visit, wechat, deliberation; ignored otherwise"
        },
    )
    photos = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=9), load_default=list
    )
    reporter_name = fields.String(validate=validate.Length(1, 50))
    reporter_phone = fields.String(validate=PHONE)
    phone_consent = fields.Boolean(
        metadata={"description": "the caller allows the handling unit to call them"}
    )
    address = fields.String(validate=validate.Length(1, 200))
    id = fields.String(
        validate=CLIENT_ID,
        metadata={"description": "client-generated id (offline phones): a retried report is no-op"},
    )
    reported_at = moment_field(metadata={"description": "devices: when it was seen"})


class Named(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class CategoryRef(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)


class ReporterSchema(Schema):
    role = fields.String(required=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    phone_consent = fields.Boolean(
        metadata={"description": "the handling unit sees the phone only when this is true"}
    )


class CaseUnit(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ExtensionSchema(Schema):
    until = fields.DateTime(required=True)
    reason = fields.String(allow_none=True)


class PhotoSchema(Schema):
    sha256 = fields.String(required=True)
    role = fields.String(required=True)
    url = fields.String(required=True)
    thumbnail_url = fields.String(required=True)
    removed = fields.Boolean(
        metadata={"description": "removed under retention (personal data): its URLs answer 410"}
    )
    personal = fields.Boolean(
        metadata={"description": "shows people: removed some time after the case ended"}
    )


class EventSchema(Schema):
    seq = fields.Integer(required=True)
    action = fields.String(required=True)
    action_zh = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    actor_role = fields.String(required=True)
    actor_name = fields.String(allow_none=True)
    payload = fields.Dict(required=True)
    at = fields.DateTime(required=True)


class CaseSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    status_zh = fields.String(required=True)
    stage = fields.String(required=True)
    stage_zh = fields.String(required=True)
    source = fields.String(required=True)
    channel = fields.String(
        allow_none=True,
        metadata={"description": "the outside system it came through: open311, 12345 (or null)"},
    )
    priority = fields.String(required=True)
    category = fields.Nested(CategoryRef, required=True)
    description = fields.String(required=True)
    address = fields.String(allow_none=True)
    lon = fields.Float(required=True, allow_none=True, metadata={"description": "null: unlocated"})
    lat = fields.Float(required=True, allow_none=True, metadata={"description": "null: unlocated"})
    grid = fields.Nested(Named, required=True, allow_none=True)
    community = fields.Nested(Named, required=True, allow_none=True)
    unlocated = fields.Boolean(
        required=True,
        metadata={
            "description": "待定位: no point nor grid yet (an address that could not be placed); "
            "locate it with POST /cases/{id}/location"
        },
    )
    reporter = fields.Nested(ReporterSchema, required=True)
    unit = fields.Nested(CaseUnit, allow_none=True)
    deadline_at = fields.DateTime(allow_none=True)
    deadline_note = fields.Nested(
        DeadlineNote,
        allow_none=True,
        metadata={
            "description": "a case's own view only: the deadline was counted with weekends only "
            "because the holiday calendar of these years was not loaded when it was computed "
            "(recorded then; loading the calendar later does not change it)"
        },
    )
    overdue = fields.Boolean(required=True)
    overdue_at = fields.DateTime(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    rework_count = fields.Integer(required=True)
    send_back_count = fields.Integer(required=True)
    extension_count = fields.Integer(required=True)
    extension_request = fields.Nested(ExtensionSchema, allow_none=True)
    result = fields.String(allow_none=True)
    rating = fields.String(allow_none=True)
    merged_into = fields.String(allow_none=True)
    version = fields.Integer(required=True)
    reported_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    accepted_at = fields.DateTime(allow_none=True)
    dispatched_at = fields.DateTime(allow_none=True)
    handled_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    allowed_actions = fields.List(fields.String(), required=True)
    public_token = fields.String(metadata={"description": "dispatchers and the reporter only"})
    photos = fields.List(fields.Nested(PhotoSchema))
    events = fields.List(fields.Nested(EventSchema))


class DuplicateSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    description = fields.String(required=True)
    distance_m = fields.Float(required=True)
    reported_at = fields.DateTime(required=True)


class ReportResponse(Schema):
    case = fields.Nested(CaseSchema, required=True)
    public_token = fields.String(required=True)
    public_url = fields.String(required=True)
    duplicates = fields.List(fields.Nested(DuplicateSchema), required=True)


class ListArgs(InputSchema):
    status = fields.List(fields.String(validate=validate.OneOf([s.value for s in Status])))
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))
    community = id_field()
    grid = id_field()
    category = fields.String(validate=validate.Length(1, 32))
    unit = id_field()
    source = fields.String(validate=validate.OneOf(SOURCES))
    overdue = fields.Boolean()
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    q = fields.String(validate=validate.Length(1, 100))
    unlocated = fields.Boolean(
        metadata={"description": "true: only the unlocated cases (待定位); false: only located"}
    )
    imported_at = moment_field(
        metadata={
            "description": "the cases of the 12345 import made at this instant (its inbox "
            "entry's `cases_filter`)"
        }
    )
    sort = fields.String(
        load_default="-created_at", validate=validate.OneOf(list(case_queries.SORTS))
    )
    cursor = fields.String(validate=validate.Length(1, 500))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class CasePageSchema(Schema):
    items = fields.List(fields.Nested(CaseSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CountsSchema(Schema):
    by_stage = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue = fields.Integer(required=True)
    due_within_24h = fields.Integer(required=True)
    unlocated = fields.Integer(required=True, metadata={"description": "待定位: no place yet"})


class ActionArgs(InputSchema):
    version = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    reason = fields.String(
        validate=validate.Length(1, 2000),
        metadata={
            "description": "reject, send_back, deny_extension, verify_fail, request_extension; "
            "close (the explanation); verify_ok (an optional note)"
        },
    )
    unit_id = id_field(metadata={"description": "dispatch"})
    deadline = moment_field(
        metadata={"description": "dispatch (override), request_extension (the new deadline)"}
    )
    result = fields.String(
        validate=validate.Length(1, 4000), metadata={"description": "report_done"}
    )
    photos = fields.List(
        fields.String(validate=SHA256), validate=validate.Length(max=9), load_default=list
    )
    into = fields.String(validate=validate.Length(1, 64), metadata={"description": "merge"})


class BulkItemSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(1, 64))
    version = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))


class BulkDispatchArgs(InputSchema):
    cases = fields.List(
        fields.Nested(BulkItemSchema), required=True, validate=validate.Length(1, 200)
    )
    unit_id = id_field(required=True)
    deadline = moment_field()


class BulkResult(Schema):
    dispatched = fields.List(fields.Nested(CaseSchema), required=True)


class KpiEntry(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    value = fields.Float(allow_none=True)
    numerator = fields.Integer()
    denominator = fields.Integer()
    percent = fields.Float(allow_none=True)


KpiSchema = Schema.from_dict(
    {
        "from": fields.DateTime(required=True),
        "to": fields.DateTime(required=True),
        "as_of": fields.String(required=True),
        **{name: fields.Nested(KpiEntry, required=True) for name in LABELS},
    },
    name="KpiSchema",
)


class KpiArgs(InputSchema):
    date_from = moment_field(data_key="from")
    date_to = moment_field(data_key="to")
    community = id_field()
    grid = id_field()
    unit = id_field()
    category = fields.String(validate=validate.Length(1, 32))


# ---------------------------------------------------------------------------------- views


def _public_url(token: str) -> str:
    return f"{request.host_url.rstrip('/')}/r/{token}"


@blp.route("/cases", methods=["POST"])
@blp.auth(optional=True)
@blp.arguments(ReportArgs)
@blp.response(201, ReportResponse)
@blp.alt_response(200, schema=ReportResponse, description="the same client id was retried")
@blp.alt_response(409, schema=ErrorSchema, description="id_taken")
@blp.alt_response(429, schema=ErrorSchema, description="too many reports from this address")
def report(args: dict[str, Any]) -> Any:
    """Report a case (上报). Without a token: an anonymous resident (rate-limited)."""
    principal = current_principal()
    if principal is None:
        with unit_of_work() as uow:  # counted even if the report is then refused
            ratelimit.resident_report(uow, request.remote_addr or "unknown")
    with unit_of_work() as uow:
        result = cases.report_case(uow, principal, cases.ReportInput(**args))
    body = {
        "case": case_present.present(result.case, principal),
        "public_token": result.case.public_token,
        "public_url": _public_url(result.case.public_token),
        "duplicates": [
            {
                "id": d.case.id,
                "number": d.case.number,
                "status": d.case.status,
                "description": d.case.description,
                "distance_m": d.distance_m,
                "reported_at": d.case.reported_at,
            }
            for d in result.duplicates
        ],
    }
    return body, 201 if result.created else 200


@blp.route("/cases", methods=["GET"])
@blp.auth()
@blp.arguments(ListArgs, location="query")
@blp.response(200, CasePageSchema)
def list_cases(args: dict[str, Any]) -> Any:
    """The queue: filters, sort, cursor pagination, scoped by role."""
    principal = authenticated_principal()
    page = case_queries.list_case_rows(
        principal,
        case_filter(args),
        sort=args["sort"],
        cursor=args.get("cursor"),
        limit=args["limit"],
    )
    # plain rows, a plain presenter and orjson: what CasePageSchema would dump, at a fraction
    # of the cost (tests/api/test_fast_queue.py compares the bytes)
    return fastjson.json_response(
        {
            "items": [case_present.present_row(r, principal) for r in page.items],
            "next_cursor": page.next_cursor,
        }
    )


def case_filter(args: dict[str, Any]) -> case_queries.CaseFilter:
    """The queue's filters from its query arguments (also used by the export)."""
    return case_queries.CaseFilter(
        status=args.get("status"),
        stage=args.get("stage"),
        community=args.get("community"),
        grid=args.get("grid"),
        category=args.get("category"),
        unit=args.get("unit"),
        source=args.get("source"),
        overdue=args.get("overdue"),
        created_from=args.get("date_from"),
        created_to=args.get("date_to"),
        q=args.get("q"),
        unlocated=args.get("unlocated"),
        imported_at=args.get("imported_at"),
    )


@blp.route("/cases/counts", methods=["GET"])
@blp.auth()
@blp.arguments(ListArgs, location="query")
@blp.response(200, CountsSchema)
def counts(args: dict[str, Any]) -> Any:
    """How many cases per stage and status (same filters as the queue), overdue, due soon."""
    return fastjson.json_response(
        case_queries.stage_counts(authenticated_principal(), case_filter(args))
    )


@blp.route("/cases/<string:case_id>", methods=["GET"])
@blp.auth()
@blp.response(200, CaseSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such case in your scope")
def get_case(case_id: str) -> Any:
    """A case with its photos and full event history."""
    principal = authenticated_principal()
    case = cases.visible_case(principal, case_id)
    photos = case_present.photos_of([case.id]).get(case.id, [])
    return case_present.present(case, principal, events=cases.events_of(case), photos=photos)


class LocateArgs(InputSchema):
    version = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    lat = lat_field()
    lng = lon_field(metadata={"description": "longitude (`lon` is accepted too)"})
    crs = CRS_FIELD
    how = fields.String(
        load_default="map",
        validate=validate.OneOf(case_location.HOW),
        metadata={"description": "how it was found: map, candidate (the geocoder's), coordinates"},
    )

    @pre_load
    def _lon_alias(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and "lng" not in data and "lon" in data:
            data = {**data, "lng": data["lon"]}
            del data["lon"]
        return data


class CandidateSchema(Schema):
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    label = fields.String(required=True)
    level = fields.String(required=True)
    precise = fields.Boolean(required=True)
    inside = fields.Boolean(required=True)
    grid = fields.Nested(Named, allow_none=True)


class CandidatesSchema(Schema):
    address = fields.String(allow_none=True)
    provider = fields.String(required=True)
    candidates = fields.List(fields.Nested(CandidateSchema), required=True)
    failure = fields.String(allow_none=True)


@blp.route("/cases/<string:case_id>/location", methods=["POST"])
@blp.auth()
@blp.arguments(LocateArgs)
@blp.response(200, CaseSchema)
@blp.alt_response(403, schema=ErrorSchema, description="not a dispatcher or admin")
@blp.alt_response(404, schema=ErrorSchema, description="no such case in your scope")
@blp.alt_response(409, schema=ErrorSchema, description="stale_version, already_located")
@blp.alt_response(422, schema=ErrorSchema, description="outside_subdistrict, bad input")
def locate_case(args: dict[str, Any], case_id: str) -> Any:
    """Locate an unlocated case (待定位): the point (WGS84 unless `crs`) must lie in a grid of
    the case's subdistrict; grid and community follow. One `locate` event. Dispatchers and
    admins; carries the case `version`."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        case = case_location.locate_case(
            uow,
            principal,
            case_id,
            case_location.LocateInput(
                version=args["version"],
                lon=args["lng"],
                lat=args["lat"],
                crs=args["crs"],
                how=args["how"],
            ),
        )
        body = case_present.present(case, principal, events=cases.events_of(case))
    return body


@blp.route("/cases/<string:case_id>/location/candidates", methods=["GET"])
@blp.auth()
@blp.response(200, CandidatesSchema)
@blp.alt_response(403, schema=ErrorSchema, description="not a dispatcher or admin")
@blp.alt_response(404, schema=ErrorSchema, description="no such case in your scope")
def location_candidates(case_id: str) -> Any:
    """The geocoder's candidates (WGS84) for the case's address, each saying whether it
    lies in the case's subdistrict and in which grid; `failure` says why there are none
    when the geocoder is off or failed (never a 5xx)."""
    found = case_location.candidates_for(authenticated_principal(), case_id)
    return {
        "address": found.address,
        "provider": found.provider,
        "candidates": found.candidates,
        "failure": found.failure,
    }


@blp.route("/cases/<string:case_id>/actions/<string:action>", methods=["POST"])
@blp.auth()
@blp.arguments(ActionArgs)
@blp.response(200, CaseSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such case or action")
@blp.alt_response(409, schema=ErrorSchema, description="stale_version, illegal_transition")
def case_action(args: dict[str, Any], case_id: str, action: str) -> Any:
    """Fire an action: accept, reject, merge, dispatch, acknowledge, send_back,
    request_extension, approve_extension, deny_extension, report_done, verify_ok,
    verify_fail, close. Carries the case `version` (stale → 409). `accept` also dispatches
    when a routing rule of the case's category and place says so (two events)."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        if action == "accept":
            case = triage.accept(
                uow, principal, case_id, args["version"], data=cases.ActionInput(**args)
            )
        else:
            case = cases.act(uow, principal, case_id, action, cases.ActionInput(**args))
    photos = case_present.photos_of([case.id]).get(case.id, [])
    return case_present.present(case, principal, events=cases.events_of(case), photos=photos)


@blp.route("/cases/bulk/dispatch", methods=["POST"])
@blp.auth(*DISPATCHERS)
@blp.arguments(BulkDispatchArgs)
@blp.response(200, BulkResult)
@blp.alt_response(409, schema=ErrorSchema, description="bulk_refused: none was dispatched")
def bulk_dispatch(args: dict[str, Any]) -> Any:
    """Dispatch many cases to one unit, all or none."""
    principal = authenticated_principal()
    with unit_of_work() as uow:
        done = cases.bulk_dispatch(
            uow,
            principal,
            [cases.BulkItem(**item) for item in args["cases"]],
            args["unit_id"],
            args.get("deadline"),
        )
    return {"dispatched": [case_present.present(c, principal) for c in done]}


@blp.route("/stats/kpis", methods=["GET"])
@blp.auth()
@blp.arguments(KpiArgs, location="query")
@blp.response(200, KpiSchema)
def kpis(args: dict[str, Any]) -> Any:
    """Key figures over cases reported in [from, to) (default: the last 30 days), each with
    numerator and denominator."""
    now = datetime.now(UTC)
    date_to = args.get("date_to") or now
    date_from = args.get("date_from") or date_to - timedelta(days=30)
    return kpi.key_figures(
        authenticated_principal(),
        date_from=date_from,
        date_to=date_to,
        community=args.get("community"),
        grid=args.get("grid"),
        unit=args.get("unit"),
        category=args.get("category"),
    )
