"""Rotating SECRET_KEY ends every token signed with the old one (device tokens survive)."""

from __future__ import annotations

from conftest import World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error


def test_rotating_the_secret_key_voids_old_access_tokens(
    app: Flask, client: FlaskClient, world: World
) -> None:
    token = login(client, "dispatcher")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-brand-new-secret-key-of-enough-length-42"  # a restart with it
    try:
        assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")
        fresh = login(client, "dispatcher")
        assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 200
    finally:
        app.config["SECRET_KEY"] = old
