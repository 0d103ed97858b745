"""Which grid, community and subdistrict hold a point: answered from memory.

Each process keeps one `GridIndex`: the STRtree of the active grids (`geo.locator`) with the
code, name, community and subdistrict of every grid, so locating a point runs no SQL. It is
rebuilt when the territory changes:

- in this process: a flush that writes a grid, community or subdistrict (an import, the
  admin's console) bumps the index's generation at once (and again at the commit or
  rollback);
- in another process: at most one cheap fingerprint query per app context (one per request,
  task or CLI command) compares the grids' count, highest id and latest `updated_at` (and the
  communities' and subdistricts' latest `updated_at`) with those the index was built from.

Bulk callers (sync pushes, imports, demo seeding, Open311) use `locate_many`: one vectorised
tree query for all their points.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import g
from geoalchemy2.shape import to_shape
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from geo.crs import to_wgs84
from geo.errors import GeoError
from geo.locator import GridLocator
from server.errors import DomainError
from server.extensions import AppSession, db
from server.models import Community, Grid, Subdistrict
from server.services.people.principal import Principal


@dataclass(frozen=True)
class GridRef:
    id: int
    code: str
    name: str
    community_id: int
    subdistrict_id: int


@dataclass(frozen=True)
class CommunityRef:
    id: int
    code: str
    name: str
    subdistrict_id: int


@dataclass(frozen=True)
class SubdistrictRef:
    id: int
    code: str
    name: str
    case_prefix: str


@dataclass(frozen=True)
class Location:
    lon: float  # WGS84
    lat: float
    grid: GridRef
    community: CommunityRef
    subdistrict: SubdistrictRef


@dataclass(frozen=True)
class GridIndex:
    """The territory as locating needs it, immutable once built (swapped whole)."""

    locator: GridLocator[int]
    grids: dict[int, GridRef]
    communities: dict[int, CommunityRef]
    subdistricts: dict[int, SubdistrictRef]
    fingerprint: tuple[Any, ...]
    engine_id: int


def _fingerprint() -> tuple[Any, ...]:
    """One cheap query that changes whenever the territory does."""
    return tuple(
        db.session.execute(
            select(
                select(func.count(Grid.id)).where(Grid.active.is_(True)).scalar_subquery(),
                select(func.max(Grid.id)).scalar_subquery(),
                select(func.max(Grid.updated_at)).scalar_subquery(),
                select(func.max(Community.updated_at)).scalar_subquery(),
                select(func.max(Subdistrict.updated_at)).scalar_subquery(),
            )
        ).one()
    )


def _build(fingerprint: tuple[Any, ...], engine_id: int) -> GridIndex:
    rows = db.session.execute(
        select(
            Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.subdistrict_id, Grid.geom
        ).where(Grid.active.is_(True))
    ).all()
    communities = {
        cid: CommunityRef(cid, code, name, sd)
        for cid, code, name, sd in db.session.execute(
            select(Community.id, Community.code, Community.name, Community.subdistrict_id)
        )
    }
    subdistricts = {
        sid: SubdistrictRef(sid, code, name, prefix)
        for sid, code, name, prefix in db.session.execute(
            select(Subdistrict.id, Subdistrict.code, Subdistrict.name, Subdistrict.case_prefix)
        )
    }
    return GridIndex(
        locator=GridLocator((r.id, to_shape(r.geom)) for r in rows),
        grids={r.id: GridRef(r.id, r.code, r.name, r.community_id, r.subdistrict_id) for r in rows},
        communities=communities,
        subdistricts=subdistricts,
        fingerprint=fingerprint,
        engine_id=engine_id,
    )


class _IndexCache:
    """One index per process; `generation` moves when this process writes the territory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.index: GridIndex | None = None
        self.generation = 0
        self.builds = 0  # how many times the index was (re)built, for tests and benches

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1

    def get(self) -> GridIndex:
        engine_id = id(db.engine)
        stamp = (self.generation, engine_id)
        index = self.index
        if index is not None and g.get("_minqing_grid_index_checked") == stamp:
            return index  # checked already in this app context, nothing written since
        fingerprint = _fingerprint()
        with self._lock:
            index = self.index
            if index is None or index.fingerprint != fingerprint or index.engine_id != engine_id:
                index = _build(fingerprint, engine_id)
                self.index = index
                self.builds += 1
            g._minqing_grid_index_checked = (self.generation, engine_id)
        return index


