"""Sync pushes are bounded at the API edge: records and bytes per push (413 naming the limit,
nothing applied) and pushes per device a minute (429 with Retry-After)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import bearer
from flask import Flask
from helpers import assert_error
from phones import Phone


@pytest.fixture
def limits(app: Flask) -> Iterator[dict[str, Any]]:
    saved = {
        k: app.config[k]
        for k in ("SYNC_MAX_PUSH_RECORDS", "SYNC_MAX_PUSH_BYTES", "SYNC_PUSHES_PER_MINUTE")
    }
    yield app.config
    app.config.update(saved)


def _deletions(n: int) -> dict[str, Any]:
    return {"patrol_logs": {"created": [], "updated": [], "deleted": [f"x{i}" for i in range(n)]}}


def _log(i: int, grid_id: int) -> dict[str, Any]:
    return {
        "id": f"limit-log-{i}",
        "grid_id": grid_id,
        "text": "路灯不亮",
        "lon": 119.4295,
        "lat": 32.3895,
        "crs": "wgs84",
        "photos": "[]",
        "logged_at": 1_700_000_000_000,
    }


def test_the_defaults_are_1000_records_and_10_mib() -> None:
    from server.config import load_config

    config = load_config({})
    assert config["SYNC_MAX_PUSH_RECORDS"] == 1000
    assert config["SYNC_MAX_PUSH_BYTES"] == 10 * 1024 * 1024
    assert config["MAX_CONTENT_LENGTH"] >= config["SYNC_MAX_PUSH_BYTES"]


def test_too_many_records_is_a_413_naming_the_limit(phone: Phone, limits: dict[str, Any]) -> None:
    phone.pull()
    limits["SYNC_MAX_PUSH_RECORDS"] = 5
    body = assert_error(phone.push(_deletions(6)), 413, "push_too_large")
    assert "5" in body["message"] and "分批" in body["message_zh"]
    assert body["details"] == {"limit": 5, "unit": "records"}
    assert phone.push(_deletions(5)).status_code == 200


def test_the_default_record_limit_refuses_60000_ids(phone: Phone) -> None:
    phone.pull()
    assert_error(phone.push(_deletions(60_000)), 413, "push_too_large")


def test_a_refused_push_applies_nothing(
    app: Flask, phone: Phone, limits: dict[str, Any], world: Any
) -> None:
    phone.pull()
    limits["SYNC_MAX_PUSH_RECORDS"] = 2
    grid = world.grid_ids["A1"]
    changes = {
        "patrol_logs": {"created": [_log(i, grid) for i in range(3)], "updated": [], "deleted": []}
    }
    assert_error(phone.push(changes), 413, "push_too_large")
    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        assert db.session.query(PatrolLog).count() == 0


def test_too_many_bytes_is_a_413_naming_the_limit(phone: Phone, limits: dict[str, Any]) -> None:
    phone.pull()
    limits["SYNC_MAX_PUSH_BYTES"] = 1000
    big = {"patrol_logs": {"created": [], "updated": [], "deleted": ["y" * 2000]}}
    body = assert_error(phone.push(big), 413, "push_too_large")
    assert "1,000 bytes" in body["message"] and "字节" in body["message_zh"]


def test_pushes_per_device_are_rate_limited(
    phone: Phone, make_phone: Any, limits: dict[str, Any]
) -> None:
    phone.pull()
    limits["SYNC_PUSHES_PER_MINUTE"] = 2
    assert phone.push({}).status_code == 200
    assert phone.push({}).status_code == 200
    limited = phone.push({})
    assert_error(limited, 429, "too_many_requests")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    other = make_phone("collector2")
    other.pull()
    assert other.push({}).status_code == 200  # another device is not affected


def test_the_limits_are_documented_in_the_openapi_document(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    responses = spec["paths"]["/api/v1/sync/push"]["post"]["responses"]
    assert "413" in responses and "429" in responses


def test_a_body_over_the_byte_limit_is_refused_before_reading(
    phone: Phone, limits: dict[str, Any]
) -> None:
    limits["SYNC_MAX_PUSH_BYTES"] = 100
    response = phone.client.post(
        "/api/v1/sync/push?last_pulled_at=null",
        data=json.dumps(_deletions(50)),
        headers={**bearer(phone.token), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "push_too_large")


@pytest.mark.slow
def test_a_push_at_the_record_limit_takes_seconds_not_minutes(
    app: Flask, phone: Phone, backend: str
) -> None:
    """1,000 new patrol logs (the default limit) in one push: measured, and bounded.

    Measured on the shared 2-core test machine (2026-12-03): 13 s on SpatiaLite, 26 s on
    PostGIS before the set-wise push; since, 0.7–1.8 s of write lock on SpatiaLite under a
    load average of ~20 (bench/sync_lock.py, docs/sync.md "Limits").
    """
    import time

    from server.extensions import db
    from server.models import PatrolLog

    phone.pull()
    now = int(time.time() * 1000)
    logs = [
        {
            "id": f"limit-{i:05d}",
            "patrol_id": None,
            "grid_id": None,
            "category_id": None,
            "text": "路灯不亮",
            "lon": 119.4325,
            "lat": 32.3925,
            "crs": "wgs84",
            "photos": "[]",
            "case_id": None,
            "logged_at": now - 60_000,
        }
        for i in range(app.config["SYNC_MAX_PUSH_RECORDS"])
    ]
    started = time.perf_counter()
    response = phone.push({"patrol_logs": {"created": logs, "updated": [], "deleted": []}})
    took = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    print(f"\n{backend}: a push of {len(logs)} patrol logs took {took:.2f} s")
    with app.app_context():
        assert db.session.query(PatrolLog).count() == len(logs)
    assert took < 60  # an unbounded push once held the lock for two minutes
