"""The territory: communities and grids as GeoJSON, and locating a point."""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import to_shape
from marshmallow import Schema, fields, validate

from geo.geojson import to_geojson
from server.api import fastjson
from server.api.blueprint import ApiBlueprint, authenticated_principal, current_principal
from server.api.errors import ErrorSchema
from server.api.schemas import (
    CRS_FIELD,
    BBox,
    GeoJSONGeometry,
    InputSchema,
    PageArgs,
    Ref,
    id_field,
    lat_field,
    lon_field,
)
from server.services.territory import locate as locate_service
from server.services.territory import org

blp = ApiBlueprint(
    "territory", __name__, url_prefix="/api/v1", description="社区、网格与定位 Territory"
)


class CommunityProperties(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "community 社区 | village 村"})
    subdistrict_id = fields.Integer(required=True)
    population = fields.Integer(required=True)
    households = fields.Integer(required=True)
    area_m2 = fields.Float(required=True)


class CommunityFeature(Schema):
    type = fields.Constant("Feature", required=True)
    id = fields.Integer(required=True)
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)
    properties = fields.Nested(CommunityProperties, required=True)


class CommunityCollection(Schema):
    type = fields.Constant("FeatureCollection", required=True)
    features = fields.List(fields.Nested(CommunityFeature), required=True)


class CommunityArgs(InputSchema):
    geometry = fields.Boolean(
        load_default=True, metadata={"description": "include polygons (false: properties only)"}
    )


class CollectorRef(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "masked unless you may see it"})
    phone = fields.String(allow_none=True)


class GridProperties(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    community_id = fields.Integer(required=True)
    community_code = fields.String(required=True)
    subdistrict_id = fields.Integer(required=True)
    population = fields.Integer(required=True)
    households = fields.Integer(required=True)
    area_m2 = fields.Float(required=True)
    collectors = fields.List(fields.Nested(CollectorRef), required=True)


class GridFeature(Schema):
    type = fields.Constant("Feature", required=True)
    id = fields.Integer(required=True)
    geometry = fields.Nested(GeoJSONGeometry, required=True)
    properties = fields.Nested(GridProperties, required=True)


class GridCollection(Schema):
    type = fields.Constant("FeatureCollection", required=True)
    features = fields.List(fields.Nested(GridFeature), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class GridArgs(PageArgs):
    community = id_field(metadata={"description": "community id"})
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84)"})
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 2000))


class LocateArgs(InputSchema):
    lon = lon_field()
    lat = lat_field()
    crs = CRS_FIELD


class LocateResult(Schema):
    lon = fields.Float(required=True, metadata={"description": "WGS84 longitude"})
    lat = fields.Float(required=True, metadata={"description": "WGS84 latitude"})
    grid = fields.Nested(Ref, required=True)
    community = fields.Nested(Ref, required=True)
    subdistrict = fields.Nested(Ref, required=True)


@blp.route("/communities", methods=["GET"])
@blp.auth(optional=True)
@blp.arguments(CommunityArgs, location="query")
@blp.response(200, CommunityCollection)
def communities(args: dict[str, Any]) -> Any:
    """Communities (社区/村) of your subdistrict; public, no personal data."""
    rows = org.list_communities(current_principal())
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": c.id,
                "geometry": to_geojson(to_shape(c.geom)) if args["geometry"] else None,
                "properties": c,
            }
            for c in rows
        ],
    }


@blp.route("/grids", methods=["GET"])
@blp.auth()
@blp.arguments(GridArgs, location="query")
@blp.response(200, GridCollection)
def grids(args: dict[str, Any]) -> Any:
    """Grids (网格) as GeoJSON: a collector's own grids, other roles' whole subdistrict."""
    principal = authenticated_principal()
    page = org.list_grids(
        principal,
        community_id=args.get("community"),
        bbox=args.get("bbox"),
        cursor=args.get("cursor"),
        limit=args["limit"],
    )
    features = []
    for view in page.items:
        g = view.grid
        props = {
            "id": g.id,
            "code": g.code,
            "name": g.name,
            "community_id": g.community_id,
            "community_code": view.community_code,
            "subdistrict_id": g.subdistrict_id,
            "population": g.population,
            "households": g.households,
            "area_m2": g.area_m2,
            "collectors": view.collectors,
        }
        features.append(
            {
                "type": "Feature",
                "id": g.id,
                "geometry": to_geojson(view.geometry),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "next_cursor": page.next_cursor}


@blp.route("/locate", methods=["GET"])
@blp.auth(optional=True)
@blp.arguments(LocateArgs, location="query")
@blp.response(200, LocateResult)
@blp.alt_response(404, schema=ErrorSchema, description="outside_subdistrict")
def locate(args: dict[str, Any]) -> Any:
    """Which grid and community hold a point (WGS84, GCJ-02 or BD-09 in; WGS84 out)."""
    where = locate_service.locate(args["lon"], args["lat"], args["crs"], current_principal())
    # what LocateResult dumps, written by orjson (tests/api/test_territory_api.py compares)
    return fastjson.json_response(
        {
            "lon": where.lon,
            "lat": where.lat,
            "grid": {"id": where.grid.id, "code": where.grid.code, "name": where.grid.name},
            "community": {
                "id": where.community.id,
                "code": where.community.code,
                "name": where.community.name,
            },
            "subdistrict": {
                "id": where.subdistrict.id,
                "code": where.subdistrict.code,
                "name": where.subdistrict.name,
            },
        }
    )
