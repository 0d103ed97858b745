"""Which grid and community hold a point: an in-memory STRtree, rebuilt when grids change."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select

from geo.crs import to_wgs84
from geo.errors import GeoError
from geo.locator import GridLocator
from server.errors import DomainError
from server.extensions import db
from server.models import Community, Grid, Subdistrict
from server.services.people.principal import Principal


@dataclass(frozen=True)
class Location:
    lon: float  # WGS84
    lat: float
    grid: Grid
    community: Community
    subdistrict: Subdistrict


class _LocatorCache:
    """One locator per process, keyed by a cheap fingerprint of the grids table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._locator: GridLocator[int] | None = None
        self.subdistricts: dict[int, int] = {}  # grid id -> subdistrict id

    def get(self) -> GridLocator[int]:
        counts = db.session.execute(
            select(func.count(Grid.id), func.max(Grid.id), func.max(Grid.updated_at)).where(
                Grid.active.is_(True)
            )
        ).one()
        key = (*counts, db.engine.url.render_as_string(hide_password=True))
        with self._lock:
            if self._locator is None or key != self._key:
                rows = db.session.execute(
                    select(Grid.id, Grid.geom, Grid.subdistrict_id).where(Grid.active.is_(True))
                ).all()
                self._locator = GridLocator((gid, to_shape(geom)) for gid, geom, _sd in rows)
                self.subdistricts = {gid: sd for gid, _geom, sd in rows}
                self._key = key
            return self._locator


_cache = _LocatorCache()


def grid_locator() -> GridLocator[int]:
    return _cache.get()


def to_wgs84_checked(lon: float, lat: float, crs: str) -> tuple[float, float]:
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


def locate_many(points: Sequence[tuple[float, float, str]]) -> list[Located | DomainError]:
    """`locate` for many points `(lon, lat, crs)` at once: each converted to WGS84, then one
    vectorised query of the in-memory grid index (reloaded when grids change). The i-th
    answer is where the i-th point lies, or why it cannot be placed."""
    answers: list[Located | DomainError] = [outside_subdistrict()] * len(points)
    converted: list[tuple[int, float, float]] = []
    for i, (lon, lat, crs) in enumerate(points):
        try:
            wlon, wlat = to_wgs84_checked(lon, lat, crs)
        except DomainError as exc:
            answers[i] = exc
            continue
        converted.append((i, wlon, wlat))
    if not converted:
        return answers
    locator = grid_locator()
    subdistricts = _cache.subdistricts
    grid_ids = locator.locate_many([c[1] for c in converted], [c[2] for c in converted])
    for (i, wlon, wlat), grid_id in zip(converted, grid_ids, strict=True):
        if grid_id is not None and grid_id in subdistricts:
            answers[i] = Located(wlon, wlat, grid_id, subdistricts[grid_id])
    return answers


def locate(lon: float, lat: float, crs: str, principal: Principal | None) -> Location:
    """The grid holding a point given in `crs`; 404 `outside_subdistrict` when none does."""
    wlon, wlat = to_wgs84_checked(lon, lat, crs)
    grid_id = grid_locator().locate(wlon, wlat)
    grid = db.session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None or (
        principal is not None and not principal.may_see_subdistrict(grid.subdistrict_id)
    ):
        raise outside_subdistrict()
    community = grid.community
    return Location(
        lon=wlon, lat=wlat, grid=grid, community=community, subdistrict=community.subdistrict
    )
