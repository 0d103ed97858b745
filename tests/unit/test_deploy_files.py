"""docker-compose.yml and the README stay true to the config module (no engine here)."""

from __future__ import annotations

import re

import yaml

from server.config import PROJECT_ROOT, VARIABLES


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services() -> None:
    services = compose()["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert "pgdata" in compose()["volumes"]
    assert "postgis" in services["db"]["image"]


def test_compose_sets_only_variables_the_app_reads() -> None:
    known = set(VARIABLES) | {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PYTHONPATH"}
    for name, service in compose()["services"].items():
        env = service.get("environment") or {}
        keys = env.keys() if isinstance(env, dict) else [e.split("=")[0] for e in env]
        unknown = set(keys) - known
        assert not unknown, f"{name}: {unknown}"
    web_env = compose()["services"]["web"]["environment"]
    assert web_env["MINQING_ENV"] == "production"
    assert "SECRET_KEY" in web_env and "DATABASE_URL" in web_env


def test_readme_documents_every_variable() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.M))
    assert set(VARIABLES) <= documented, set(VARIABLES) - documented
