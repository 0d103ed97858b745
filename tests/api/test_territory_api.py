"""Communities, grids (scope, masking, pagination, bbox) and locate."""

from __future__ import annotations

import pytest
from conftest import World, bearer
from factories import LAT0, LON0, STEP
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error


def center(col: int) -> tuple[float, float]:
    """WGS84 centre of the test grid in column `col` (A1=0, A2=1, B1=2)."""
    return LON0 + (col + 0.5) * STEP, LAT0 + 0.5 * STEP


def test_communities_are_public_and_scoped_when_logged_in(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    public = client.get("/api/v1/communities").get_json()
    assert {f["properties"]["code"] for f in public["features"]} == {
        "321002901001",
        "321002901002",
        "321002902001",
    }
    mine = client.get("/api/v1/communities", headers=bearer(tokens["dispatcher"])).get_json()
    assert {f["properties"]["code"] for f in mine["features"]} == {"321002901001", "321002901002"}
    village = next(f for f in mine["features"] if f["properties"]["code"] == "321002901002")
    assert village["properties"]["kind"] == "village"
    assert village["geometry"]["type"] == "MultiPolygon"
    bare = client.get("/api/v1/communities?geometry=false").get_json()
    assert all(f["geometry"] is None for f in bare["features"])


def codes_of(body: dict) -> set[str]:  # type: ignore[type-arg]
    return {f["properties"]["code"] for f in body["features"]}


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("collector", {"A1"}),
        ("collector2", {"B1"}),
        ("dispatcher", {"A1", "A2", "B1"}),
        ("staff", {"A1", "A2", "B1"}),
        ("admin", {"A1", "A2", "B1"}),
        ("dispatcher2", {"C1"}),
        ("cityadmin", {"A1", "A2", "B1", "C1"}),
    ],
)
def test_grids_are_scoped_by_role(
    client: FlaskClient, world: World, tokens: dict[str, str], user: str, expected: set[str]
) -> None:
    response = client.get("/api/v1/grids", headers=bearer(tokens[user]))
    assert response.status_code == 200
    assert codes_of(response.get_json()) == {world.grid_codes[k] for k in expected}


def test_grids_need_a_token(client: FlaskClient, world: World) -> None:
    assert_error(client.get("/api/v1/grids"), 401, "unauthorized")


def test_grid_feature_shape_and_collector_masking(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    def grid_a1(user: str) -> dict:  # type: ignore[type-arg]
        body = client.get("/api/v1/grids", headers=bearer(tokens[user])).get_json()
        return next(
            f for f in body["features"] if f["properties"]["code"] == world.grid_codes["A1"]
        )

    seen_by_dispatcher = grid_a1("dispatcher")
    assert seen_by_dispatcher["type"] == "Feature"
    assert seen_by_dispatcher["geometry"]["type"] == "Polygon"
    props = seen_by_dispatcher["properties"]
    assert props["population"] == 1200 and props["households"] == 400
    assert 240_000 < props["area_m2"] < 280_000  # 0.005° x 0.005° at 32.39° N
    assert props["collectors"] == [
        {"id": world.user_ids["collector"], "name": "测试collector", "phone": "13800000005"}
    ]
    masked = grid_a1("staff")["properties"]["collectors"][0]
    assert masked["phone"] == "138****0005"
    assert masked["name"] == "测" + "*" * (len("测试collector") - 1)
    own = grid_a1("collector")["properties"]["collectors"][0]
    assert own["phone"] == "13800000005"  # one's own data is not masked


def test_grids_paginate_with_a_cursor(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["cityadmin"])
    seen: list[str] = []
    url = "/api/v1/grids?limit=1"
    for _ in range(10):
        body = client.get(url, headers=headers).get_json()
        seen += [f["properties"]["code"] for f in body["features"]]
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/grids?limit=1&cursor={body['next_cursor']}"
    assert sorted(seen) == sorted(world.grid_codes.values())
    assert len(seen) == len(set(seen)) == 4


def test_grids_filter_by_community_and_bbox(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["dispatcher"])
    body = client.get(
        f"/api/v1/grids?community={world.community_ids['A']}", headers=headers
    ).get_json()
    assert codes_of(body) == {world.grid_codes["A1"], world.grid_codes["A2"]}
    lon, lat = center(2)
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    body = client.get(f"/api/v1/grids?bbox={bbox}", headers=headers).get_json()
    assert codes_of(body) == {world.grid_codes["B1"]}


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("bbox=1,2,3", 422, "validation_error", "bbox"),
        ("bbox=5,5,1,1", 422, "validation_error", "bbox"),
        ("limit=0", 422, "validation_error", "limit"),
        ("limit=abc", 422, "validation_error", "limit"),
        ("cursor=!!!", 400, "invalid_cursor", "cursor"),
        ("community=x", 422, "validation_error", "community"),
    ],
)
def test_grid_query_errors(
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    query: str,
    status: int,
    code: str,
    field: str,
) -> None:
    response = client.get(f"/api/v1/grids?{query}", headers=bearer(tokens["dispatcher"]))
    assert_error(response, status, code, field)


