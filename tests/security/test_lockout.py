"""The login throttle cannot tell accounts apart and cannot lock a real user out from
elsewhere: per (name, address) and per address, the same answers for every name."""

from __future__ import annotations

from typing import Any

from conftest import TEST_PASSWORD, World
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error


def _attempt(client: FlaskClient, username: str, password: str, address: str) -> Any:
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _answer(response: Any) -> tuple[int, str, str, str | None]:
    body = response.get_json()
    return (
        response.status_code,
        body["code"],
        body["message_zh"],
        response.headers.get("Retry-After") and "retry",
    )


def test_unknown_and_real_names_get_the_same_answers(
    app: Flask, client: FlaskClient, world: World
) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    real = [_answer(_attempt(client, "dispatcher", "guess", "10.0.0.1")) for _ in range(limit + 2)]
    ghost = [
        _answer(_attempt(client, "no-such-user", "guess", "10.0.0.2")) for _ in range(limit + 2)
    ]
    assert real == ghost
    assert real[0][:2] == (401, "invalid_credentials")
    assert real[-1][:2] == (429, "too_many_attempts")


def test_an_attacker_cannot_lock_the_real_user_out(
    app: Flask, client: FlaskClient, world: World
) -> None:
    for _ in range(app.config["LOGIN_MAX_FAILURES"] * 3):
        _attempt(client, "dispatcher", "guess", "198.51.100.9")
    # the attacker's own address is throttled, even with the right password
    throttled = _attempt(client, "dispatcher", TEST_PASSWORD, "198.51.100.9")
    assert_error(throttled, 429, "too_many_attempts")
    assert int(throttled.headers["Retry-After"]) > 0
    # the dispatcher at their own desk signs in as usual
    assert _attempt(client, "dispatcher", TEST_PASSWORD, "10.20.30.40").status_code == 200


def test_the_throttle_is_answered_without_checking_the_password(
    app: Flask, client: FlaskClient, world: World
) -> None:
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(client, "dispatcher", "guess", "10.0.0.3")
    wrong = _answer(_attempt(client, "dispatcher", "still-wrong", "10.0.0.3"))
    right = _answer(_attempt(client, "dispatcher", TEST_PASSWORD, "10.0.0.3"))
    assert wrong == right  # no oracle for the password while throttled
