"""Patrols and patrol logs: start, stream the track, end with its figures, log, raise a case.

A collector writes only their own patrols and logs, in their own grids; dispatchers and
admins read their subdistrict's. Ids may come from the phone (offline), so every create is
idempotent by id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely import wkt
from shapely.geometry import Point
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from geo.tracks import TrackPoint, simplify_for_display, summarize, to_linestring_wkt
from server.domain.codes import CLIENT_ID
from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import Category, Grid, Patrol, PatrolLog
from server.models.base import SRID, UTCDateTime, utcnow
from server.services.caseloop.cases import ReportInput, report_case
from server.services.files import attachments, photo_access
from server.services.pagination import Page, keyset_page
from server.services.people.principal import Principal
from server.services.territory.locate import locate_many, to_wgs84_checked
from server.services.uow import UnitOfWork

MAX_POINTS = 20_000
EARLIEST_FIX = datetime(
    2000, 1, 1, tzinfo=UTC
).timestamp()  # one patrol: a day of walking at one point every 5 s


def _collector_only(principal: Principal) -> None:
    if principal.role is not Role.COLLECTOR:
        raise Forbidden("Only collectors patrol", "只有民情收集员可以巡逻")


def _own_grid(principal: Principal, grid_id: int) -> Grid:
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.id not in principal.grid_ids:
        raise Invalid(
            "outside_your_grids",
            "grid_id: not one of your grids",
            "字段 grid_id：不是您负责的网格",
            field="grid_id",
        )
    return grid


def _check_id(value: str | None) -> str:
    if value is None:
        return uuid.uuid4().hex
    if not CLIENT_ID.match(value):
        raise Invalid(
            "validation_error",
            "id: 8–64 of A-Z a-z 0-9 _ -",
            "字段 id：须为 8–64 位字母、数字、_ 或 -",
            field="id",
        )
    return value


# ---------------------------------------------------------------------------------- patrols


@dataclass
class TrackInput:
    """Points as [lon, lat, unix seconds or ISO time, accuracy m?] in `crs`."""

    points: list[list[Any]] = field(default_factory=list)
    crs: str = "wgs84"


def _normalise(track: TrackInput) -> list[list[Any]]:
    out = []
    for i, raw in enumerate(track.points):
        if not isinstance(raw, list | tuple) or len(raw) < 3:
            raise Invalid(
                "bad_track",
                f"points[{i}]: [lon, lat, time, accuracy?]",
                f"points[{i}]：格式应为 [经度, 纬度, 时间, 精度?]",
                field="points",
            )
        lon, lat, t = raw[0], raw[1], raw[2]
        accuracy = raw[3] if len(raw) > 3 else None
        try:
            seconds = (
                float(t)
                if isinstance(t, int | float)
                else datetime.fromisoformat(str(t)).timestamp()
            )
            if not EARLIEST_FIX <= seconds <= utcnow().timestamp() + 86_400:
                raise ValueError(t)  # a phone clock far off: the track cannot be trusted
            lon_f, lat_f = float(lon), float(lat)
            if not (-180 <= lon_f <= 180 and -90 <= lat_f <= 90):
                raise ValueError(raw)
            if accuracy is not None and (
                isinstance(accuracy, bool)
                or not isinstance(accuracy, int | float)
                or not 0 <= accuracy < 100_000
            ):
                raise ValueError(accuracy)  # a negative or absurd accuracy: a broken fix
        except (TypeError, ValueError) as exc:
            raise Invalid(
                "bad_track",
                f"points[{i}]: not a valid point",
                f"points[{i}]：不是有效的轨迹点",
                field="points",
            ) from exc
        wlon, wlat = to_wgs84_checked(lon_f, lat_f, track.crs)
        out.append(
            [
                round(wlon, 7),
                round(wlat, 7),
                seconds,
                float(accuracy) if isinstance(accuracy, int | float) else None,
            ]
        )
    return out


def _merge(existing: list[list[Any]], new: list[list[Any]]) -> list[list[Any]]:
    """Points arrive in batches, perhaps twice (retries): keep one per timestamp, in order."""
    by_time = {p[2]: p for p in existing}
    for p in new:
        by_time.setdefault(p[2], p)
    if len(by_time) > MAX_POINTS:
        raise Invalid(
            "track_too_long",
            f"a patrol keeps at most {MAX_POINTS} points",
            f"一次巡逻最多 {MAX_POINTS} 个轨迹点",
            field="points",
        )
    return [by_time[t] for t in sorted(by_time)]


def start_patrol(
    uow: UnitOfWork,
    principal: Principal,
    *,
    grid_id: int,
    patrol_id: str | None = None,
    started_at: datetime | None = None,
    track: TrackInput | None = None,
) -> tuple[Patrol, bool]:
    """Start (or, offline, record) a patrol in one of the collector's grids; a retried
    start returns the existing patrol (created False)."""
    _collector_only(principal)
    pid = _check_id(patrol_id)
    existing = uow.session.get(Patrol, pid)
    if existing is not None:
        if existing.collector_id != principal.user_id:
            raise Conflict(
                "id_taken", "a patrol with this id exists", "该编号的巡逻已存在", field="id"
            )
        return existing, False
    patrol = _new_patrol(uow, principal, pid, grid_id, started_at)
    if track:
        patrol.points = _merge([], _normalise(track))
    uow.session.add(patrol)
    uow.session.flush()
    return patrol, True


def _new_patrol(
    uow: UnitOfWork, principal: Principal, pid: str, grid_id: int, started_at: datetime | None
) -> Patrol:
    grid = _own_grid(principal, grid_id)
    now = uow.now
    return Patrol(
        id=pid,
        collector_id=principal.user_id,
        grid_id=grid.id,
        grid=grid,
        subdistrict_id=grid.subdistrict_id,
        device_id=principal.device_id,
        status="active",
        started_at=min(started_at, now) if started_at else now,
        points=[],
        flags=[],
    )


# --- many new patrols at once (a phone's push): every one checked, then all written ---------


def patrol_grids(uow: UnitOfWork, grid_ids: set[int]) -> list[Grid]:
    """The grids new patrols name, read in one SELECT; keep the list while the patrols are
    checked (the session finds them by id instead of reading each alone)."""
    if not grid_ids:
        return []
    return list(uow.session.scalars(select(Grid).where(Grid.id.in_(sorted(grid_ids)))))


def new_patrol(
    uow: UnitOfWork,
    principal: Principal,
    *,
    grid_id: int,
    patrol_id: str,
    started_at: datetime | None,
) -> Patrol:
    """`start_patrol`'s checks and patrol for an id known to be new, not yet written: the
    caller checks every patrol of a batch (`end_new_patrol`, `add_new_points`), then writes
    the accepted ones together (`add_patrols`)."""
    _collector_only(principal)
    return _new_patrol(uow, principal, _check_id(patrol_id), grid_id, started_at)


def end_new_patrol(
    uow: UnitOfWork, patrol: Patrol, *, ended_at: datetime | None, track: TrackInput | None
) -> Patrol:
    """`end_patrol` of a patrol `new_patrol` made (not yet written)."""
    return _end(uow, patrol, ended_at=ended_at, track=track)


def add_new_points(patrol: Patrol, track: TrackInput) -> Patrol:
    """`add_points` to a patrol `new_patrol` made (not yet written)."""
    patrol.points = _merge(patrol.points or [], _normalise(track))
    return patrol


def add_patrols(uow: UnitOfWork, patrols: Sequence[Patrol]) -> None:
    """Write the new patrols of a batch: one flush, one multi-row INSERT (the ids are new: a
    clash fails the whole unit of work)."""
    if patrols:
        uow.session.add_all(patrols)
        uow.session.flush()


def own_patrol(principal: Principal, patrol_id: str) -> Patrol:
    patrol = db.session.get(Patrol, patrol_id)
    if patrol is None or not _may_see(principal, patrol.collector_id, patrol.subdistrict_id):
        raise NotFound("Patrol", "巡逻")
    return patrol


def _may_see(principal: Principal, collector_id: int, subdistrict_id: int) -> bool:
    if principal.role is Role.COLLECTOR:
        return collector_id == principal.user_id
    if principal.role in (Role.DISPATCHER, Role.ADMIN):
        return principal.may_see_subdistrict(subdistrict_id)
    return False


def _writable(principal: Principal, patrol_id: str) -> Patrol:
    _collector_only(principal)
    patrol = own_patrol(principal, patrol_id)
    return patrol


def add_points(uow: UnitOfWork, principal: Principal, patrol_id: str, track: TrackInput) -> Patrol:
    """Append a batch of track points (retried batches are harmless)."""
    patrol = _writable(principal, patrol_id)
    if patrol.status != "active":
        raise Conflict(
            "patrol_ended",
            "the patrol has ended; send points with its end",
            "巡逻已结束",
            field="points",
        )
    patrol.points = _merge(patrol.points or [], _normalise(track))
    return patrol


def end_patrol(
    uow: UnitOfWork,
    principal: Principal,
    patrol_id: str,
    *,
    ended_at: datetime | None = None,
    track: TrackInput | None = None,
) -> Patrol:
    """End the patrol and compute its figures: distance, time in the grid, coverage, flags.
    Ending twice changes nothing."""
    patrol = _writable(principal, patrol_id)
    if patrol.status == "ended":
        return patrol
    return _end(uow, patrol, ended_at=ended_at, track=track)


def _end(
    uow: UnitOfWork, patrol: Patrol, *, ended_at: datetime | None, track: TrackInput | None
) -> Patrol:
    if track is not None and track.points:
        patrol.points = _merge(patrol.points or [], _normalise(track))
    now = uow.now
    end = min(ended_at, now) if ended_at else now
    if end < patrol.started_at:
        raise Invalid(
            "validation_error",
            "ended_at: before the patrol started",
            "字段 ended_at：早于巡逻开始时间",
            field="ended_at",
        )
    patrol.ended_at = end
    patrol.status = "ended"
    apply_summary(patrol)
    return patrol


def track_points(patrol: Patrol) -> list[TrackPoint]:
    return [
        TrackPoint(lon=p[0], lat=p[1], t=datetime.fromtimestamp(p[2], UTC), accuracy_m=p[3])
        for p in (patrol.points or [])
    ]


def apply_summary(patrol: Patrol) -> None:
    """The patrol's figures from its full track (the stored line is only for drawing)."""
    points = track_points(patrol)
    polygon = to_shape(patrol.grid.geom)
    summary = summarize(points, polygon)
    patrol.distance_m = round(summary.distance_m, 1)
    patrol.duration_s = (
        round((patrol.ended_at - patrol.started_at).total_seconds(), 1)
        if patrol.ended_at
        else summary.duration_s
    )
    patrol.time_inside_s = round(summary.time_inside_s, 1)
    patrol.coverage = round(summary.coverage, 4)
    patrol.flags = [
        {"code": f.code, "message": f.message, "message_zh": f.message_zh, "evidence": f.evidence}
        for f in summary.flags
    ]
    patrol.plausible = not summary.flags
    simplified = simplify_for_display(points)
    if len(simplified) >= 2:
        patrol.track = from_shape(wkt.loads(to_linestring_wkt(simplified)), srid=SRID)


