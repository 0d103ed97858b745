"""Unlocated cases (待定位), both backends: 12345 rows and Open311 requests without a point
become cases without point, grid or community — never guessed — unless the geocoder (a local
stand-in for 高德 / 天地图 checking their documented request format) places them precisely
inside the subdistrict; the queue flags and counts them; a dispatcher locates one
(`POST /api/v1/cases/{id}/location`, `GET …/location/candidates`, the console form); the
work order's own deadline is used at dispatch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import World, bearer
from factories import LAT0, LON0, STEP
from flask import Flask
from flask.testing import FlaskClient
from geocoder_standin import GeocoderStandIn
from helpers import A1, B1, assert_error, ok, sign_in
from sqlalchemy import select
from test_hotline_import import C1, HEADER, coords, mapped, run, xlsx_bytes

__all__ = ["mapped"]  # the fixture, shared with test_hotline_import

OFF = {"provider": "none", "key": None, "url": None, "city": None, "timeout": 5.0}


def row(order_no: str, address: str, point: tuple[float, float] | None = None, **kw: Any) -> list:  # type: ignore[type-arg]
    return [
        order_no,
        "2026-12-03 08:15:00",
        "环境卫生",
        kw.get("description", f"{address}有垃圾"),
        address,
        "王小明",
        "13912345678",
        coords(point) if point else "",
    ]


def import_file(app: Flask, tmp_path: Path, rows: list[list[Any]], *args: str) -> Any:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(rows, HEADER))
    return run(app, "import", str(path), "--user", "dispatcher", *args)


def cases_by_order(app: Flask) -> dict[str, Any]:
    from server.extensions import db
    from server.models import Case, HotlineOrder

    with app.app_context():
        rows = db.session.execute(
            select(HotlineOrder.order_no, Case).join(Case, Case.id == HotlineOrder.case_id)
        ).all()
        out = {}
        for order_no, case in rows:
            out[order_no] = {
                "id": case.id,
                "number": case.number,
                "grid_id": case.grid_id,
                "community_id": case.community_id,
                "lon": case.lon,
                "lat": case.lat,
                "point": case.point,
                "subdistrict_id": case.subdistrict_id,
                "version": case.version,
            }
        return out


@pytest.fixture
def geocoder(app: Flask) -> Iterator[Any]:
    """Set the app's geocoder settings for one test; back to none afterwards."""
    saved = app.config.get("GEOCODER")

    def use(settings: dict[str, Any]) -> None:
        app.config["GEOCODER"] = settings

    yield use
    app.config["GEOCODER"] = saved


# ---------------------------------------------------------------------------------- import


