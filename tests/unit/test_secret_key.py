"""Secrets: every install has its own key, production needs a strong one, weak keys on a
public bind are announced, and rotating the key ends every signed token."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.config import (
    DEFAULT_SECRET_KEY,
    ConfigError,
    bind_warning,
    instance_secret,
    load_config,
)


def test_instance_secret_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    first = instance_secret(tmp_path / "inst")
    path = tmp_path / "inst" / "secret_key"
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert instance_secret(tmp_path / "inst") == first  # kept, not regenerated
    assert instance_secret(tmp_path / "other") != first  # every install its own


def test_a_damaged_short_secret_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    key = instance_secret(tmp_path)
    assert len(key) >= 32 and key != "short"


def test_app_without_secret_key_uses_the_instance_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.app import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MINQING_INSTANCE_PATH", str(tmp_path))
    app = create_app({"MINQING_ENV": "testing"})
    assert app.config["SECRET_KEY"] != DEFAULT_SECRET_KEY
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert app.config["SECRET_KEY_SOURCE"] == "generated"
    again = create_app({"MINQING_ENV": "testing"})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "short", "y" * 31])
def test_production_still_refuses_a_missing_or_weak_key(secret: str | None) -> None:
    env = {"MINQING_ENV": "production"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(env)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_binds_need_no_warning(host: str) -> None:
    assert bind_warning(host, "generated", "x" * 40) is None
    assert bind_warning(host, "environment", "weak") is None


@pytest.mark.parametrize(
    ("source", "secret"),
    [("generated", "g" * 64), ("environment", DEFAULT_SECRET_KEY), ("environment", "short")],
)
def test_public_binds_with_a_generated_or_weak_key_warn(source: str, secret: str) -> None:
    warning = bind_warning("0.0.0.0", source, secret)
    assert warning is not None
    assert "SECRET_KEY" in warning and "警告" in warning


def test_public_bind_with_a_strong_explicit_key_is_quiet() -> None:
    assert bind_warning("0.0.0.0", "environment", "s" * 40) is None


def _run_cli(host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list]:
    """`minqing run --host H` with the server start replaced by a recorder (nothing binds)."""
    import flask.cli

    from server.command import cli

    started: list = []
    monkeypatch.setattr(flask.cli, "run_simple", lambda *a, **k: started.append((a, k)))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MINQING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("MINQING_ENV", "testing")
    result = CliRunner().invoke(cli, ["run", "--host", host, "--port", "5999"])
    return result, started


def test_minqing_run_on_a_public_address_prints_the_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, started = _run_cli("0.0.0.0", tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "WARNING: serving on 0.0.0.0" in result.output
    assert started and started[0][0][:2] == ("0.0.0.0", 5999)


def test_minqing_run_on_loopback_is_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, started = _run_cli("127.0.0.1", tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output
    assert started
