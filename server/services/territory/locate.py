"""Which grid, community and subdistrict hold a point: answered from memory.

Each process keeps one `GridIndex`: the STRtree of the active grids (`geo.locator`) with the
code, name, community and subdistrict of every grid, so locating a point runs no SQL. It is
rebuilt when the territory changes:

- in this process: any statement that writes `grids`, `communities` or `subdistricts`
  through SQLAlchemy (an import, the admin's console, a test's wipe) bumps the index's
  generation at once, and again when its transaction ends;
- in another process: a cheap fingerprint query (the grids' count, highest id and latest
  `updated_at`, the communities' and subdistricts' latest `updated_at`), run at most once
  per app context (a request, task or CLI command) and at most once per
  `MINQING_TERRITORY_RECHECK_SECONDS` (1 s) per process, compares them with those the index
  was built from: another process's write is seen within that time (0: on the next request).

Bulk callers (sync pushes, imports, demo seeding, Open311) use `locate_many`: one vectorised
tree query for all their points.
"""

from __future__ import annotations

import functools
import gc
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from flask import current_app, g
from geoalchemy2.shape import to_shape
from sqlalchemy import Connection, Engine, event, func, select

from geo.crs import to_wgs84
from geo.errors import GeoError
from geo.locator import GridLocator
from server.errors import DomainError
from server.extensions import db
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
    # per grid, in the locator's key order, with a sentinel (None) last: for locate_many
    by_position: tuple[npt.NDArray[Any], ...]


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
    locator = GridLocator((r.id, to_shape(r.geom)) for r in rows)
    grids = {r.id: GridRef(r.id, r.code, r.name, r.community_id, r.subdistrict_id) for r in rows}
    ordered = [grids[key] for key in locator]  # iterates its keys, lowest first
    columns = []
    for values in (
        [gr.id for gr in ordered],
        [gr.subdistrict_id for gr in ordered],
        [gr.community_id for gr in ordered],
        [gr.code for gr in ordered],
    ):
        column = np.empty(len(values) + 1, dtype=object)
        column[: len(values)] = values
        column[len(values)] = None
        columns.append(column)
    return GridIndex(
        locator=locator,
        grids=grids,
        by_position=tuple(columns),
        communities=communities,
        subdistricts=subdistricts,
        fingerprint=fingerprint,
        engine_id=engine_id,
    )


RECHECK_SECONDS = 1.0  # default of MINQING_TERRITORY_RECHECK_SECONDS


class _IndexCache:
    """One index per process; `generation` moves when this process writes the territory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.index: GridIndex | None = None
        self.generation = 0
        self.checked_generation = -1
        self.checked_at = 0.0
        self.builds = 0  # how many times the index was (re)built, for tests and benches

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1

    def get(self) -> GridIndex:
        engine_id = id(db.engine)
        index = self.index
        if (
            index is not None
            and index.engine_id == engine_id
            and self.checked_generation == self.generation
            and (
                time.monotonic() - self.checked_at < _recheck_seconds()
                or g.get("_minqing_grid_index_checked") == self.generation
            )
        ):
            return index  # nothing written here since the last check, which is recent
        generation = self.generation
        fingerprint = _fingerprint()
        with self._lock:
            index = self.index
            if (
                index is None
                or index.fingerprint != fingerprint
                or index.engine_id != engine_id
                # written in this process since: rebuild even if the fingerprint did not
                # move (a plain UPDATE may leave updated_at as it was)
                or self.checked_generation != generation
            ):
                index = _build(fingerprint, engine_id)
                self.index = index
                self.builds += 1
            self.checked_generation = generation
            self.checked_at = time.monotonic()
        g._minqing_grid_index_checked = generation
        return index


_cache = _IndexCache()

# Any write to the territory through SQLAlchemy in this process (ORM flush, Core, text)
# invalidates the index at once, and again when its transaction ends (so that a rebuild
# that read the data just before the commit is not kept).
_TERRITORY_WRITE = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?:grids|communities|subdistricts)\b",
    re.IGNORECASE,
)
_WROTE = "minqing_territory_written"


@event.listens_for(Engine, "before_cursor_execute")
def _territory_write(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if _TERRITORY_WRITE.match(statement):
        conn.info[_WROTE] = True
        _cache.invalidate()


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _territory_settled(conn: Connection) -> None:
    if conn.info.pop(_WROTE, False):
        _cache.invalidate()


def _recheck_seconds() -> float:
    return float(current_app.config.get("TERRITORY_RECHECK_SECONDS", RECHECK_SECONDS))


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


class Located(NamedTuple):
    """Where one of `locate_many`'s points lies (a tuple: cheap to make by the thousand)."""

    lon: float  # WGS84
    lat: float
    grid_id: int
    subdistrict_id: int
    community_id: int
    grid_code: str


# a Located from one tuple of its fields without a Python call per point (NamedTuple's
# generated __new__ is one)
_new_located = functools.partial(tuple.__new__, Located)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk answer's thousands of tuples are made: their
    allocations would otherwise trigger collections, some of the whole heap (a server holds
    ~250k objects), which took about half of `locate_many`'s time (bench/locate.py). The
    tuples hold no cycles; a collector disabled by someone else stays disabled."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def locate_many(points: Sequence[tuple[float, float, str]]) -> list[Located | DomainError]:
    """`locate` for many points `(lon, lat, crs)` at once: each converted to WGS84, then one
    vectorised query of the in-memory grid index. The i-th answer is where the i-th point
    lies, or why it cannot be placed."""
    n = len(points)
    outside = outside_subdistrict()
    answers: list[Located | DomainError] = [outside] * n
    if n == 0:
        return answers
    if all(p[2] == "wgs84" for p in points):  # the common case: no conversion, no loop
        at = range(n)
        lons = np.fromiter((p[0] for p in points), dtype=np.float64, count=n)
        lats = np.fromiter((p[1] for p in points), dtype=np.float64, count=n)
    else:
        kept: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        for i, (lon, lat, crs) in enumerate(points):
            try:
                wlon, wlat = to_wgs84_checked(lon, lat, crs)
            except DomainError as exc:
                answers[i] = exc
                continue
            kept.append(i)
            xs.append(wlon)
            ys.append(wlat)
        if not kept:
            return answers
        at = kept  # type: ignore[assignment]
        lons = np.asarray(xs, dtype=np.float64)
        lats = np.asarray(ys, dtype=np.float64)
    index = grid_index()
    with _gc_paused():
        positions = index.locator.locate_many_positions(lons, lats)
        columns = (c[positions].tolist() for c in index.by_position)
        placed: list[Located | DomainError] = list(
            map(_new_located, zip(lons.tolist(), lats.tolist(), *columns, strict=True))
        )
    for i in np.flatnonzero(positions == len(index.locator)).tolist():  # on no grid
        placed[i] = outside
    if len(placed) == n:
        return placed
    for i, answer in zip(at, placed, strict=True):
        answers[i] = answer
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