def test_rows_without_coordinates_are_imported_unlocated_and_flagged(
    app: Flask, client: FlaskClient, mapped: World, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = [
        row("GD-1", "文昌路 18 号", A1),
        row("GD-2", "某小区东门"),  # an address, no geocoder: unlocated
        row("GD-3", ""),  # nothing at all: unlocated too (the description may say)
    ]
    result = import_file(app, tmp_path, rows)
    assert result.exit_code == 0, result.output + result.stderr
    assert "created 新建: 3" in result.output and "unlocated 待定位: 2" in result.output
    assert "[待定位 unlocated]" in result.output
    found = cases_by_order(app)
    assert found["GD-1"]["grid_id"] == mapped.grid_ids["A1"]
    for order in ("GD-2", "GD-3"):
        case = found[order]
        assert case["grid_id"] is None and case["community_id"] is None
        assert case["lon"] is None and case["lat"] is None and case["point"] is None
        assert case["subdistrict_id"] == mapped.subdistrict_id  # the importer's
    # re-importing changes nothing
    again = import_file(app, tmp_path, rows)
    assert "unchanged 已导入过，未改动: 3 — nothing changed 无变化" in again.output
    assert cases_by_order(app) == found

    auth = bearer(tokens["dispatcher"])
    queue = ok(client.get("/api/v1/cases?unlocated=true", headers=auth))
    assert sorted(c["number"] for c in queue["items"]) == sorted(
        found[o]["number"] for o in ("GD-2", "GD-3")
    )
    assert all(c["unlocated"] and c["grid"] is None and c["lon"] is None for c in queue["items"])
    located = ok(client.get("/api/v1/cases?unlocated=false", headers=auth))
    assert [c["number"] for c in located["items"]] == [found["GD-1"]["number"]]
    assert located["items"][0]["unlocated"] is False
    assert len(ok(client.get("/api/v1/cases", headers=auth))["items"]) == 3
    counts = ok(client.get("/api/v1/cases/counts", headers=auth))
    assert counts["unlocated"] == 2 and counts["by_stage"]["collect"] == 3
    one = ok(client.get(f"/api/v1/cases/{found['GD-2']['id']}", headers=auth))
    assert one["unlocated"] is True and one["community"] is None
    assert one["events"][0]["payload"]["unlocated"] is True
    # the 台账 export, filtered like the queue
    export = client.get("/api/v1/exports/cases?format=csv&unlocated=true", headers=auth)
    assert export.status_code == 200, export.text
    text = export.get_data().decode("utf-8-sig")
    assert text.count("待定位 unlocated") == 2 and found["GD-1"]["number"] not in text
    # a collector sees none of them (no grid of theirs); the map has no pin for them
    mine = ok(client.get("/api/v1/cases", headers=bearer(tokens["collector"])))
    assert [c["number"] for c in mine["items"]] == [found["GD-1"]["number"]]


def test_the_console_queue_and_case_page_show_the_flag(
    app: Flask, client: FlaskClient, mapped: World, tmp_path: Path
) -> None:
    import_file(app, tmp_path, [row("GD-1", "文昌路 18 号", A1), row("GD-2", "某小区东门")])
    found = cases_by_order(app)
    sign_in(client, "dispatcher")
    page = client.get("/console/cases")
    assert page.status_code == 200
    assert page.text.count("data-unlocated") == 1 and 'data-count="unlocated">1<' in page.text
    only = client.get("/console/cases?unlocated=1")
    assert found["GD-2"]["number"] in only.text and found["GD-1"]["number"] not in only.text
    case_page = client.get(f"/console/cases/{found['GD-2']['id']}")
    assert case_page.status_code == 200
    assert "待定位" in case_page.text and 'id="locate-form"' in case_page.text
    assert "data-candidates" not in case_page.text  # the geocoder is off: no look-up button
    assert client.get("/console/map").status_code == 200
    pins = client.get("/console/map/cases.geojson")
    assert pins.status_code == 200
    hrefs = [p["properties"]["href"] for p in pins.get_json()["features"]]
    assert hrefs == [f"/console/cases/{found['GD-1']['id']}"]  # no pin without a place
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        token = db.session.get(Case, found["GD-2"]["id"]).public_token
    resident = client.get(f"/r/{token}")
    assert resident.status_code == 200 and "待定位" in resident.text
    located = client.get(f"/console/cases/{found['GD-1']['id']}")
    assert 'id="locate-form"' not in located.text


def test_the_amap_stand_in_places_only_single_precise_answers(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    tokens: dict[str, str],
    tmp_path: Path,
    geocoder: Any,
) -> None:
    with GeocoderStandIn("amap", city="扬州市") as amap:
        geocoder(amap.settings())
        amap.places = {
            "文昌路 18 号": [(*A1, "门牌号")],  # precise, inside A1
            "乙村村委会": [(*B1, "兴趣点")],  # precise, inside B1
            "广陵区": [(*A1, "区县")],  # coarse: never placed
            "解放路": [(*A1, "道路"), (*B1, "道路")],  # ambiguous
            "别处 1 号": [(*C1, "门牌号")],  # precise, but the other subdistrict
        }
        rows = [
            row("GD-1", "文昌路 18 号"),
            row("GD-2", "乙村村委会"),
            row("GD-3", "广陵区"),
            row("GD-4", "解放路"),
            row("GD-5", "别处 1 号"),
            row("GD-6", "查无此处"),
            row("GD-7", "文昌路 18 号", description="同一地址第二单"),  # asked once
            row("GD-8", "广陵区", A1),  # coordinates win: never asked
        ]
        result = import_file(app, tmp_path, rows)
        assert result.exit_code == 0, result.output + result.stderr
        assert amap.mistakes == []
        assert sorted(amap.asked()) == sorted(
            ["文昌路 18 号", "乙村村委会", "广陵区", "解放路", "别处 1 号", "查无此处"]
        )
        assert all(q["key"] == ["test-key"] and q["city"] == ["扬州市"] for q in amap.requests)
    assert "geocoded 地址定位: 3" in result.output and "unlocated 待定位: 4" in result.output
    found = cases_by_order(app)
    assert found["GD-1"]["grid_id"] == found["GD-7"]["grid_id"] == mapped.grid_ids["A1"]
    assert found["GD-2"]["grid_id"] == mapped.grid_ids["B1"]
    # GCJ-02 converted back to WGS84: within a metre of the true point (~500 m unconverted)
    assert abs(found["GD-1"]["lon"] - A1[0]) < 1e-5 and abs(found["GD-1"]["lat"] - A1[1]) < 1e-5
    for order in ("GD-3", "GD-4", "GD-5", "GD-6"):
        assert found[order]["grid_id"] is None and found[order]["lon"] is None, order
    assert found["GD-8"]["grid_id"] == mapped.grid_ids["A1"]


def test_the_tianditu_stand_in(app: Flask, mapped: World, tmp_path: Path, geocoder: Any) -> None:
    with GeocoderStandIn("tianditu", city="扬州市") as tdt:
        geocoder(tdt.settings())
        tdt.places = {"文昌路 18 号": [(*A1, "门址")], "文昌路": [(*A1, "道路")]}
        result = import_file(
            app, tmp_path, [row("T-1", "文昌路 18 号"), row("T-2", "文昌路"), row("T-3", "无")]
        )
        assert result.exit_code == 0, result.output + result.stderr
        assert tdt.mistakes == [] and len(tdt.requests) == 3
        assert json.loads(tdt.requests[0]["ds"][0]) == {"keyWord": "扬州市文昌路 18 号"}
    found = cases_by_order(app)
    assert found["T-1"]["grid_id"] == mapped.grid_ids["A1"]
    assert abs(found["T-1"]["lon"] - A1[0]) < 1e-6  # CGCS2000 taken as WGS84
    assert found["T-2"]["grid_id"] is None and found["T-3"]["grid_id"] is None


def test_a_failing_geocoder_leaves_rows_unlocated_never_a_5xx(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    tokens: dict[str, str],
    tmp_path: Path,
    geocoder: Any,
) -> None:
    with GeocoderStandIn("amap") as amap:
        amap.places = {"文昌路 18 号": [(*A1, "门牌号")]}
        amap.delay = 1.5
        geocoder(amap.settings(timeout=0.5))
        started = datetime.now(UTC)
        result = import_file(
            app, tmp_path, [row("GD-1", "文昌路 18 号"), row("GD-2", "乙村"), row("GD-3", "丙村")]
        )
        took = (datetime.now(UTC) - started).total_seconds()
        assert result.exit_code == 0, result.output + result.stderr
        assert "unlocated 待定位: 3" in result.output
        assert "geocoder failed 地理编码失败" in result.stderr
        assert len(amap.requests) == 1  # stopped asking after the first timeout
        assert took < 5, took
        # a wrong key: the provider's error answer, the same outcome
        geocoder({**amap.settings(), "key": "wrong"})
        amap.delay = 0
        case_id = cases_by_order(app)["GD-1"]["id"]
        auth = bearer(tokens["dispatcher"])
        answer = ok(client.get(f"/api/v1/cases/{case_id}/location/candidates", headers=auth))
        assert answer["candidates"] == [] and "INVALID_USER_KEY" in answer["failure"]
        assert amap.mistakes == []
    # nobody listening at all
    geocoder({**amap.settings(), "url": "http://127.0.0.1:9/v3/geocode/geo"})
    answer = ok(client.get(f"/api/v1/cases/{case_id}/location/candidates", headers=auth))
    assert answer["candidates"] == [] and answer["failure"]
    geocoder(OFF)
    answer = ok(client.get(f"/api/v1/cases/{case_id}/location/candidates", headers=auth))
    assert answer["provider"] == "none" and "MINQING_GEOCODER" in answer["failure"]


# ---------------------------------------------------------------------------------- locate


def test_a_dispatcher_locates_an_unlocated_case(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    tokens: dict[str, str],
    tmp_path: Path,
    geocoder: Any,
) -> None:
    import_file(app, tmp_path, [row("GD-1", "文昌路 18 号")])
    case = cases_by_order(app)["GD-1"]
    url = f"/api/v1/cases/{case['id']}/location"
    auth = bearer(tokens["dispatcher"])
    body = {"version": case["version"], "lat": A1[1], "lng": A1[0]}

    # who may: dispatchers and admins of the case's subdistrict
    assert_error(client.post(url, json=body, headers=bearer(tokens["collector"])), 403, "forbidden")
    assert_error(client.post(url, json=body, headers=bearer(tokens["staff"])), 403, "forbidden")
    assert_error(
        client.post(url, json=body, headers=bearer(tokens["dispatcher2"])), 404, "not_found"
    )
    assert_error(client.post(url, json=body), 401, "unauthorized")
    # bad input, bilingual 4xx naming the field
    assert_error(
        client.post(url, json={**body, "lat": 95}, headers=auth), 422, "validation_error", "lat"
    )
    assert_error(
        client.post(url, json={**body, "lng": "east"}, headers=auth), 422, "validation_error", "lng"
    )
    no_version = {k: v for k, v in body.items() if k != "version"}
    assert_error(
        client.post(url, json=no_version, headers=auth), 422, "validation_error", "version"
    )
    far = {**body, "lat": LAT0 + 1, "lng": LON0 + 1}
    assert_error(client.post(url, json=far, headers=auth), 422, "outside_subdistrict", "lat")
    elsewhere = {**body, "lat": C1[1], "lng": C1[0]}  # a grid of the other subdistrict
    assert_error(client.post(url, json=elsewhere, headers=auth), 422, "outside_subdistrict", "lat")
    stale = {**body, "version": case["version"] + 1}
    assert_error(client.post(url, json=stale, headers=auth), 409, "stale_version", "version")
    # dispatching it before it has a place is refused
    accepted = ok(
        client.post(
            f"/api/v1/cases/{case['id']}/actions/accept",
            json={"version": case["version"]},
            headers=auth,
        )
    )
    refused = client.post(
        f"/api/v1/cases/{case['id']}/actions/dispatch",
        json={"version": accepted["version"], "unit_id": mapped.unit_id},
        headers=auth,
    )
    assert_error(refused, 409, "case_unlocated")

    # the point given in GCJ-02 (as read off a 高德 map), converted to WGS84
    from geo.crs import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(*A1)
    done = ok(
        client.post(
            url,
            json={"version": accepted["version"], "lat": glat, "lon": glon, "crs": "gcj02"},
            headers=auth,
        )
    )
    assert done["unlocated"] is False and done["grid"]["id"] == mapped.grid_ids["A1"]
    assert done["community"]["id"] == mapped.community_ids["A"]
    assert abs(done["lon"] - A1[0]) < 1e-6 and done["version"] == accepted["version"] + 1
    assert done["status"] == "accepted"
    located = [e for e in done["events"] if e["action"] == "locate"]
    assert len(located) == 1 and located[0]["payload"]["grid"] == mapped.grid_codes["A1"]
    assert located[0]["from_status"] == located[0]["to_status"] == "accepted"
    assert located[0]["action_zh"] == "定位" and located[0]["payload"]["how"] == "map"
    again = {"version": done["version"], "lat": B1[1], "lng": B1[0]}
    assert_error(client.post(url, json=again, headers=auth), 409, "already_located")
    # now the collector of A1 sees it, and it can be dispatched
    mine = ok(client.get("/api/v1/cases", headers=bearer(tokens["collector"])))
    assert [c["id"] for c in mine["items"]] == [case["id"]]
    counts = ok(client.get("/api/v1/cases/counts", headers=auth))
    assert counts["unlocated"] == 0


def test_candidates_endpoint(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    tokens: dict[str, str],
    tmp_path: Path,
    geocoder: Any,
) -> None:
    import_file(app, tmp_path, [row("GD-1", "解放路")])  # geocoder off: unlocated
    case = cases_by_order(app)["GD-1"]
    url = f"/api/v1/cases/{case['id']}/location/candidates"
    with GeocoderStandIn("amap") as amap:
        amap.places = {"解放路": [(*A1, "道路"), (*C1, "道路")]}
        geocoder(amap.settings())
        assert_error(client.get(url, headers=bearer(tokens["collector"])), 403, "forbidden")
        assert_error(client.get(url, headers=bearer(tokens["dispatcher2"])), 404, "not_found")
        answer = ok(client.get(url, headers=bearer(tokens["dispatcher"])))
        assert amap.mistakes == []
    assert answer["provider"] == "amap" and answer["address"] == "解放路"
    assert answer["failure"] is None
    first, second = answer["candidates"]
    assert first["inside"] is True and first["grid"]["id"] == mapped.grid_ids["A1"]
    assert abs(first["lon"] - A1[0]) < 1e-5 and first["precise"] is False
    assert second["inside"] is False and second["grid"] is None

    # the console: the look-up lists them and one click locates the case
    with GeocoderStandIn("amap") as amap:
        amap.places = {"解放路": [(*A1, "道路"), (*C1, "道路")]}
        geocoder(amap.settings())
        csrf = sign_in(client, "dispatcher")
        page = client.get(f"/console/cases/{case['id']}?candidates=1")
    assert page.status_code == 200 and "data-candidates" in page.text
    assert page.text.count("定位到此处") == 1  # only the candidate inside the subdistrict
    posted = client.post(
        f"/console/cases/{case['id']}/location",
        data={
            "csrf_token": csrf,
            "version": str(case["version"]),
            "lat": str(first["lat"]),
            "lng": str(first["lon"]),
            "how": "candidate",
        },
    )
    assert posted.status_code == 303, posted.text
    after = cases_by_order(app)["GD-1"]
    assert after["grid_id"] == mapped.grid_ids["A1"]
    bad = client.post(
        f"/console/cases/{case['id']}/location",
        data={"csrf_token": csrf, "version": str(after["version"]), "lat": "x", "lng": "1"},
    )
    assert bad.status_code == 422, bad.status_code


# ---------------------------------------------------------------------------------- deadline


def test_dispatch_uses_the_work_orders_deadline(
    app: Flask, client: FlaskClient, mapped: World, tokens: dict[str, str], tmp_path: Path
) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0, second=0)
    local = deadline.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    header = [*HEADER, "办理时限"]
    rows = [
        [*row("GD-1", "文昌路 18 号", A1), local.strftime("%Y-%m-%d %H:%M")],
        [*row("GD-2", "文昌路 20 号", A1), ""],
        [*row("GD-3", "文昌路 22 号", A1), local.strftime("%Y-%m-%d %H:%M")],
    ]
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(rows, header))
    result = run(app, "import", str(path), "--user", "dispatcher")
    assert result.exit_code == 0, result.output + result.stderr
    found = cases_by_order(app)
    auth = bearer(tokens["dispatcher"])

    def dispatch(order: str, **extra: Any) -> dict[str, Any]:
        case = found[order]
        accepted = ok(
            client.post(
                f"/api/v1/cases/{case['id']}/actions/accept",
                json={"version": case["version"]},
                headers=auth,
            )
        )
        return ok(
            client.post(
                f"/api/v1/cases/{case['id']}/actions/dispatch",
                json={"version": accepted["version"], "unit_id": mapped.unit_id, **extra},
                headers=auth,
            )
        )

    platform = dispatch("GD-1")
    assert datetime.fromisoformat(platform["deadline_at"]) == deadline
    event = [e for e in platform["events"] if e["action"] == "dispatch"][-1]
    assert event["payload"]["deadline_source"] == "hotline"
    category = dispatch("GD-2")
    assert [e for e in category["events"] if e["action"] == "dispatch"][-1]["payload"][
        "deadline_source"
    ] == "category"
    own = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    chosen = dispatch("GD-3", deadline=own.isoformat())
    assert datetime.fromisoformat(chosen["deadline_at"]) == own
    assert [e for e in chosen["events"] if e["action"] == "dispatch"][-1]["payload"][
        "deadline_source"
    ] == "dispatcher"


