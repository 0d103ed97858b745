"""Logging in, tokens, /me, and the error format."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TEST_PASSWORD, World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error


def test_login_returns_a_bearer_token(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 28800
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["username"] == "dispatcher"
    assert me.get_json()["role"] == "dispatcher"
    assert me.get_json()["role_zh"] == "调度员"


@pytest.mark.parametrize(
    ("username", "password"),
    [("dispatcher", "wrong-password"), ("nobody", TEST_PASSWORD), ("DISPATCHER ", "nope")],
)
def test_wrong_credentials_are_401(
    client: FlaskClient, world: World, username: str, password: str
) -> None:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert_error(response, 401, "invalid_credentials")


def test_username_is_case_insensitive(client: FlaskClient, world: World) -> None:
    assert login(client, " Dispatcher ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "x"}, "username"),
        ({"username": "a"}, "password"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": 5, "password": "x"}, "username"),
    ],
)
def test_login_validation_names_the_field(
    client: FlaskClient,
    world: World,
    body: dict,  # type: ignore[type-arg]
    field: str,
) -> None:
    response = client.post("/api/v1/auth/token", json=body)
    assert_error(response, 422, "validation_error", field)


def test_malformed_json_is_a_clear_400(client: FlaskClient, world: World) -> None:
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["message_zh"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic abc", "Bearer mqd_x"])
def test_me_without_a_valid_token_is_401(
    client: FlaskClient, world: World, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] in ("unauthorized", "invalid_token")


def test_collector_me_lists_their_grids(client: FlaskClient, world: World) -> None:
    token = login(client, "collector")
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body["grid_ids"] == [world.grid_ids["A1"]]
    assert body["subdistrict"]["code"] == "321002901"


def test_staff_me_names_their_unit(client: FlaskClient, world: World) -> None:
    body = client.get("/api/v1/me", headers=bearer(login(client, "staff"))).get_json()
    assert body["unit"] == {"id": world.unit_id, "name": "城管中队"}


def test_token_dies_with_password_change_and_deactivation(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.extensions import db
    from server.models import User

    token = login(client, "dispatcher")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with app.app_context():
        user = db.session.get(User, world.user_ids["dispatcher"])
        assert user is not None
        user.token_version += 1
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    token = login(client, "dispatcher")
    with app.app_context():
        user = db.session.get(User, world.user_ids["dispatcher"])
        assert user is not None
        user.active = False
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    response = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": TEST_PASSWORD}
    )
    assert_error(response, 401, "account_disabled")


def test_expired_token_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    token = login(client, "dispatcher")
    app.config["ACCESS_TOKEN_TTL"] = -1
    try:
        response = client.get("/api/v1/me", headers=bearer(token))
    finally:
        app.config["ACCESS_TOKEN_TTL"] = 28800
    assert_error(response, 401, "token_expired")


def test_unknown_route_is_json_404(client: FlaskClient, world: World) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405(client: FlaskClient, world: World) -> None:
    assert_error(client.delete("/api/v1/me"), 405, "method_not_allowed")


def test_oversized_body_is_413(app: Flask, client: FlaskClient, world: World) -> None:
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post("/api/v1/auth/token", data=big, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("field", ["username", "password"])
def test_nul_characters_are_refused_by_name(client: FlaskClient, world: World, field: str) -> None:
    body = {"username": "dispatcher", "password": TEST_PASSWORD, field: "a\x00b"}
    response = client.post("/api/v1/auth/token", json=body)
    assert_error(response, 422, "validation_error", field)


def test_repeated_failures_throttle_that_name_from_that_address(
    app: Flask, client: FlaskClient, world: World
) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    wrong = {"username": "dispatcher", "password": "wrong-password"}
    for _ in range(limit):
        assert_error(client.post("/api/v1/auth/token", json=wrong), 401, "invalid_credentials")
    right = {"username": "dispatcher", "password": TEST_PASSWORD}
    throttled = client.post("/api/v1/auth/token", json=right)
    assert_error(throttled, 429, "too_many_attempts")
    assert 0 < int(throttled.headers["Retry-After"]) <= app.config["LOGIN_LOCK_MINUTES"] * 60
    # another account from here, and this account from elsewhere, are not affected
    assert login(client, "collector")
    elsewhere = client.post(
        "/api/v1/auth/token", json=right, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert elsewhere.status_code == 200
    from sqlalchemy import update

    from server.extensions import db
    from server.models.base import utcnow
    from server.models.ratelimit import RateLimitWindow

    with app.app_context():
        past = utcnow() - timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"] + 1)
        db.session.execute(update(RateLimitWindow).values(window_start=past))  # time passes
        db.session.commit()
    assert login(client, "dispatcher")


def test_a_success_resets_the_failure_count(app: Flask, client: FlaskClient, world: World) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    wrong = {"username": "dispatcher", "password": "wrong-password"}
    for _ in range(limit - 1):
        client.post("/api/v1/auth/token", json=wrong)
    assert login(client, "dispatcher")
    for _ in range(limit - 1):
        client.post("/api/v1/auth/token", json=wrong)
    assert login(client, "dispatcher")


def test_guessing_across_usernames_from_one_address_is_stopped(
    app: Flask, client: FlaskClient, world: World
) -> None:
    app.config["LOGIN_FAILURES_PER_ADDRESS"] = 3
    try:
        for name in ("nobody1", "nobody2", "dispatcher"):
            response = client.post(
                "/api/v1/auth/token",
                json={"username": name, "password": "guess"},
                environ_base={"REMOTE_ADDR": "10.9.9.9"},
            )
            assert_error(response, 401, "invalid_credentials")
        blocked = client.post(
            "/api/v1/auth/token",
            json={"username": "collector", "password": TEST_PASSWORD},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        assert_error(blocked, 429, "too_many_requests")
        assert int(blocked.headers["Retry-After"]) > 0
        other = client.post(
            "/api/v1/auth/token",
            json={"username": "collector", "password": TEST_PASSWORD},
            environ_base={"REMOTE_ADDR": "10.9.9.8"},
        )
        assert other.status_code == 200
    finally:
        app.config["LOGIN_FAILURES_PER_ADDRESS"] = 30


def test_behind_a_proxy_the_forwarded_address_counts(app: Flask, world: World) -> None:
    from conftest import make_app

    proxied = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        Path(app.config["INSTANCE_PATH"]),
        PROXY_HOPS=1,
        LOGIN_FAILURES_PER_ADDRESS=1,
    )
    client = proxied.test_client()
    wrong = {"username": "dispatcher", "password": "guess"}
    hop = {"X-Forwarded-For": "203.0.113.7"}
    assert_error(
        client.post("/api/v1/auth/token", json=wrong, headers=hop), 401, "invalid_credentials"
    )
    assert_error(
        client.post("/api/v1/auth/token", json=wrong, headers=hop), 429, "too_many_requests"
    )
    other = {"X-Forwarded-For": "203.0.113.8"}
    assert_error(
        client.post("/api/v1/auth/token", json=wrong, headers=other), 401, "invalid_credentials"
    )