def test_locate_wgs84(app: Flask, client: FlaskClient, world: World) -> None:
    lon, lat = center(1)
    response = client.get(f"/api/v1/locate?lon={lon}&lat={lat}")
    body = response.get_json()
    assert body["grid"]["code"] == world.grid_codes["A2"]
    assert body["community"]["code"] == "321002901001"
    assert body["subdistrict"]["code"] == "321002901"
    # written by orjson: the very bytes the route's schema and the app's JSON would write
    from server.api.territory import LocateResult
    from server.services.territory.locate import locate

    with app.test_request_context():
        expected = app.json.response(LocateResult().dump(locate(lon, lat, "wgs84", None)))
        assert response.get_data() == expected.get_data()


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_locate_phone_coordinates(client: FlaskClient, world: World, crs: str) -> None:
    """A phone map reports GCJ-02/BD-09: ~500 m off here, more than a grid is wide."""
    from geo.crs import from_wgs84

    lon, lat = center(0)
    plon, plat = from_wgs84(lon, lat, crs)  # type: ignore[arg-type]
    body = client.get(f"/api/v1/locate?lon={plon}&lat={plat}&crs={crs}").get_json()
    assert body["grid"]["code"] == world.grid_codes["A1"]
    assert body["lon"] == pytest.approx(lon, abs=1e-7)
    assert body["lat"] == pytest.approx(lat, abs=1e-7)
    # Taken as WGS84 the same numbers land in another grid: the hint matters.
    wrong = client.get(f"/api/v1/locate?lon={plon}&lat={plat}").get_json()
    assert wrong.get("grid", {}).get("code") != world.grid_codes["A1"]


def test_locate_on_a_shared_border_is_deterministic(client: FlaskClient, world: World) -> None:
    lon, lat = LON0 + STEP, LAT0 + 0.5 * STEP  # the A1|A2 border
    answers = {
        client.get(f"/api/v1/locate?lon={lon}&lat={lat}").get_json()["grid"]["code"]
        for _ in range(3)
    }
    assert answers == {world.grid_codes["A1"]}  # lowest code wins


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("lon=119.2&lat=32.39", 404, "outside_subdistrict", None),
        ("lon=200&lat=32.39", 422, "validation_error", "lon"),
        ("lon=119.43&lat=-91", 422, "validation_error", "lat"),
        ("lat=32.39", 422, "validation_error", "lon"),
        ("lon=119.43&lat=32.39&crs=epsg3857", 422, "validation_error", "crs"),
        ("lon=nan&lat=32.39", 422, "validation_error", "lon"),
    ],
)
def test_locate_errors(
    client: FlaskClient, world: World, query: str, status: int, code: str, field: str | None
) -> None:
    assert_error(client.get(f"/api/v1/locate?{query}"), status, code, field)


def test_locate_outside_the_callers_subdistrict(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    lon, lat = LON0 + 0.03 + 0.5 * STEP, LAT0 + 0.5 * STEP  # grid C1, the other subdistrict
    assert client.get(f"/api/v1/locate?lon={lon}&lat={lat}").status_code == 200
    response = client.get(
        f"/api/v1/locate?lon={lon}&lat={lat}", headers=bearer(tokens["dispatcher"])
    )
    assert_error(response, 404, "outside_subdistrict")


def test_units_and_categories(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    units = client.get("/api/v1/units", headers=bearer(tokens["dispatcher"])).get_json()
    assert [u["code"] for u in units] == ["U1"]
    assert units[0]["kind_zh"] == "职能部门"
    assert client.get("/api/v1/units").status_code == 401
    categories = client.get("/api/v1/categories").get_json()
    assert categories[0]["code"] == "sanitation"
    assert categories[0]["deadline_hours"]["urgent"] == 4


@pytest.mark.parametrize("community", ["2147483648", "0", "-1"])
def test_ids_out_of_range_are_422(
    client: FlaskClient, world: World, tokens: dict[str, str], community: str
) -> None:
    response = client.get(
        f"/api/v1/grids?community={community}", headers=bearer(tokens["dispatcher"])
    )
    assert_error(response, 422, "validation_error", "community")
