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


def test_compose_puts_web_replicas_behind_the_proxy() -> None:
    services = compose()["services"]
    assert "proxy" in services and "nginx" in services["proxy"]["image"]
    assert "ports" not in services["web"], "only the proxy is published"
    assert "replicas" in services["web"]["deploy"]
    assert services["web"]["environment"]["MINQING_PROXY_HOPS"] == "1"
    assert "healthcheck" in services["worker"]
    nginx = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://minqing" in nginx and "server web:8000" in nginx


def test_the_dockerfile_passes_hadolint() -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(PROJECT_ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gunicorn_conf" in (PROJECT_ROOT / "Dockerfile").read_text()


def test_the_dashboard_plots_only_series_the_app_exports() -> None:
    import json

    from prometheus_client import REGISTRY

    import server.metrics as metrics

    exported = {
        "minqing_cases_open",
        "minqing_cases_overdue",
        "minqing_webhook_deliveries",
        "minqing_celery_queue_length",
        "minqing_celery_tasks_total",
    }
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else []:
            for sample_suffix in ("", "_total", "_bucket", "_count", "_sum"):
                exported.add(family.name + sample_suffix)
    assert metrics.HTTP_REQUESTS  # imported: its series are registered
    dashboard = json.loads((PROJECT_ROOT / "deploy" / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"minqing_[a-z_]+", target["expr"])
    }
    assert used and used <= exported, used - exported
