"""Minqing's synced tables: how each record travels to and from a collector's phone.

Reference data (communities, grids, categories, units) and the case history are pull-only;
patrols, logs and case reports are created offline and applied through the same services
the API uses, so a record pushed by a phone obeys the same rules as one sent online.
The communities' deliberation topics and 阳光五务 notices are pull-only too (schema
version 2), for collectors to show residents on the street.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, object_session

from geo.geojson import to_geojson
from server.domain import deliberation as dl
from server.domain.cases import FINAL
from server.domain.masking import mask_name
from server.models import (
    Attachment,
    Case,
    CaseAction,
    CaseAttachment,
    CaseEvent,
    Category,
    Community,
    Grid,
    Notice,
    Patrol,
    PatrolLog,
    Topic,
    Unit,
)
from sync.registry import (
    DeviceContext,
    Operation,
    Raw,
    Registry,
    SyncColumn,
    SyncTable,
)

# 2: topics and notices (a phone of version 1 migrates: docs/sync.md, mobile/src/db.js)
SCHEMA_VERSION = 2
GLOBAL = 0  # the scope key of data every device sees (categories)

S, N, B = "string", "number", "boolean"


def col(
    name: str, kind: str, *, optional: bool = False, indexed: bool = False, writable: bool = False
) -> SyncColumn:
    return SyncColumn(name, kind, optional, indexed, writable)  # type: ignore[arg-type]


def millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]


# --- reference data ---------------------------------------------------------------------


def _communities(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for c in session.scalars(select(Community).where(Community.id.in_(_ids(ids)))):
        yield {"id": str(c.id), "code": c.code, "name": c.name}


def _grids(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for g in session.scalars(select(Grid).where(Grid.id.in_(_ids(ids)))):
        yield {
            "id": str(g.id),
            "code": g.code,
            "name": g.name,
            "community_id": str(g.community_id),
            "polygon": json.dumps(to_geojson(to_shape(g.geom)), separators=(",", ":")),
        }


def _categories(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for c in session.scalars(select(Category).where(Category.id.in_(_ids(ids)))):
        yield {
            "id": str(c.id),
            "code": c.code,
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "default_priority": c.default_priority,
            "active": c.active,
        }


def _units(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for u in session.scalars(select(Unit).where(Unit.id.in_(_ids(ids)))):
        yield {"id": str(u.id), "code": u.code, "name": u.name, "kind": u.kind, "active": u.active}


def _id_text(column: Any) -> Any:
    from sqlalchemy import String, cast

    return cast(column, String(64)).label("id")


def reference_tables() -> list[SyncTable]:
    return [
        SyncTable(
            name="communities",
            model=Community,
            columns=[col("code", S, indexed=True), col("name", S)],
            scope_kind="community",
            scope_of=lambda c: c.id,
            to_raws=_communities,
            in_scope=lambda keys, _h: select(_id_text(Community.id)).where(
                Community.id.in_(sorted(keys))
            ),
        ),
        SyncTable(
            name="grids",
            model=Grid,
            columns=[
                col("code", S, indexed=True),
                col("name", S),
                col("community_id", S, indexed=True),
                col("polygon", S),
            ],
            scope_kind="grid",
            scope_of=lambda g: g.id,
            to_raws=_grids,
            in_scope=lambda keys, _h: select(_id_text(Grid.id)).where(Grid.id.in_(sorted(keys))),
        ),
        SyncTable(
            name="categories",
            model=Category,
            columns=[
                col("code", S, indexed=True),
                col("name_zh", S),
                col("name_en", S),
                col("default_priority", S),
                col("active", B),
            ],
            scope_kind="global",
            scope_of=lambda _c: GLOBAL,
            to_raws=_categories,
            in_scope=lambda _k, _h: select(_id_text(Category.id)),
        ),
        SyncTable(
            name="units",
            model=Unit,
            columns=[col("code", S), col("name", S), col("kind", S), col("active", B)],
            scope_kind="subdistrict",
            scope_of=lambda u: u.subdistrict_id,
            scope_column="subdistrict_id",
            to_raws=_units,
            in_scope=lambda keys, _h: select(_id_text(Unit.id)).where(
                Unit.subdistrict_id.in_(sorted(keys))
            ),
        ),
    ]


# --- field records -------------------------------------------------------------------------


def _patrols(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for p in session.scalars(select(Patrol).where(Patrol.id.in_(list(ids)))):
        yield {
            "id": p.id,
            "grid_id": str(p.grid_id),
            "status": p.status,
            "started_at": millis(p.started_at),
            "ended_at": millis(p.ended_at),
            "track": json.dumps(
                [[x, y, int(t * 1000), acc] for x, y, t, acc in (p.points or [])],
                separators=(",", ":"),
            ),
            "crs": "wgs84",
            "distance_m": p.distance_m,
            "coverage": p.coverage,
            "plausible": p.plausible,
        }


def _patrols_for(session: Session, device: DeviceContext, raws: list[Raw]) -> Iterable[Raw]:
    """A track is personal location data: only the collector's own devices get it; colleagues'
    phones get the patrol's grid, times, distance and coverage (no track, no flags)."""
    own = set(
        session.scalars(
            select(Patrol.id).where(
                Patrol.id.in_([r["id"] for r in raws]), Patrol.collector_id == device.user_key
            )
        )
    )
    for raw in raws:
        yield raw if raw["id"] in own else {**raw, "track": "[]", "plausible": None}


