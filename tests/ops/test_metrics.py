"""`/metrics` scraped as Prometheus would: the series the issue names, moving as the service
works; who may scrape; request ids in answers and logs."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from conftest import World, bearer
from factories import LAT0, LON0, STEP
from flask import Flask
from flask.testing import FlaskClient
from helpers import new_case, report
from phones import Phone
from prometheus_client.parser import text_string_to_metric_families

from server.logs import JsonFormatter, new_request_id


def scrape(
    client: FlaskClient, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.content_type.startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def names(samples: dict[Any, float]) -> set[str]:
    return {name for name, _ in samples}


def test_the_series_move_as_the_service_works(
    client: FlaskClient, world: World, tokens: dict[str, str], phone: Phone
) -> None:
    before = scrape(client)
    new_case(client, tokens)
    refused = report(client, tokens["collector"], category="no-such-category")
    assert refused.status_code in (400, 422)
    phone.pull()

    def log(record_id: str, lon: float, lat: float) -> dict[str, Any]:
        return {
            "id": record_id,
            "grid_id": str(world.grid_ids["A1"]),
            "text": "巡查记录",
            "lon": lon,
            "lat": lat,
            "crs": "wgs84",
            "photos": "[]",
            "logged_at": 1_700_000_000_000,
            "patrol_id": None,
            "category_id": None,
            "case_id": None,
        }

    inside = log("metrics-log-inside", LON0 + 0.3 * STEP, LAT0 + 0.6 * STEP)
    outside = log("metrics-log-outside", 119.0, 10.0)  # far outside every grid: refused
    pushed = phone.push(
        {"patrol_logs": {"created": [inside, outside], "updated": [], "deleted": []}}
    )
    assert pushed.status_code == 200, pushed.get_data(as_text=True)
    after = scrape(client)

    requests = "minqing_http_requests_total"
    cases = {"endpoint": "/api/v1/cases", "method": "POST"}
    assert (
        value(after, requests, **cases, status="201")
        == value(before, requests, **cases, status="201") + 1
    )
    assert value(after, "minqing_case_transitions_total", action="report") >= (
        value(before, "minqing_case_transitions_total", action="report") + 1
    )
    assert sum(v for (n, _), v in after.items() if n == "minqing_refusals_total") > sum(
        v for (n, _), v in before.items() if n == "minqing_refusals_total"
    )
    assert value(after, "minqing_sync_pulls_total") == value(before, "minqing_sync_pulls_total") + 1
    assert value(after, "minqing_sync_pushes_total", outcome="applied") == (
        value(before, "minqing_sync_pushes_total", outcome="applied") + 1
    )
    assert value(after, "minqing_sync_push_records_total", table="patrol_logs", kind="created") >= (
        value(before, "minqing_sync_push_records_total", table="patrol_logs", kind="created") + 1
    )
    body = json.loads(pushed.get_data(as_text=True))
    assert body["experimentalRejectedIds"] == {"patrol_logs": ["metrics-log-outside"]}
    assert value(after, "minqing_sync_refused_records_total", table="patrol_logs") == (
        value(before, "minqing_sync_refused_records_total", table="patrol_logs") + 1
    )
    latency = "minqing_http_request_duration_seconds_count"
    assert value(after, latency, **cases) >= value(before, latency, **cases) + 1
    assert {"minqing_cases_open", "minqing_cases_overdue", "minqing_webhook_deliveries"} <= names(
        after
    )
    assert value(after, "minqing_cases_open") >= 1
    assert value(after, "minqing_webhook_deliveries", status="pending") >= 0


def test_overdue_counts_open_cases_past_their_deadline(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from server.extensions import db
    from server.models import Case

    base = value(scrape(client), "minqing_cases_overdue")
    case = new_case(client, tokens)
    with app.app_context():
        row = db.session.get(Case, case["id"])
        assert row is not None
        row.deadline_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    assert value(scrape(client), "minqing_cases_overdue") == base + 1


def test_worker_outcomes_and_queue_length_come_from_the_broker(
    app: Flask, client: FlaskClient, worker: Any
) -> None:
    from conftest import wait_for

    ping = app.extensions["celery"].send_task("minqing.health.ping", queue=worker.queue)
    ping.get(timeout=90)

    def counted() -> float:
        return value(
            scrape(client),
            "minqing_celery_tasks_total",
            task="minqing.health.ping",
            outcome="success",
        )

    assert wait_for(counted, timeout=15) >= 1
    samples = scrape(client)
    assert ("minqing_celery_queue_length", (("queue", worker.queue),)) in samples


def test_only_a_scraper_may_read_them(app: Flask, client: FlaskClient) -> None:
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404
    app.config["METRICS_TOKEN"] = "scrape-token-0123456789"
    try:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers=bearer("wrong")).status_code == 404
        ok = client.get(
            "/metrics",
            headers=bearer("scrape-token-0123456789"),
            environ_base={"REMOTE_ADDR": "192.0.2.7"},
        )
        assert ok.status_code == 200
    finally:
        app.config["METRICS_TOKEN"] = None


def test_no_personal_data_in_the_series(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["dispatcher"]))
    text = client.get("/metrics").get_data(as_text=True)
    assert case["id"] not in text and case["number"] not in text  # route patterns, not URLs
    assert "垃圾桶满溢" not in text
    assert '"collector"' not in text and "测试" not in text  # no usernames or names as labels


def test_every_answer_carries_a_request_id_and_keeps_a_sane_one(client: FlaskClient) -> None:
    made = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    kept = client.get("/healthz", headers={"X-Request-ID": "proxy-abc-12345"})
    assert kept.headers["X-Request-ID"] == "proxy-abc-12345"
    evil = client.get("/healthz", headers={"X-Request-ID": 'x", "level": "ERROR'})
    assert re.fullmatch(r"[0-9a-f]{32}", evil.headers["X-Request-ID"])
    assert new_request_id("short") != "short"


def test_a_log_line_is_one_json_object_with_the_request_id(
    client: FlaskClient, caplog: Any, tokens: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO, logger="minqing.request"):
        client.get(
            "/api/v1/me", headers={**bearer(tokens["dispatcher"]), "X-Request-ID": "req-000000042"}
        )
    records = [r for r in caplog.records if r.name == "minqing.request"]
    assert records
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["request_id"] == "req-000000042"
    assert entry["path"] == "/api/v1/me" and entry["status"] == 200
    assert isinstance(entry["user_id"], int)
    assert "dispatcher" not in line  # ids, never names
