"""POST /devices/enrol: a collector pairs their phone by signing in (the field app's way)."""

from __future__ import annotations

from typing import Any

from conftest import TEST_PASSWORD, World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error

ENROL = "/api/v1/devices/enrol"


def _device_count(app: Flask) -> int:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Device

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Device)) or 0)


def test_a_collector_enrols_and_the_token_syncs(client: FlaskClient, world: World) -> None:
    answer = client.post(
        ENROL,
        json={"username": "collector", "password": TEST_PASSWORD, "name": "采集应用 · Android"},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    token = body["token"]
    assert token.startswith("mqd_") and body["device"]["name"] == "采集应用 · Android"
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["device_id"] == body["device"]["id"] and me["username"] == "collector"
    pulled = client.get("/api/v1/sync/pull", headers=bearer(token))
    assert pulled.status_code == 200
    assert [g["id"] for g in pulled.get_json()["changes"]["grids"]["created"]] == [
        str(world.grid_ids["A1"])
    ]
    # the admin sees it among the collector's devices
    admin = bearer(login(client, "admin"))
    listed = client.get("/api/v1/devices?collector=collector", headers=admin).get_json()
    assert [d["id"] for d in listed] == [body["device"]["id"]]


def test_only_collectors_enrol(app: Flask, client: FlaskClient, world: World) -> None:
    before = _device_count(app)
    for user in ("dispatcher", "admin", "staff"):
        response = client.post(ENROL, json={"username": user, "password": TEST_PASSWORD})
        assert_error(response, 403, "not_a_collector", "username")
    assert _device_count(app) == before


def test_wrong_password_counts_and_locks_like_sign_in(
    app: Flask, client: FlaskClient, world: World
) -> None:
    before = _device_count(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        wrong = client.post(ENROL, json={"username": "collector", "password": "nope"})
        assert_error(wrong, 401, "invalid_credentials")
    locked = client.post(ENROL, json={"username": "collector", "password": TEST_PASSWORD})
    assert_error(locked, 429, "too_many_attempts")
    # the same throttle holds for the ordinary sign-in
    signed_in = client.post(
        "/api/v1/auth/token", json={"username": "collector", "password": TEST_PASSWORD}
    )
    assert_error(signed_in, 429, "too_many_attempts")
    assert _device_count(app) == before
    # per (name, address), never per account: the collector's phone elsewhere still pairs
    elsewhere = client.post(
        ENROL,
        json={"username": "collector", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "127.0.0.9"},
    )
    assert elsewhere.status_code == 201, elsewhere.get_json()
    assert _device_count(app) == before + 1


def test_a_limit_of_active_devices(app: Flask, client: FlaskClient, world: World) -> None:
    limit = app.config["DEVICES_PER_COLLECTOR"]
    ids = []
    for _ in range(limit):
        answer = client.post(ENROL, json={"username": "collector2", "password": TEST_PASSWORD})
        assert answer.status_code == 201
        ids.append(answer.get_json()["device"]["id"])
    over = client.post(ENROL, json={"username": "collector2", "password": TEST_PASSWORD})
    assert_error(over, 409, "device_limit")
    assert _device_count(app) == limit
    admin = bearer(login(client, "admin"))
    assert client.post(f"/api/v1/devices/{ids[0]}/revoke", headers=admin).status_code == 200
    again = client.post(ENROL, json={"username": "collector2", "password": TEST_PASSWORD})
    assert again.status_code == 201


def test_enrolment_can_be_switched_off(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["DEVICE_ENROLMENT"] = False
    try:
        response = client.post(ENROL, json={"username": "collector", "password": TEST_PASSWORD})
        assert_error(response, 403, "forbidden")
    finally:
        app.config["DEVICE_ENROLMENT"] = True
    assert _device_count(app) == 0


def test_bad_bodies_are_422(client: FlaskClient, world: World) -> None:
    assert_error(
        client.post(ENROL, json={"username": "collector"}), 422, "validation_error", "password"
    )
    assert_error(
        client.post(ENROL, json={"username": "c", "password": "x", "extra": 1}),
        422,
        "validation_error",
    )
