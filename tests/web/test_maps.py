"""The maps' GeoJSON endpoints, settings and assets (Flask test client; the browser side is
tests/browser/test_maps.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from geoalchemy2.shape import to_shape
from helpers import new_case
from shapely.geometry import shape
from test_web_session import sign_in

from geo.crs import geometry_from_wgs84, wgs84_to_bd09

TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"


@pytest.fixture
def gcj_tiles(app: Flask) -> Iterator[None]:
    app.config.update(MAP_TILE_URL=TILES, MAP_TILE_CRS="gcj02")
    yield
    app.config.update(MAP_TILE_URL=None, MAP_TILE_CRS="wgs84")


def _grid_geometries(app: Flask) -> dict[str, Any]:
    from server.extensions import db
    from server.models import Grid

    with app.app_context():
        return {g.code: to_shape(g.geom) for g in db.session.query(Grid).all()}


def test_console_map_and_its_geojson_are_scoped(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    sign_in(client, "dispatcher")
    page = client.get("/console/map?colour=cases")
    assert page.status_code == 200
    assert 'data-map=\'{"communities": "/console/map/communities.geojson"' in page.text
    assert page.text.count("<tr><td><a href=") == 3  # the table: A1, A2, B1 only
    grids = client.get("/console/map/grids.geojson?colour=cases").get_json()
    assert grids["crs_name"] == "wgs84"
    by_code = {f["properties"]["code"]: f["properties"] for f in grids["features"]}
    assert set(by_code) == {world.grid_codes[k] for k in ("A1", "A2", "B1")}
    a1 = by_code[world.grid_codes["A1"]]
    assert (a1["open"], a1["fill"], a1["community"]) == (1, "#fee5d9", "甲社区")
    pins = client.get("/console/map/cases.geojson").get_json()["features"]
    assert [p["properties"]["href"] for p in pins] == [f"/console/cases/{case['id']}"]
    names = {
        f["properties"]["name"]
        for f in client.get("/console/map/communities.geojson").json["features"]
    }
    assert names and all(names)
    assert client.get("/console/map?colour=bogus").status_code == 422
    assert client.get("/console/map/grids.geojson?bbox=1,2,3").status_code == 422
    # another subdistrict's dispatcher sees none of these grids nor the case
    sign_in(client, "dispatcher2")
    other = client.get("/console/map/grids.geojson").get_json()["features"]
    assert not {f["properties"]["code"] for f in other} & set(by_code)
    assert client.get("/console/map/cases.geojson").get_json()["features"] == []
    sign_in(client, "collector")
    assert client.get("/console/map/grids.geojson").status_code == 403


def test_case_page_shows_its_place_with_nearby_grids(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    sign_in(client, "staff")  # unit staff see the grids too (not the console map)
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{case['id']}").text
    assert 'id="place-map"' in page and "highlight=" in page and "bbox=" in page
    start = page.index("/console/map/grids.geojson")
    url = page[start : page.index('"', start)].replace("\\u0026", "&")
    near = client.get(url).get_json()["features"]
    own = [f["properties"]["code"] for f in near if f["properties"]["own"]]
    assert own == [world.grid_codes["A1"]]


def test_geometry_is_converted_for_gcj02_tiles(
    client: FlaskClient, world: World, app: Flask, gcj_tiles: None
) -> None:
    stored = _grid_geometries(app)
    sign_in(client, "dispatcher")
    body = client.get("/console/map/grids.geojson?colour=none").get_json()
    assert body["crs_name"] == "gcj02"
    for f in body["features"]:
        wgs = stored[f["properties"]["code"]]
        drawn = shape(f["geometry"])
        expected = geometry_from_wgs84(wgs.simplify(0.00002, preserve_topology=True), "gcj02")
        assert drawn.equals_exact(expected, 1e-9)
        assert drawn.centroid.distance(wgs.centroid) > 0.001  # a few hundred metres moved
    public = client.get("/report/grids.geojson").get_json()
    assert public["crs_name"] == "gcj02"
    # the page tells the map to draw in GCJ-02 over exactly that tile server
    page = client.get("/console/map").text
    assert '"crs": "gcj02"' in page and TILES in page
    csp = client.get("/console/map").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: http://127.0.0.1:9;" in csp


def test_bd09_point_and_no_tiles(client: FlaskClient, world: World, app: Flask) -> None:
    sign_in(client, "dispatcher")
    csp = client.get("/console/map").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob:;" in csp  # no tiles: no other host
    assert '"tiles": null' in client.get("/console/map").text
    case_lon, case_lat = 119.4321, 32.3921
    app.config.update(MAP_TILE_URL=TILES, MAP_TILE_CRS="bd09")
    try:
        with app.test_request_context():
            from server.web import maps

            assert maps.point(case_lon, case_lat) == wgs84_to_bd09(case_lon, case_lat)
    finally:
        app.config.update(MAP_TILE_URL=None, MAP_TILE_CRS="wgs84")


def test_tianditu_key_allows_its_hosts_only(client: FlaskClient, world: World, app: Flask) -> None:
    app.config["MAP_TIANDITU_KEY"] = "k123"
    try:
        response = client.get("/report")
    finally:
        app.config["MAP_TIANDITU_KEY"] = None
    csp = response.headers["Content-Security-Policy"]
    hosts = " ".join(f"https://t{i}.tianditu.gov.cn" for i in range(8))
    assert f"img-src 'self' data: blob: {hosts};" in csp
    assert "tk=k123" in response.text and "LAYER=cva" in response.text


def test_board_map_of_communities(client: FlaskClient, world: World) -> None:
    body = client.get("/board/communities.geojson").get_json()
    assert body["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in body["features"]}
    assert {"甲社区", "乙村"} <= names
    assert all(set(f["properties"]) == {"name", "code", "score", "fill"} for f in body["features"])
    mine = client.get(f"/board/communities.geojson?subdistrict={world.other_subdistrict_id}")
    assert not {f["properties"]["name"] for f in mine.get_json()["features"]} & {"甲社区", "乙村"}


def test_map_libraries_are_served_from_node_modules(client: FlaskClient) -> None:
    js = client.get("/assets/vendor/leaflet.js")
    assert js.status_code == 200 and js.mimetype == "text/javascript"
    assert b"Leaflet" in js.data[:400]
    assert client.get("/assets/vendor/leaflet.markercluster.js").status_code == 200
    assert client.get("/assets/vendor/leaflet.css").mimetype == "text/css"
    assert client.get("/assets/vendor/images/layers.png").mimetype == "image/png"
    assert client.get("/assets/vendor/echarts.min.js").status_code == 200
    for name in ("leaflet/package.json", "../package.json", "leaflet-src.js"):
        assert client.get(f"/assets/vendor/{name}").status_code == 404
