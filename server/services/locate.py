"""Which grid and community hold a point: an in-memory STRtree, rebuilt when grids change."""

from __future__ import annotations

import threading
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
from server.services.principal import Principal


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
                    select(Grid.id, Grid.geom).where(Grid.active.is_(True))
                ).all()
                self._locator = GridLocator((gid, to_shape(geom)) for gid, geom in rows)
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
