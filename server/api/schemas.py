"""Schemas shared by several resources."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from geo.crs import SUPPORTED
from server.domain.codes import CLIENT_ID as CLIENT_ID_PATTERN

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="Not a SHA-256 (64 lowercase hex).")
CLIENT_ID = validate.Regexp(CLIENT_ID_PATTERN.pattern)


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


class InputSchema(Schema):
    """Base of every request schema: refuses NUL characters, which no database stores."""

    @pre_load
    def _refuse_nul(self, data: Any, **_: Any) -> Any:
        # webargs hands query strings over as a MultiDict proxy: look at it as a plain dict.
        plain = {k: data.get(k) for k in data} if isinstance(data, Mapping) else data
        found = _nul_path(plain, "")
        if found:
            field = found.split(".")[0]
            raise ValidationError("NUL characters are not allowed.", field_name=field)
        return data


def id_field(**kwargs: Any) -> fields.Integer:
    """A database id: a positive 32-bit integer."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


class Ref(Schema):
    """A short reference to a named thing."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class DeadlineNote(Schema):
    """A note on a case's deadline: counted with weekends only for years without a holiday
    calendar at the time it was computed."""

    code = fields.String(required=True, metadata={"description": "deadline_weekends_only"})
    years = fields.List(fields.Integer(), required=True)
    message = fields.String(required=True)
    message_zh = fields.String(required=True)


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


class PageArgs(InputSchema):
    cursor = fields.String(metadata={"description": "next_cursor from the previous page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class GeoJSONGeometry(Schema):
    type = fields.String(required=True)
    coordinates = fields.Raw(required=True)


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def moment_field(**kwargs: Any) -> fields.AwareDateTime:
    """An instant with its time zone, between 2000 and 2100 (anything else is a typo)."""
    return fields.AwareDateTime(
        validate=validate.Range(EARLIEST, LATEST, error="Must be between 2000 and 2100."),
        **kwargs,
    )


def day_field(**kwargs: Any) -> fields.Date:
    """A calendar day between 2000 and 2100."""
    return fields.Date(
        validate=validate.Range(
            EARLIEST.date(), LATEST.date(), error="Must be between 2000 and 2100."
        ),
        **kwargs,
    )