# ---------------------------------------------------------------------------------- Open311


def test_open311_address_only_is_filed_unlocated_or_geocoded(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], geocoder: Any
) -> None:
    import georeport_xsd as xsd
    from test_open311 import BASE, issue_key, sd_code

    key = issue_key(client, tokens["admin"])
    base = {
        "api_key": key,
        "jurisdiction_id": sd_code(app, world.subdistrict_id),
        "service_code": "sanitation",
        "description": "路灯不亮",
    }
    filed = ok(
        client.post(f"{BASE}/requests.json", data={**base, "address_string": "某小区东门"}), 201
    )
    number = filed[0]["service_request_id"]
    jid = base["jurisdiction_id"]
    shown = ok(client.get(f"{BASE}/requests/{number}.json?extensions=true&jurisdiction_id={jid}"))[
        0
    ]
    assert shown["lat"] is None and shown["long"] is None and shown["address"] == "某小区东门"
    assert shown["extended_attributes"]["unlocated"] is True
    assert shown["extended_attributes"]["grid_code"] is None
    xml = client.get(f"{BASE}/requests/{number}.xml?jurisdiction_id={jid}")
    assert xml.status_code == 200
    xsd.validate(xsd.REQUESTS, xml.data)
    queue = ok(client.get("/api/v1/cases?unlocated=true", headers=bearer(tokens["dispatcher"])))
    assert [(c["number"], c["channel"]) for c in queue["items"]] == [(number, "open311")]

    with GeocoderStandIn("amap") as amap:
        amap.places = {"文昌路 18 号": [(*A1, "门牌号")]}
        geocoder(amap.settings())
        placed = ok(
            client.post(f"{BASE}/requests.json", data={**base, "address_string": "文昌路 18 号"}),
            201,
        )
        assert amap.mistakes == []
    again = ok(
        client.get(f"{BASE}/requests/{placed[0]['service_request_id']}.json?jurisdiction_id={jid}")
    )[0]
    assert abs(again["lat"] - A1[1]) < 1e-5 and abs(again["long"] - A1[0]) < 1e-5
    assert STEP  # the stand-in's points are the world's grid centres