def _logs(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    columns = (
        PatrolLog.id,
        PatrolLog.patrol_id,
        PatrolLog.grid_id,
        PatrolLog.category_id,
        PatrolLog.text,
        PatrolLog.lon,
        PatrolLog.lat,
        PatrolLog.photos,
        PatrolLog.case_id,
        PatrolLog.logged_at,
    )  # columns, not objects: a pull reads thousands
    rows = [
        g._mapping for g in session.execute(select(*columns).where(PatrolLog.id.in_(list(ids))))
    ]
    removed = _removed_photos(session, [sha for g in rows for sha in (g["photos"] or [])])
    for g in rows:
        raw = log_as_raw(g)
        if removed and any(sha in removed for sha in (g["photos"] or [])):
            raw["photos"] = json.dumps([sha for sha in g["photos"] if sha not in removed])
        yield raw


def _removed_photos(session: Session, shas: Sequence[str]) -> set[str]:
    """Those of `shas` removed under retention (photos of people): phones get them no more
    and drop their copies."""
    wanted = sorted({s for s in shas if isinstance(s, str)})
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Attachment.sha256).where(
                Attachment.sha256.in_(wanted), Attachment.removed_at.is_not(None)
            )
        )
    )


def log_as_raw(g: Mapping[str, Any]) -> Raw:
    """A patrol log's columns as the phone's record."""
    return {
        "id": g["id"],
        "patrol_id": g["patrol_id"],
        "grid_id": str(g["grid_id"]),
        "category_id": None if g["category_id"] is None else str(g["category_id"]),
        "text": g["text"],
        "lon": g["lon"],
        "lat": g["lat"],
        "crs": "wgs84",
        "photos": json.dumps(g["photos"] or []),
        "case_id": g.get("case_id"),
        "logged_at": millis(g["logged_at"]),
    }