@dataclass
class PatrolFilter:
    collector_id: int | None = None
    grid_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _scope(stmt: Select[Any], principal: Principal, model: Any) -> Select[Any]:
    if principal.role is Role.COLLECTOR:
        return stmt.where(model.collector_id == principal.user_id)
    if principal.role not in (Role.DISPATCHER, Role.ADMIN):
        raise Forbidden("Your role may not read patrols", "您的角色无权查看巡逻记录")
    if principal.subdistrict_id is not None:
        stmt = stmt.where(model.subdistrict_id == principal.subdistrict_id)
    return stmt


def scope_patrols(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """Patrols the principal may read: a collector their own, dispatchers and admins their
    subdistrict's; anyone else is refused."""
    return _scope(stmt, principal, Patrol)


def _patrols(stmt: Select[Any], principal: Principal, f: PatrolFilter) -> Select[Any]:
    stmt = _scope(stmt, principal, Patrol)
    if f.collector_id is not None:
        stmt = stmt.where(Patrol.collector_id == f.collector_id)
    if f.grid_id is not None:
        stmt = stmt.where(Patrol.grid_id == f.grid_id)
    if f.since is not None:
        stmt = stmt.where(Patrol.started_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Patrol.started_at < f.until)
    return stmt


def list_patrols(
    principal: Principal, f: PatrolFilter, *, cursor: str | None, limit: int
) -> Page[Patrol]:
    """Newest first, keyset-paginated on the row's insertion order."""
    return keyset_page(
        _patrols(select(Patrol), principal, f),
        Patrol.id,
        Patrol.started_at,
        sort="-time",
        desc=True,
        cursor=cursor,
        limit=limit,
    )


def _point_count() -> Any:
    """How many points a patrol holds, counted by the database (the list never loads them)."""
    if db.engine.dialect.name == "postgresql":
        return sql_case(
            (func.json_typeof(Patrol.points) == "array", func.json_array_length(Patrol.points)),
            else_=0,
        )
    return func.coalesce(func.json_array_length(Patrol.points), 0)


def list_patrol_rows(
    principal: Principal, f: PatrolFilter, *, cursor: str | None, limit: int
) -> Page[Any]:
    """`list_patrols` as plain rows of what the list shows (`patrol_row`): no track, no
    points (only their count), no ORM objects. Same patrols, order and cursors."""
    columns = (
        Patrol.id,
        Patrol.collector_id,
        Patrol.grid_id,
        Patrol.device_id,
        Patrol.status,
        Patrol.started_at,
        Patrol.ended_at,
        _point_count().label("point_count"),
        Patrol.distance_m,
        Patrol.duration_s,
        Patrol.time_inside_s,
        Patrol.coverage,
        Patrol.plausible,
        Patrol.flags,
    )
    return keyset_page(
        _patrols(select(*columns), principal, f),
        Patrol.id,
        Patrol.started_at,
        sort="-time",
        desc=True,
        cursor=cursor,
        limit=limit,
        rows=True,
    )


FLAG_KEYS = ("code", "message", "message_zh", "evidence")


def patrol_row(row: Any) -> dict[str, Any]:
    """A row of `list_patrol_rows` as the API's PatrolSchema shows it."""
    return {
        "id": row.id,
        "collector_id": row.collector_id,
        "grid_id": row.grid_id,
        "device_id": row.device_id,
        "status": row.status,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "point_count": int(row.point_count),
        "distance_m": row.distance_m,
        "duration_s": row.duration_s,
        "time_inside_s": row.time_inside_s,
        "coverage": row.coverage,
        "plausible": row.plausible,
        "flags": [{k: flag[k] for k in FLAG_KEYS if k in flag} for flag in row.flags or []],
    }


# ---------------------------------------------------------------------------------- logs


@dataclass
class LogInput:
    text: str
    lon: float
    lat: float
    crs: str = "wgs84"
    category: str | None = None
    photos: list[str] = field(default_factory=list)
    patrol_id: str | None = None
    id: str | None = None
    logged_at: datetime | None = None


def create_log(uow: UnitOfWork, principal: Principal, data: LogInput) -> tuple[PatrolLog, bool]:
    """Log an observation in one of the collector's grids (idempotent by id)."""
    _collector_only(principal)
    log_id = _check_id(data.id)
    existing = uow.session.get(PatrolLog, log_id)
    if existing is not None:
        if existing.collector_id != principal.user_id:
            raise Conflict(
                "id_taken", "a log with this id exists", "该编号的日志已存在", field="id"
            )
        return existing, False
    from server.services.territory.locate import locate

    try:
        where = locate(data.lon, data.lat, data.crs, principal)
    except DomainError as exc:
        raise Invalid(exc.code, exc.message, exc.message_zh, field="lon") from exc
    if where.grid.id not in principal.grid_ids:
        raise Invalid(
            "outside_your_grids",
            "the point is outside your grids",
            "该位置不在您负责的网格内",
            field="lon",
        )
    category_id = None
    if data.category:
        category_id = db.session.scalar(
            select(Category.id).where(Category.code == data.category, Category.active.is_(True))
        )
        if category_id is None:
            raise Invalid(
                "unknown_category",
                f"unknown category {data.category!r}",
                f"未知的事项分类 {data.category}",
                field="category",
            )
    if data.patrol_id is not None:
        patrol = own_patrol(principal, data.patrol_id)
        if patrol.collector_id != principal.user_id:
            raise NotFound("Patrol", "巡逻")
    if data.photos:
        attachments.require_attachments(data.photos)
        photo_access.check_attachable(principal, data.photos)
    now = uow.now
    log = PatrolLog(
        id=log_id,
        patrol_id=data.patrol_id,
        collector_id=principal.user_id,
        grid_id=where.grid.id,
        subdistrict_id=where.grid.subdistrict_id,
        category_id=category_id,
        text=data.text.strip(),
        point=from_shape(Point(where.lon, where.lat), srid=SRID),
        lon=where.lon,
        lat=where.lat,
        photos=list(data.photos),
        logged_at=min(data.logged_at, now) if data.logged_at else now,
    )
    uow.session.add(log)
    uow.session.flush()
    return log, True


@dataclass(frozen=True)
class NewLog:
    """A log `create_logs` wrote: its columns as stored."""

    id: str
    grid_id: int
    row: dict[str, Any] = field(default_factory=dict)


def create_logs(
    uow: UnitOfWork, principal: Principal, items: Sequence[LogInput]
) -> list[NewLog | DomainError]:
    """`create_log` for many new logs at once (a phone's push): every log is checked first,
    all points are located in one query of the grid index, and the accepted logs are written
    with one multi-row INSERT — nothing is written for a refused one. The i-th answer is the
    stored log or its refusal. The ids must be new (the caller has looked: a phone's push
    locks and reads its records first); a clash fails the whole unit of work."""
    _collector_only(principal)
    answers: list[NewLog | DomainError] = []
    for data in items:
        try:
            if data.id is None:
                raise Invalid("validation_error", "id: required", "字段 id：必填", field="id")
            answers.append(NewLog(_check_id(data.id), 0))
        except DomainError as exc:
            answers.append(exc)
    places = locate_many([(d.lon, d.lat, d.crs) for d in items])
    categories = _active_categories({d.category for d in items if d.category})
    patrol_owners = _patrol_owners({d.patrol_id for d in items if d.patrol_id is not None})
    rows: list[dict[str, Any]] = []
    for i, (data, where) in enumerate(zip(items, places, strict=True)):
        if isinstance(answers[i], DomainError):
            continue
        try:
            if isinstance(where, DomainError):
                raise Invalid(where.code, where.message, where.message_zh, field="lon")
            if where.grid_id not in principal.grid_ids:
                raise Invalid(
                    "outside_your_grids",
                    "the point is outside your grids",
                    "该位置不在您负责的网格内",
                    field="lon",
                )
            category_id = None
            if data.category:
                category_id = categories.get(data.category)
                if category_id is None:
                    raise Invalid(
                        "unknown_category",
                        f"unknown category {data.category!r}",
                        f"未知的事项分类 {data.category}",
                        field="category",
                    )
            if (
                data.patrol_id is not None
                and patrol_owners.get(data.patrol_id) != principal.user_id
            ):
                raise NotFound("Patrol", "巡逻")
            if data.photos:
                attachments.require_attachments(data.photos)
                photo_access.check_attachable(principal, data.photos)
        except DomainError as exc:
            answers[i] = exc
            continue
        row = {
            "id": data.id,
            "patrol_id": data.patrol_id,
            "collector_id": principal.user_id,
            "grid_id": where.grid_id,
            "subdistrict_id": where.subdistrict_id,
            "category_id": category_id,
            "text": data.text.strip(),
            "lon": where.lon,
            "lat": where.lat,
            "photos": list(data.photos),
            "logged_at": min(data.logged_at, uow.now) if data.logged_at else uow.now,
        }
        rows.append(row)
        answers[i] = NewLog(row["id"], where.grid_id, row)
    if rows:
        _insert_logs(uow.session, rows)
    return answers


_LOG_COLUMNS: dict[str, Any] = {
    "id": String,
    "patrol_id": String,
    "collector_id": Integer,
    "grid_id": Integer,
    "subdistrict_id": Integer,
    "category_id": Integer,
    "text": Text,
    "lon": Float,
    "lat": Float,
    "photos": JSON,
    "logged_at": DateTime(timezone=True),
}


def _insert_logs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write new logs set-wise: one INSERT … SELECT from the rows as one bound JSON text,
    one statement and one bound value whatever the number of rows (the driver neither
    parses a long VALUES list nor converts a dozen arrays). PostgreSQL reads the text with
    `json_to_recordset`, SQLite with `json_each`."""
    now = utcnow()
    if session.get_bind().dialect.name != "postgresql":
        _insert_logs_sqlite(session, rows, now)
        return
    table = PatrolLog.__table__
    payload = json.dumps(
        [{**r, "logged_at": r["logged_at"].isoformat()} for r in rows],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    records = (
        func.json_to_recordset(cast(bindparam("rows", payload, type_=Text), JSON))
        .table_valued(*(column(name, kind) for name, kind in _LOG_COLUMNS.items()))
        .render_derived(name="r", with_types=True)
    )
    c = records.c
    source = select(
        *(c[name] for name in _LOG_COLUMNS),
        func.ST_SetSRID(func.ST_MakePoint(c.lon, c.lat), SRID),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    )
    names = [*_LOG_COLUMNS, "point", "created_at", "updated_at"]
    session.execute(insert(table).from_select(names, source))


def _insert_logs_sqlite(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """SQLite: `INSERT … SELECT json_extract(value, '$[i]') … FROM json_each(:rows)`. Each
    value is sent as the column's own bind processing makes it (the datetime and JSON texts
    an executemany would bind), so the stored rows are the same; the point is
    `MakePoint(lon, lat, 4326)` of the stored coordinates. SQLite reads numbers from the
    JSON text exactly (a double's shortest repr parses back to the same double)."""
    table = PatrolLog.__table__
    dialect = session.get_bind().dialect
    names = [*_LOG_COLUMNS, "created_at", "updated_at"]
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    payload = json.dumps(
        [
            [
                value if proc is None or value is None else proc(value)
                for proc, value in zip(
                    processors, [*(r[n] for n in _LOG_COLUMNS), now, now], strict=True
                )
            ]
            for r in rows
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    each = func.json_each(bindparam("rows", payload, type_=Text)).table_valued("value")

    def at(i: int) -> Any:
        return func.json_extract(each.c.value, f"$[{i}]")

    lon, lat = names.index("lon"), names.index("lat")
    source = select(
        *(at(i) for i in range(len(names))), func.MakePoint(at(lon), at(lat), SRID)
    ).select_from(each)
    session.execute(insert(table).from_select([*names, "point"], source))


def _active_categories(codes: set[str]) -> dict[str, int]:
    if not codes:
        return {}
    found = db.session.execute(
        select(Category.code, Category.id).where(
            Category.code.in_(sorted(codes)), Category.active.is_(True)
        )
    )
    return {code: cid for code, cid in found}


def _patrol_owners(ids: set[str]) -> dict[str, int]:
    if not ids:
        return {}
    found = db.session.execute(
        select(Patrol.id, Patrol.collector_id).where(Patrol.id.in_(sorted(ids)))
    )
    return {pid: owner for pid, owner in found}


def edit_log(
    uow: UnitOfWork, principal: Principal, log_id: str, *, text: str, photos: list[str]
) -> bool:
    """The collector edits their own log's text and photos; True if anything changed.
    Photos newly added must be attachable by them (their own uploads, or free ones)."""
    answer = edit_logs(uow, principal, [LogEdit(log_id, text, list(photos))])[0]
    if isinstance(answer, DomainError):
        raise answer
    return answer


@dataclass(frozen=True)
class LogEdit:
    """A new text and photo list for one of the collector's logs."""

    id: str
    text: str
    photos: list[str] = field(default_factory=list)


def edit_logs(
    uow: UnitOfWork, principal: Principal, edits: Sequence[LogEdit]
) -> list[bool | DomainError]:
    """`edit_log` for many logs at once (a phone's push): the logs are read in one SELECT,
    every edit is checked before any is written, and nothing is written for a refused one.
    The i-th answer is whether that log changed, or its refusal (the same as `edit_log`'s).
    Each id once."""
    _collector_only(principal)
    ids = sorted({e.id for e in edits})
    logs: dict[str, PatrolLog] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        logs.update(
            (log.id, log)
            for log in uow.session.scalars(select(PatrolLog).where(PatrolLog.id.in_(chunk)))
        )
    answers: list[bool | DomainError] = []
    changes: list[tuple[PatrolLog, str, list[str]]] = []
    for edit in edits:
        log = logs.get(edit.id)
        try:
            if log is None or log.collector_id != principal.user_id:
                raise NotFound("Patrol log", "巡逻日志")
            text = edit.text.strip()
            if not text:
                raise Invalid("validation_error", "text: required", "字段 text：必填", field="text")
            before = list(log.photos or [])
            if (text, edit.photos) == (log.text, before):
                answers.append(False)
                continue
            if edit.photos:
                attachments.require_attachments(edit.photos)
                photo_access.check_attachable(
                    principal, [p for p in edit.photos if p not in before]
                )
        except DomainError as exc:
            answers.append(exc)
            continue
        changes.append((log, text, list(edit.photos)))
        answers.append(True)
    for log, text, photos in changes:
        log.text, log.photos = text, photos
    if changes:
        uow.session.flush()
    return answers


def get_log(principal: Principal, log_id: str) -> PatrolLog:
    log = db.session.get(PatrolLog, log_id)
    if log is None or not _may_see(principal, log.collector_id, log.subdistrict_id):
        raise NotFound("Patrol log", "巡逻日志")
    return log


def _logs(
    stmt: Select[Any], principal: Principal, f: PatrolFilter, patrol_id: str | None
) -> Select[Any]:
    stmt = _scope(stmt, principal, PatrolLog)
    if patrol_id is not None:
        stmt = stmt.where(PatrolLog.patrol_id == patrol_id)
    if f.collector_id is not None:
        stmt = stmt.where(PatrolLog.collector_id == f.collector_id)
    if f.grid_id is not None:
        stmt = stmt.where(PatrolLog.grid_id == f.grid_id)
    if f.since is not None:
        stmt = stmt.where(PatrolLog.logged_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(PatrolLog.logged_at < f.until)
    return stmt


def list_logs(
    principal: Principal, f: PatrolFilter, *, patrol_id: str | None, cursor: str | None, limit: int
) -> Page[PatrolLog]:
    return keyset_page(
        _logs(select(PatrolLog), principal, f, patrol_id),
        PatrolLog.id,
        PatrolLog.logged_at,
        sort="-time",
        desc=True,
        cursor=cursor,
        limit=limit,
    )


LOG_COLUMNS = (
    PatrolLog.id,
    PatrolLog.patrol_id,
    PatrolLog.collector_id,
    PatrolLog.grid_id,
    PatrolLog.category_id,
    PatrolLog.text,
    PatrolLog.lon,
    PatrolLog.lat,
    PatrolLog.photos,
    PatrolLog.case_id,
    PatrolLog.logged_at,
)


def list_log_rows(
    principal: Principal, f: PatrolFilter, *, patrol_id: str | None, cursor: str | None, limit: int
) -> Page[Any]:
    """`list_logs` as plain rows of LOG_COLUMNS (no geometry, no ORM objects)."""
    return keyset_page(
        _logs(select(*LOG_COLUMNS), principal, f, patrol_id),
        PatrolLog.id,
        PatrolLog.logged_at,
        sort="-time",
        desc=True,
        cursor=cursor,
        limit=limit,
        rows=True,
    )


def log_row(row: Any) -> dict[str, Any]:
    """A row of `list_log_rows` as the API's LogSchema shows it."""
    return {
        "id": row.id,
        "patrol_id": row.patrol_id,
        "collector_id": row.collector_id,
        "grid_id": row.grid_id,
        "category_id": row.category_id,
        "text": row.text,
        "lon": row.lon,
        "lat": row.lat,
        "photos": [str(p) for p in row.photos or []],
        "case_id": row.case_id,
        "logged_at": row.logged_at,
    }


def raise_case(
    uow: UnitOfWork,
    principal: Principal,
    log_id: str,
    *,
    category: str | None,
    priority: str | None,
    description: str | None,
) -> tuple[PatrolLog, Any]:
    """Turn a log into a case (source patrol), linked both ways; raising twice is refused."""
    _collector_only(principal)
    log = get_log(principal, log_id)
    if log.collector_id != principal.user_id:
        raise NotFound("Patrol log", "巡逻日志")
    if log.case_id is not None:
        raise Conflict(
            "case_already_raised",
            "this log already raised a case",
            "该日志已上报为事项",
            details={"case_id": log.case_id},
        )
    code = category
    if code is None and log.category_id is not None:
        code = db.session.scalar(select(Category.code).where(Category.id == log.category_id))
    if code is None:
        raise Invalid(
            "validation_error",
            "category: required (the log has none)",
            "字段 category：日志未分类，必须指定",
            field="category",
        )
    result = report_case(
        uow,
        principal,
        ReportInput(
            category=code,
            description=(description or log.text),
            lon=log.lon,
            lat=log.lat,
            priority=priority,
            photos=list(log.photos or []),
        ),
    )
    log.case_id = result.case.id
    return log, result