_cache = _IndexCache()

_TERRITORY = (Grid, Community, Subdistrict)
_TOUCHED = "minqing_territory_touched"


@event.listens_for(AppSession, "after_flush")
def _territory_flushed(session: Session, _context: Any) -> None:
    if any(isinstance(obj, _TERRITORY) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_TOUCHED] = True
        _cache.invalidate()


@event.listens_for(AppSession, "after_commit")
@event.listens_for(AppSession, "after_soft_rollback")
def _territory_settled(session: Session, *_args: Any) -> None:
    if session.info.pop(_TOUCHED, False):
        _cache.invalidate()


def grid_index() -> GridIndex:
    """This process's index of the territory, fresh for this app context."""
    return _cache.get()


def grid_locator() -> GridLocator[int]:
    return _cache.get().locator


def invalidate() -> None:
    """Rebuild the index at the next locate (after territory writes made outside the ORM)."""
    _cache.invalidate()


def to_wgs84_checked(lon: float, lat: float, crs: str) -> tuple[float, float]:
    if crs == "wgs84":
        return float(lon), float(lat)
    try:
        return to_wgs84(lon, lat, crs)  # type: ignore[arg-type]
    except GeoError as exc:
        raise DomainError(exc.code, exc.message, exc.message_zh, field="crs", status=422) from exc


def outside_subdistrict() -> DomainError:
    return DomainError(
        "outside_subdistrict",
        "The point is outside every grid of the subdistrict",
        "该位置不在街道的任何网格内",
        status=404,
    )


@dataclass(frozen=True)
class Located:
    lon: float  # WGS84
    lat: float
    grid_id: int
    subdistrict_id: int
    community_id: int = 0
    grid_code: str = ""


def locate_many(points: Sequence[tuple[float, float, str]]) -> list[Located | DomainError]:
    """`locate` for many points `(lon, lat, crs)` at once: each converted to WGS84, then one
    vectorised query of the in-memory grid index. The i-th answer is where the i-th point
    lies, or why it cannot be placed."""
    answers: list[Located | DomainError] = [outside_subdistrict()] * len(points)
    lons: list[float] = []
    lats: list[float] = []
    at: list[int] = []
    for i, (lon, lat, crs) in enumerate(points):
        try:
            wlon, wlat = to_wgs84_checked(lon, lat, crs)
        except DomainError as exc:
            answers[i] = exc
            continue
        at.append(i)
        lons.append(wlon)
        lats.append(wlat)
    if not at:
        return answers
    index = grid_index()
    grids = index.grids
    for i, wlon, wlat, grid_id in zip(
        at, lons, lats, index.locator.locate_many(lons, lats), strict=True
    ):
        grid = grids.get(grid_id) if grid_id is not None else None
        if grid is not None:
            answers[i] = Located(
                wlon, wlat, grid.id, grid.subdistrict_id, grid.community_id, grid.code
            )
    return answers


def locate(lon: float, lat: float, crs: str, principal: Principal | None) -> Location:
    """The grid holding a point given in `crs`; 404 `outside_subdistrict` when none does."""
    wlon, wlat = to_wgs84_checked(lon, lat, crs)
    index = grid_index()
    grid_id = index.locator.locate(wlon, wlat)
    grid = index.grids.get(grid_id) if grid_id is not None else None
    if grid is None or (
        principal is not None and not principal.may_see_subdistrict(grid.subdistrict_id)
    ):
        raise outside_subdistrict()
    community = index.communities[grid.community_id]
    return Location(
        lon=wlon,
        lat=wlat,
        grid=grid,
        community=community,
        subdistrict=index.subdistricts[community.subdistrict_id],
    )