def _cases(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    cases = list(session.scalars(select(Case).where(Case.id.in_(list(ids)))))
    photos: dict[str, list[str]] = {}
    # photos removed under retention (personal data) are left out: phones drop their copies
    links = (
        select(CaseAttachment.case_id, CaseAttachment.sha256)
        .join(Attachment, Attachment.sha256 == CaseAttachment.sha256)
        .where(CaseAttachment.case_id.in_([c.id for c in cases]), Attachment.removed_at.is_(None))
    )
    for case_id, sha in session.execute(links.order_by(CaseAttachment.created_at)):
        photos.setdefault(case_id, []).append(sha)
    for c in cases:
        yield {
            "id": c.id,
            "number": c.number,
            "grid_id": None if c.grid_id is None else str(c.grid_id),
            "community_id": None if c.community_id is None else str(c.community_id),
            "category_id": str(c.category_id),
            "priority": c.priority,
            "source": c.source,
            "status": c.status,
            "description": c.description,
            "address": c.address,
            "lon": c.lon,
            "lat": c.lat,
            "crs": "wgs84",
            "photos": json.dumps(photos.get(c.id, [])),
            "reported_at": millis(c.reported_at),
            "deadline_at": millis(c.deadline_at),
            "overdue": bool(c.overdue),
            "unit_id": None if c.unit_id is None else str(c.unit_id),
            "result": c.result,
            "collector_note": c.collector_note,
            "version": c.version,
        }


def _case_actions(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    actions = list(session.scalars(select(CaseAction).where(CaseAction.id.in_(list(ids)))))
    removed = _removed_photos(session, [sha for a in actions for sha in (a.photos or [])])
    for a in actions:
        yield {
            "id": a.id,
            "case_id": a.case_id,
            "action": a.action,
            "note": a.note,
            "photos": json.dumps([sha for sha in (a.photos or []) if sha not in removed]),
            "acted_at": millis(a.acted_at),
            "outcome": a.outcome,
        }


def _case_events(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for e in session.scalars(select(CaseEvent).where(CaseEvent.id.in_(_ids(ids)))):
        payload = e.payload or {}
        yield {
            "id": str(e.id),
            "case_id": e.case_id,
            "seq": e.seq,
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor_role": e.actor_role,
            "note": payload.get("reason") or payload.get("result") or payload.get("note"),
            "created_at": millis(e.created_at),
        }


def _open_or_recent_cases(keys: frozenset[int], horizon: datetime | None) -> Select[Any]:
    stmt = select(Case.id.label("id")).where(Case.grid_id.in_(sorted(keys)))
    if horizon is not None:
        stmt = stmt.where(
            or_(Case.status.not_in([s.value for s in FINAL]), Case.updated_at >= horizon)
        )
    return stmt


def field_tables() -> list[SyncTable]:
    from server.services.syncing import sync_apply

    return [
        SyncTable(
            name="patrols",
            model=Patrol,
            columns=[
                col("grid_id", S, indexed=True),
                col("status", S),
                col("started_at", N),
                col("ended_at", N, optional=True),
                col("track", S),
                col("crs", S),
                col("distance_m", N, optional=True),
                col("coverage", N, optional=True),
                col("plausible", B, optional=True),
            ],
            scope_kind="grid",
            scope_of=lambda p: p.grid_id,
            scope_column="grid_id",
            to_raws=_patrols,
            in_scope=lambda keys, h: select(Patrol.id.label("id")).where(
                Patrol.grid_id.in_(sorted(keys)),
                or_(Patrol.status == "active", Patrol.started_at >= h) if h else True,
            ),
            apply=sync_apply.apply_patrol,
            apply_many=sync_apply.apply_new_patrols,
            no_delete=sync_apply.no_delete("patrols"),
            for_device=_patrols_for,
        ),
        SyncTable(
            name="cases",
            model=Case,
            columns=[
                col("number", S, optional=True, indexed=True),
                col("grid_id", S, optional=True, indexed=True),
                col("community_id", S, optional=True),
                col("category_id", S),
                col("priority", S, optional=True),
                col("source", S, optional=True),
                col("status", S, optional=True, indexed=True),
                col("description", S),
                col("address", S, optional=True),
                col("lon", N),
                col("lat", N),
                col("crs", S),
                col("photos", S),
                col("reported_at", N),
                col("deadline_at", N, optional=True),
                col("overdue", B, optional=True),
                col("unit_id", S, optional=True),
                col("result", S, optional=True),
                col("collector_note", S, optional=True, writable=True),
                col("version", N, optional=True),
            ],
            scope_kind="grid",
            scope_of=lambda c: c.grid_id,
            scope_column="grid_id",
            to_raws=_cases,
            in_scope=_open_or_recent_cases,
            apply=sync_apply.apply_case,
            apply_many=sync_apply.apply_new_cases,
            no_delete=sync_apply.case_not_deleted(),
        ),
        SyncTable(
            name="patrol_logs",
            model=PatrolLog,
            columns=[
                col("patrol_id", S, optional=True, indexed=True),
                col("grid_id", S, optional=True, indexed=True),
                col("category_id", S, optional=True),
                col("text", S, writable=True),
                col("lon", N),
                col("lat", N),
                col("crs", S),
                col("photos", S, writable=True),
                col("case_id", S, optional=True, indexed=True),
                col("logged_at", N),
            ],
            scope_kind="grid",
            scope_of=lambda g: g.grid_id,
            scope_column="grid_id",
            to_raws=_logs,
            in_scope=lambda keys, h: select(PatrolLog.id.label("id")).where(
                PatrolLog.grid_id.in_(sorted(keys)),
                PatrolLog.logged_at >= h if h else True,
            ),
            apply=sync_apply.apply_log,
            apply_many=sync_apply.apply_new_logs,
            apply_edits=sync_apply.apply_log_edits,
            no_delete=sync_apply.no_delete("patrol_logs"),
        ),
        SyncTable(
            name="case_actions",
            model=CaseAction,
            columns=[
                col("case_id", S, indexed=True),
                col("action", S),
                col("note", S, optional=True),
                col("photos", S, optional=True),
                col("acted_at", N),
                col("outcome", S, optional=True),
            ],
            scope_kind="grid",
            scope_of=lambda a: a.grid_id,
            scope_column="grid_id",
            to_raws=_case_actions,
            in_scope=lambda keys, h: select(CaseAction.id.label("id")).where(
                CaseAction.grid_id.in_(sorted(keys)),
                CaseAction.acted_at >= h if h else True,
            ),
            apply=sync_apply.apply_case_action,
            apply_many=sync_apply.apply_new_case_actions,
            create_only=True,
        ),
        SyncTable(
            name="case_events",
            model=CaseEvent,
            columns=[
                col("case_id", S, indexed=True),
                col("seq", N),
                col("action", S),
                col("from_status", S, optional=True),
                col("to_status", S),
                col("actor_role", S),
                col("note", S, optional=True),
                col("created_at", N),
            ],
            scope_kind="grid",
            scope_of=_event_grid,
            to_raws=_case_events,
            in_scope=lambda keys, h: select(_id_text(CaseEvent.id)).where(
                CaseEvent.case_id.in_(_open_or_recent_cases(keys, h).scalar_subquery())
            ),
        ),
    ]


# --- deliberation and 阳光五务 (pull only) -----------------------------------------------------


def _topics(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for t in session.scalars(select(Topic).where(Topic.id.in_(_ids(ids)))):
        yield {
            "id": str(t.id),
            "community_id": str(t.community_id),
            "title": t.title,
            "description": t.description,
            "address": t.address,
            "lon": t.lon,
            "lat": t.lat,
            "crs": "wgs84",
            "status": t.status,
            "status_zh": dl.STATUS_ZH[dl.TopicStatus(t.status)],
            "source": t.source,
            "proposer": mask_name(t.proposer_name),  # collectors see names masked
            "closes_at": millis(t.closes_at),
            "outcome": t.outcome,
            "decision": t.decision,
            "decided_at": millis(t.decided_at),
            "public_path": f"/t/{t.public_token}",  # the link posted in the compound
            "created_at": millis(t.created_at),
        }


def _notices(session: Session, ids: Sequence[str]) -> Iterable[Raw]:
    for n in session.scalars(select(Notice).where(Notice.id.in_(_ids(ids)))):
        yield {
            "id": str(n.id),
            "community_id": str(n.community_id),
            "category": n.category,
            "title": n.title,
            "body": n.body,
            "published_from": millis(n.published_from),
            "published_until": millis(n.published_until),
            "withdrawn": n.withdrawn_at is not None,
        }


def civic_tables() -> list[SyncTable]:
    """Topics (open ones, and those that changed within the horizon) and notices (not ended
    before the horizon) of the collector's communities. The phone shows the open topics
    and the notices in their period (it checks the period itself: a notice expires or
    starts without any change to send)."""
    final = [s.value for s in dl.FINAL]
    return [
        SyncTable(
            name="topics",
            model=Topic,
            columns=[
                col("community_id", S, indexed=True),
                col("title", S),
                col("description", S),
                col("address", S, optional=True),
                col("lon", N, optional=True),
                col("lat", N, optional=True),
                col("crs", S),
                col("status", S, indexed=True),
                col("status_zh", S),
                col("source", S),
                col("proposer", S, optional=True),
                col("closes_at", N, optional=True),
                col("outcome", S, optional=True),
                col("decision", S, optional=True),
                col("decided_at", N, optional=True),
                col("public_path", S),
                col("created_at", N),
            ],
            scope_kind="community",
            scope_of=lambda t: t.community_id,
            to_raws=_topics,
            in_scope=lambda keys, h: select(_id_text(Topic.id)).where(
                Topic.community_id.in_(sorted(keys)),
                or_(Topic.status.not_in(final), Topic.updated_at >= h) if h else True,
            ),
        ),
        SyncTable(
            name="notices",
            model=Notice,
            columns=[
                col("community_id", S, indexed=True),
                col("category", S),
                col("title", S),
                col("body", S),
                col("published_from", N),
                col("published_until", N),
                col("withdrawn", B),
            ],
            scope_kind="community",
            scope_of=lambda n: n.community_id,
            to_raws=_notices,
            in_scope=lambda keys, h: select(_id_text(Notice.id)).where(
                Notice.community_id.in_(sorted(keys)),
                Notice.published_until >= h if h else True,
            ),
        ),
    ]


def _event_grid(event: CaseEvent) -> int | None:
    """The grid of the event's case (a new event's `case` is not loaded during a flush)."""
    session = object_session(event)
    if session is None:
        return None
    case = session.get(Case, event.case_id)  # usually in the identity map already
    return None if case is None else case.grid_id


def build_registry() -> Registry:
    registry = Registry(version=SCHEMA_VERSION, derive_scope=derive_scope, primary_scope="grid")
    for table in reference_tables() + field_tables() + civic_tables():
        registry.add(table)
    return registry


def derive_scope(session: Session, grid_ids: frozenset[int]) -> dict[str, frozenset[int]]:
    """Scope kinds that follow the collector's grids: their communities and subdistricts."""
    if not grid_ids:
        return {"community": frozenset(), "subdistrict": frozenset()}
    rows = session.execute(
        select(Grid.community_id, Grid.subdistrict_id).where(Grid.id.in_(sorted(grid_ids)))
    ).all()
    return {
        "community": frozenset(r[0] for r in rows),
        "subdistrict": frozenset(r[1] for r in rows),
    }


def device_scope(
    session: Session, user_id: int, grid_ids: frozenset[int], subdistrict_id: int | None
) -> Mapping[str, frozenset[int]]:
    """The device's scope keys by kind. The kinds derived from the grids (communities,
    subdistricts) are read when first asked for: a push of grid-scoped records never needs
    them, a pull does (one read, as before)."""
    return DeviceScope(session, user_id, grid_ids, subdistrict_id)


class DeviceScope(Mapping[str, frozenset[int]]):
    """`device_scope`'s mapping: grid, global and user keys at once, the derived kinds on
    first use (read in the session it was made in, within the same request)."""

    def __init__(
        self, session: Session, user_id: int, grid_ids: frozenset[int], subdistrict_id: int | None
    ) -> None:
        self._session = session
        self._subdistrict_id = subdistrict_id
        self._grid_ids = grid_ids
        self._keys: dict[str, frozenset[int]] = {
            "grid": grid_ids,
            "global": frozenset({GLOBAL}),
            "user": frozenset({user_id}),
        }
        self._derived = False

    def _derive(self) -> dict[str, frozenset[int]]:
        if not self._derived:
            self._derived = True
            self._keys.update(derive_scope(self._session, self._grid_ids))
            if self._subdistrict_id is not None:  # units of the subdistrict even without grids
                self._keys["subdistrict"] = self._keys["subdistrict"] | {self._subdistrict_id}
        return self._keys

    def __getitem__(self, kind: str) -> frozenset[int]:
        if kind in self._keys:
            return self._keys[kind]
        return self._derive()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._derive())

    def __len__(self) -> int:
        return len(self._derive())


__all__ = ["DeviceContext", "Operation", "build_registry", "device_scope"]
