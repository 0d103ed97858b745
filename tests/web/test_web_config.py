"""Web settings from the environment (no database)."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_config

PRODUCTION = {"MINQING_ENV": "production", "SECRET_KEY": "s" * 40}


def test_session_cookie_is_secure_only_in_production() -> None:
    assert load_config(PRODUCTION)["SESSION_COOKIE_SECURE"] is True
    development = load_config({})
    assert development["SESSION_COOKIE_SECURE"] is False
    assert development["SESSION_COOKIE_HTTPONLY"] is True
    assert development["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_session_minutes_and_tile_url() -> None:
    config = load_config({"MINQING_WEB_SESSION_MINUTES": "30"})
    assert config["WEB_SESSION_MINUTES"] == 30
    assert config["MAP_TILE_URL"] is None
    with pytest.raises(ConfigError, match="MINQING_WEB_SESSION_MINUTES"):
        load_config({"MINQING_WEB_SESSION_MINUTES": "0"})
    tiles = "http://tiles.example/{z}/{x}/{y}.png"
    assert load_config({"MINQING_MAP_TILE_URL": tiles})["MAP_TILE_URL"] == tiles
