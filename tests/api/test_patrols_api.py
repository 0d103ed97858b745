"""Patrols, logs and schedules over HTTP: figures from hand-built tracks, scope, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World, bearer
from factories import LAT0, LON0, STEP
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error, ok
from shapely.geometry import box

from server.services.uow import unit_of_work

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def perimeter_walk(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    *,
    speed: float = 1.2,
    step_m: float = 10.0,
    start: datetime = T0,
) -> list[list[Any]]:
    """Walk the rectangle's edge once, a point every `step_m`, at `speed` m/s (WGS84)."""
    from geo.measure import MetricProjection

    proj = MetricProjection((x0 + x1) / 2, (y0 + y1) / 2)
    ring = proj.project(box(x0, y0, x1, y1)).exterior
    n = int(ring.length // step_m)
    points = []
    for i in range(n + 1):
        p = proj.unproject(ring.interpolate(i * step_m))
        points.append([p.x, p.y, (start + timedelta(seconds=i * step_m / speed)).timestamp(), 5])
    return points


A1_BOX = (LON0, LAT0, LON0 + STEP, LAT0 + STEP)


def expected_coverage(buffer_m: float = 30.0) -> float:
    """Share of A1 within `buffer_m` of its own edge, worked out in the metric projection."""
    from geo.measure import MetricProjection

    proj = MetricProjection(LON0 + STEP / 2, LAT0 + STEP / 2)
    square = proj.project(box(*A1_BOX))
    inner = square.buffer(-buffer_m, join_style="mitre")
    return float((square.area - inner.area) / square.area)


def test_a_patrol_around_the_grid_edge(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    c = bearer(tokens["collector"])
    walk = perimeter_walk(*A1_BOX)
    started = ok(
        client.post(
            "/api/v1/patrols",
            headers=c,
            json={
                "grid_id": world.grid_ids["A1"],
                "id": "patrol-0000000001",
                "started_at": T0.isoformat(),
            },
        ),
        201,
    )
    assert started["status"] == "active"
    half = len(walk) // 2
    ok(
        client.post(
            "/api/v1/patrols/patrol-0000000001/points", headers=c, json={"points": walk[:half]}
        )
    )
    again = ok(
        client.post(
            "/api/v1/patrols/patrol-0000000001/points",
            headers=c,
            json={"points": walk[: half + 10]},
        )
    )  # a retried, longer batch
    assert again["point_count"] == half + 10
    ended = ok(
        client.post(
            "/api/v1/patrols/patrol-0000000001/end",
            headers=c,
            json={
                "points": walk[half:],
                "ended_at": datetime.fromtimestamp(walk[-1][2], UTC).isoformat(),
            },
        )
    )
    assert ended["point_count"] == len(walk)
    perimeter = 2 * (470.1 + 555.6)  # metres, ±1 %
    assert ended["distance_m"] == pytest.approx(perimeter, rel=0.02)
    assert ended["coverage"] == pytest.approx(expected_coverage(), abs=0.01)
    assert ended["time_inside_s"] == pytest.approx(ended["duration_s"], rel=0.02)
    assert ended["plausible"] is True and ended["flags"] == []
    assert ended["track"]["type"] == "LineString"
    assert len(ended["track"]["coordinates"]) < len(walk)  # simplified for drawing
    # ending again changes nothing
    assert (
        ok(client.post("/api/v1/patrols/patrol-0000000001/end", headers=c, json={}))["distance_m"]
        == ended["distance_m"]
    )


def test_a_car_is_flagged(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    c = bearer(tokens["collector"])
    drive = perimeter_walk(*A1_BOX, speed=15.0)
    ok(
        client.post(
            "/api/v1/patrols",
            headers=c,
            json={
                "grid_id": world.grid_ids["A1"],
                "id": "patrol-car-000001",
                "started_at": T0.isoformat(),
                "points": drive,
            },
        ),
        201,
    )
    ended = ok(
        client.post(
            "/api/v1/patrols/patrol-car-000001/end",
            headers=c,
            json={"ended_at": datetime.fromtimestamp(drive[-1][2], UTC).isoformat()},
        )
    )
    assert ended["plausible"] is False
    assert "too_fast" in {f["code"] for f in ended["flags"]}
    assert all(f["message_zh"] for f in ended["flags"])


def test_offline_patrol_retried(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    c = bearer(tokens["collector"])
    body = {
        "grid_id": world.grid_ids["A1"],
        "id": "offline-patrol-01",
        "started_at": T0.isoformat(),
        "points": perimeter_walk(*A1_BOX),
    }
    assert client.post("/api/v1/patrols", headers=c, json=body).status_code == 201
    assert client.post("/api/v1/patrols", headers=c, json=body).status_code == 200
    taken = client.post(
        "/api/v1/patrols",
        headers=bearer(tokens["collector2"]),
        json={**body, "grid_id": world.grid_ids["B1"]},
    )
    assert_error(taken, 409, "id_taken", "id")


@pytest.mark.parametrize(
    ("who", "grid", "status", "code"),
    [
        ("collector", "B1", 422, "outside_your_grids"),
        ("dispatcher", "A1", 403, "forbidden"),
        ("staff", "A1", 403, "forbidden"),
    ],
)
def test_who_may_patrol_where(
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    who: str,
    grid: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/api/v1/patrols", headers=bearer(tokens[who]), json={"grid_id": world.grid_ids[grid]}
    )
    assert_error(response, status, code)


def test_patrol_scope(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    ok(
        client.post(
            "/api/v1/patrols",
            headers=bearer(tokens["collector"]),
            json={"grid_id": world.grid_ids["A1"], "id": "patrol-scope-0001"},
        ),
        201,
    )
    url = "/api/v1/patrols/patrol-scope-0001"
    assert ok(client.get(url, headers=bearer(tokens["dispatcher"])))["id"] == "patrol-scope-0001"
    assert_error(client.get(url, headers=bearer(tokens["collector2"])), 404, "not_found")
    assert_error(client.get(url, headers=bearer(tokens["dispatcher2"])), 404, "not_found")
    assert ok(client.get("/api/v1/patrols", headers=bearer(tokens["collector2"])))["items"] == []
    mine = ok(client.get("/api/v1/patrols", headers=bearer(tokens["collector"])))["items"]
    assert [p["id"] for p in mine] == ["patrol-scope-0001"]
    assert_error(
        client.post(url + "/points", headers=bearer(tokens["collector2"]), json={"points": []}),
        404,
        "not_found",
    )


@pytest.mark.parametrize(
    ("points", "field"),
    [
        ([[119.43, 32.39]], "points"),
        ([[200, 32.39, 1764000000]], "points"),
        ([[119.43, 32.39, "yesterday"]], "points"),
    ],
)
def test_bad_track_points(
    app: Flask,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    points: list[Any],
    field: str,
) -> None:
    c = bearer(tokens["collector"])
    ok(
        client.post(
            "/api/v1/patrols",
            headers=c,
            json={"grid_id": world.grid_ids["A1"], "id": "patrol-bad-000001"},
        ),
        201,
    )
    response = client.post(
        "/api/v1/patrols/patrol-bad-000001/points", headers=c, json={"points": points}
    )
    assert response.status_code == 422
    assert response.get_json()["field"].startswith(field)
    got = ok(client.get("/api/v1/patrols/patrol-bad-000001", headers=c))
    assert got["point_count"] == 0


def test_logs_and_raising_a_case(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    c = bearer(tokens["collector"])
    at = {"lon": LON0 + STEP / 2, "lat": LAT0 + STEP / 2}
    body = {"text": "楼道堆放杂物", "category": "sanitation", "id": "log-000000000001", **at}
    created = ok(client.post("/api/v1/patrol-logs", headers=c, json=body), 201)
    assert created["grid_id"] == world.grid_ids["A1"]
    assert client.post("/api/v1/patrol-logs", headers=c, json=body).status_code == 200
    outside = client.post(
        "/api/v1/patrol-logs",
        headers=c,
        json={"text": "x", "lon": LON0 + 2.5 * STEP, "lat": LAT0 + STEP / 2},
    )
    assert_error(outside, 422, "outside_your_grids", "lon")
    raised = ok(
        client.post("/api/v1/patrol-logs/log-000000000001/raise-case", headers=c, json={}), 201
    )
    assert raised["log"]["case_id"] == raised["case_id"]
    case = ok(client.get(f"/api/v1/cases/{raised['case_id']}", headers=c))
    assert case["source"] == "patrol" and case["description"] == "楼道堆放杂物"
    again = client.post("/api/v1/patrol-logs/log-000000000001/raise-case", headers=c, json={})
    assert_error(again, 409, "case_already_raised")
    logs = ok(client.get("/api/v1/patrol-logs", headers=bearer(tokens["dispatcher"])))
    assert [entry["id"] for entry in logs["items"]] == ["log-000000000001"]


def test_schedules_and_slots(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.services.patrolling import schedules

    d = bearer(tokens["dispatcher"])
    bad = client.post(
        "/api/v1/patrol-schedules",
        headers=d,
        json={
            "collector_id": world.user_ids["collector"],
            "grid_id": world.grid_ids["A1"],
            "times": ["9:00"],
        },
    )
    assert_error(bad, 422, "validation_error", "times")
    not_theirs = client.post(
        "/api/v1/patrol-schedules",
        headers=d,
        json={
            "collector_id": world.user_ids["collector"],
            "grid_id": world.grid_ids["B1"],
            "times": ["09:00"],
        },
    )
    assert_error(not_theirs, 422, "grid_not_assigned", "grid_id")
    made = ok(
        client.post(
            "/api/v1/patrol-schedules",
            headers=d,
            json={
                "collector_id": world.user_ids["collector"],
                "grid_id": world.grid_ids["A1"],
                "times": ["09:00", "15:00"],
                "tolerance_minutes": 60,
                "valid_from": "2026-11-24",
            },
        ),
        201,
    )
    assert made["times"] == ["09:00", "15:00"]
    # a patrol at 09:10 on 11-25 does the morning slot; the afternoon one is missed
    ok(
        client.post(
            "/api/v1/patrols",
            headers=bearer(tokens["collector"]),
            json={
                "grid_id": world.grid_ids["A1"],
                "id": "patrol-slot-00001",
                "started_at": (T0 + timedelta(minutes=10)).isoformat(),
            },
        ),
        201,
    )
    with app.app_context():
        with unit_of_work(datetime(2026, 11, 25, 9, 0, tzinfo=UTC)) as uow:
            first = schedules.judge_slots(uow)
        with unit_of_work(datetime(2026, 11, 25, 9, 0, tzinfo=UTC)) as uow:
            again = schedules.judge_slots(uow)
    # 11-24 09:00 and 15:00 (missed), 11-25 09:00 (done) and 15:00 (missed)
    assert first == {"done": 1, "missed": 3}
    assert again == {"done": 0, "missed": 0}
    figures = ok(
        client.get(
            "/api/v1/stats/patrols?from=2026-11-24T00:00:00Z&to=2026-11-26T00:00:00Z", headers=d
        )
    )
    mine = next(f for f in figures if f["username"] == "collector")
    assert mine["on_time_patrol_rate"] == {"numerator": 1, "denominator": 4, "value": 0.25}