def test_the_console_import_page_counts_the_unlocated(
    app: Flask, client: FlaskClient, mapped: World
) -> None:
    import hashlib
    import io

    data = xlsx_bytes([row("GD-1", "文昌路 18 号", A1), row("GD-2", "某小区东门")], HEADER)
    csrf = sign_in(client, "dispatcher")
    checked = client.post(
        "/console/hotline/check",
        data={"csrf_token": csrf, "file": (io.BytesIO(data), "orders.xlsx")},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.text
    assert '<dd data-k="new">2</dd>' in checked.text
    assert '<dd data-k="unlocated">1</dd>' in checked.text
    done = client.post(
        "/console/hotline/import",
        data={
            "csrf_token": csrf,
            "stash": hashlib.sha256(data).hexdigest(),
            "filename": "orders.xlsx",
        },
    )
    assert done.status_code == 200, done.text
    assert 'data-k="unlocated"' in done.text and "待定位" in done.text
    assert cases_by_order(app)["GD-2"]["grid_id"] is None


def test_geocoder_settings_are_checked() -> None:
    from server.config import ConfigError, load_config

    assert load_config({})["GEOCODER"]["provider"] == "none"
    conf = load_config(
        {
            "MINQING_GEOCODER": "AMap",
            "MINQING_GEOCODER_KEY": "k",
            "MINQING_GEOCODER_CITY": "扬州市",
            "MINQING_GEOCODER_TIMEOUT_SECONDS": "3",
        }
    )["GEOCODER"]
    assert conf == {"provider": "amap", "key": "k", "url": None, "city": "扬州市", "timeout": 3.0}
    for bad in (
        {"MINQING_GEOCODER": "baidu", "MINQING_GEOCODER_KEY": "k"},
        {"MINQING_GEOCODER": "tianditu"},  # no key
        {
            "MINQING_GEOCODER": "amap",
            "MINQING_GEOCODER_KEY": "k",
            "MINQING_GEOCODER_URL": "ftp://x",
        },
        {"MINQING_GEOCODER_TIMEOUT_SECONDS": "0"},
    ):
        with pytest.raises(ConfigError, match="MINQING_GEOCODER"):
            load_config(bad)


def test_a_city_admin_cannot_leave_a_row_unlocated_without_a_subdistrict(
    app: Flask, mapped: World, tmp_path: Path
) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes([row("GD-1", "文昌路 18 号", A1), row("GD-2", "某处")], HEADER))
    result = run(app, "import", str(path), "--user", "cityadmin")
    assert result.exit_code == 1
    assert "row 3 [坐标] not_located" in result.stderr and "row 2" not in result.stderr
    assert cases_by_order(app) == {}
