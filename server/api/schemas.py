"""Schemas shared by several resources."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from geo.crs import SUPPORTED


class Ref(Schema):
    """A short reference to a named thing."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class BBox(fields.Field):
    """`minLon,minLat,maxLon,maxLat` in WGS84."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            parts = [float(p) for p in str(value).split(",")]
        except ValueError as exc:
            raise ValidationError("bbox must be four numbers: minLon,minLat,maxLon,maxLat") from exc
        if len(parts) != 4 or any(p != p or p in (float("inf"), float("-inf")) for p in parts):
            raise ValidationError("bbox must be four numbers: minLon,minLat,maxLon,maxLat")
        x0, y0, x1, y1 = parts
        if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
            raise ValidationError("bbox corners out of range or in the wrong order")
        return (x0, y0, x1, y1)


CRS_FIELD = fields.String(
    load_default="wgs84",
    validate=validate.OneOf(SUPPORTED),
    metadata={"description": "coordinate system of lon/lat: wgs84, gcj02 (Amap/Tencent), bd09"},
)


def lon_field(**kwargs: Any) -> fields.Float:
    return fields.Float(
        required=True, allow_nan=False, validate=validate.Range(-180, 180), **kwargs
    )


def lat_field(**kwargs: Any) -> fields.Float:
    return fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90), **kwargs)


class PageArgs(Schema):
    cursor = fields.String(metadata={"description": "next_cursor from the previous page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class GeoJSONGeometry(Schema):
    type = fields.String(required=True)
    coordinates = fields.Raw(required=True)
