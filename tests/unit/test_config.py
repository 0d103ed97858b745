"""Configuration: one reader of the environment, safe defaults, production refuses a weak secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import (
    DEFAULT_SECRET_KEY,
    ConfigError,
    load_config,
    normalise_database_url,
)
from server.config import (
    PROJECT_ROOT as ROOT,
)


def test_defaults_are_the_embedded_setup() -> None:
    config = load_config({})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith(
        "instance/minqing.db?geoalchemy2_connect_sqlite_init_mode=WGS84"
    )
    assert config["MINQING_TIMEZONE"] == "Asia/Shanghai"
    assert config["CELERY"]["task_always_eager"] is True
    # no shared development key: create_app() generates this install's own
    assert config["SECRET_KEY"] is None
    assert config["SECRET_KEY_SOURCE"] == "generated"


def test_broker_turns_off_eager_tasks() -> None:
    config = load_config({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"})
    assert config["CELERY"]["task_always_eager"] is False
    assert config["CELERY"]["broker_url"] == "redis://127.0.0.1:6379/0"
    assert config["CELERY"]["result_backend"] == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_default_or_weak_secret(secret: str | None) -> None:
    env = {"MINQING_ENV": "production"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(env)


def test_production_accepts_a_real_secret() -> None:
    config = load_config({"MINQING_ENV": "production", "SECRET_KEY": "x" * 40})
    assert config["MINQING_ENV"] == "production"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="MINQING_ENV"):
        load_config({"MINQING_ENV": "staging"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("spatialite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_spellings(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_importing_the_packages_has_no_side_effects(tmp_path: Path) -> None:
    """Importing builds no app and touches no disk: the instance folder stays absent."""
    instance = tmp_path / "instance"
    code = (
        "import server, server.app, server.api, server.models, server.services.territory.org, "
        "server.cli, server.command, server.tasks.health; import flask; "
        "assert flask.current_app.__class__.__name__ == 'LocalProxy'"
    )
    env = {**os.environ, "MINQING_INSTANCE_PATH": str(instance)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    assert not instance.exists()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MINQING_TIMEZONE": "Mars/Olympus"}, "MINQING_TIMEZONE"),
        ({"MINQING_ACCESS_TOKEN_TTL": "soon"}, "MINQING_ACCESS_TOKEN_TTL"),
        ({"MINQING_ACCESS_TOKEN_TTL": "5"}, "MINQING_ACCESS_TOKEN_TTL"),
        ({"MINQING_MAX_UPLOAD_MB": "0"}, "MINQING_MAX_UPLOAD_MB"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(env)
