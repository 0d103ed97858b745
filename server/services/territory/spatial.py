"""Backend-aware spatial SQL: the same question asked so that each backend uses its index.

SpatiaLite never uses its R*Tree unless the query names it, and its predicates return -1
for bad input (true in a bare WHERE), hence `= 1`; PostGIS wants `&&` plus the predicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, column, func, select, table
from sqlalchemy.orm import InstrumentedAttribute

from server.extensions import db
from server.models.base import SRID

_spatial_index = table(
    "SpatialIndex",
    column("f_table_name"),
    column("f_geometry_column"),
    column("search_frame"),
    column("rowid"),
)


def backend() -> str:
    """'sqlite' or 'postgresql'."""
    return db.engine.dialect.name


def bbox_wkt(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> str:
    return (
        f"POLYGON(({min_lon!r} {min_lat!r},{max_lon!r} {min_lat!r},{max_lon!r} {max_lat!r},"
        f"{min_lon!r} {max_lat!r},{min_lon!r} {min_lat!r}))"
    )


def point_wkt(lon: float, lat: float) -> str:
    return f"POINT({lon!r} {lat!r})"


def _spatialite_candidates(
    table_name: str, geom_col: InstrumentedAttribute[Any], frame: Any
) -> Any:
    return select(_spatial_index.c.rowid).where(
        _spatial_index.c.f_table_name == table_name,
        _spatial_index.c.f_geometry_column == geom_col.key,
        _spatial_index.c.search_frame == frame,
    )


def intersects_bbox(
    table_name: str,
    id_col: InstrumentedAttribute[Any],
    geom_col: InstrumentedAttribute[Any],
    bbox: tuple[float, float, float, float],
) -> ColumnElement[bool]:
    """Rows whose geometry intersects the lon/lat box, through the spatial index."""
    envelope = func.ST_GeomFromText(bbox_wkt(*bbox), SRID)
    if backend() == "sqlite":
        frame = func.BuildMbr(bbox[0], bbox[1], bbox[2], bbox[3], SRID)
        candidates = _spatialite_candidates(table_name, geom_col, frame)
        return id_col.in_(candidates) & (func.ST_Intersects(geom_col, envelope) == 1)
    return geom_col.op("&&")(envelope) & func.ST_Intersects(geom_col, envelope)


def covers_point(
    table_name: str,
    id_col: InstrumentedAttribute[Any],
    geom_col: InstrumentedAttribute[Any],
    lon: float,
    lat: float,
) -> ColumnElement[bool]:
    """Rows whose polygon holds the point, border included, through the spatial index."""
    point = func.ST_GeomFromText(point_wkt(lon, lat), SRID)
    if backend() == "sqlite":
        frame = func.MakePoint(lon, lat, SRID)
        candidates = _spatialite_candidates(table_name, geom_col, frame)
        return id_col.in_(candidates) & (func.ST_Intersects(geom_col, point) == 1)
    return geom_col.op("&&")(point) & func.ST_Intersects(geom_col, point)
