"""Prometheus metrics at `/metrics`: what the service does (requests, sync, case transitions,
refusals) counted where it happens, and what it holds (overdue cases, webhook deliveries,
Celery queues and task outcomes) read at scrape time.

Under gunicorn with several workers the counters of every worker are merged through
`PROMETHEUS_MULTIPROC_DIR` (set by server/gunicorn_conf.py before anything imports
prometheus_client). Celery task outcomes are counted by the worker into a Redis hash on the
broker, so one scrape of any web node sees every worker's outcomes.

Access: with `MINQING_METRICS_TOKEN` set, a scraper sends `Authorization: Bearer <token>`;
without it, only a direct loopback client (no proxy in between) is answered. Anyone else gets
404, as if there were nothing here. No metric carries personal data or a case id.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from server.broker import redis_for

log = logging.getLogger(__name__)

TASK_OUTCOMES_KEY = "minqing:metrics:celery_tasks"  # hash "<task>|<outcome>" → count

HTTP_REQUESTS = Counter(
    "minqing_http_requests",
    "HTTP requests answered, by route pattern, method and status code",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "minqing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REFUSALS = Counter(
    "minqing_refusals",
    "Requests refused with a domain error (4xx), by error code",
    ["code"],
)
SYNC_PUSHES = Counter("minqing_sync_pushes", "Sync pushes, by outcome", ["outcome"])
SYNC_PUSH_RECORDS = Counter(
    "minqing_sync_push_records",
    "Pushed records applied, by table and change kind (created/updated/deleted)",
    ["table", "kind"],
)
SYNC_REFUSED_RECORDS = Counter(
    "minqing_sync_refused_records",
    "Pushed records the server refused (experimentalRejectedIds), by table",
    ["table"],
)
SYNC_PULLS = Counter("minqing_sync_pulls", "Sync pulls answered")
SYNC_PULL_RECORDS = Counter(
    "minqing_sync_pull_records",
    "Records sent in sync pulls, by table (created and updated; deletions count as ids)",
    ["table"],
)
CASE_TRANSITIONS = Counter(
    "minqing_case_transitions",
    "Case events committed, by action (report, accept, dispatch, …)",
    ["action"],
)
LOCAL_TASK_OUTCOMES = Counter(
    "minqing_celery_tasks_inprocess",
    "Tasks run in-process (no broker: the embedded default), by task and outcome",
    ["task", "outcome"],
)


def count_push(
    counts: dict[str, dict[str, int]], rejected: dict[str, list[str]], replayed: bool
) -> None:
    """One answered push: its outcome, its records per table and kind, the refused ones."""
    SYNC_PUSHES.labels("replayed" if replayed else "applied").inc()
    if replayed:
        return
    for table, kinds in counts.items():
        for kind, count in kinds.items():
            SYNC_PUSH_RECORDS.labels(table, kind).inc(count)
    for table, ids in rejected.items():
        SYNC_REFUSED_RECORDS.labels(table).inc(len(ids))


def count_pull(counts: dict[str, dict[str, int]]) -> None:
    """One answered pull and the records it sends per table."""
    SYNC_PULLS.inc()
    for table, kinds in counts.items():
        SYNC_PULL_RECORDS.labels(table).inc(sum(kinds.values()))


def count_refusal(code: str) -> None:
    REFUSALS.labels(code).inc()


def _endpoint() -> str:
    return request.url_rule.rule if request.url_rule else "(no route)"


def install(app: Flask) -> None:
    """Count and time every request; serve `/metrics`."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None and request.url_rule is not None and _endpoint() != "/metrics":
            endpoint = _endpoint()
            HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if not _may_scrape():
            abort(404)
        registry = _scrape_registry()
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        offered = request.headers.get("Authorization", "")
        return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
    if request.headers.get("X-Forwarded-For"):
        return False  # came through a proxy: not a local scraper
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or (
        request.remote_addr or ""
    )
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


_state_collector_registered = False


def _scrape_registry() -> CollectorRegistry:
    global _state_collector_registered
    state = StateCollector(current_app._get_current_object())  # type: ignore[attr-defined]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(state)
        return registry
    if not _state_collector_registered:
        REGISTRY.register(_LazyState())
        _state_collector_registered = True
    return REGISTRY


class _LazyState(Collector):
    """The state collector of the current app, for the single-process default registry."""

    def collect(self) -> Iterator[Any]:
        try:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        except RuntimeError:  # scraped outside a request (never by us)
            return iter(())
        return StateCollector(app).collect()


class StateCollector(Collector):
    """What the service holds, read at scrape time (a few indexed counts)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        yield from self._cases()
        yield from self._webhooks()
        yield from self._celery()

    def _cases(self) -> Iterator[Any]:
        from server.domain.cases import FINAL
        from server.extensions import db
        from server.models import Case

        final = [status.value for status in FINAL]
        now = _utcnow()
        open_cases = db.session.scalar(select(func.count(Case.id)).where(Case.status.not_in(final)))
        overdue_now = db.session.scalar(
            select(func.count(Case.id)).where(
                Case.status.not_in(final),
                Case.handled_at.is_(None),
                Case.deadline_at.is_not(None),
                Case.deadline_at < now,
            )
        )
        gauge = GaugeMetricFamily("minqing_cases_open", "Cases not closed, rejected or merged")
        gauge.add_metric([], float(open_cases or 0))
        yield gauge
        gauge = GaugeMetricFamily(
            "minqing_cases_overdue", "Open cases past their deadline and not yet handled"
        )
        gauge.add_metric([], float(overdue_now or 0))
        yield gauge

    def _webhooks(self) -> Iterator[Any]:
        from server.extensions import db
        from server.models import WebhookDelivery

        rows = db.session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        ).all()
        gauge = GaugeMetricFamily(
            "minqing_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
        )
        counts = {"pending": 0, "delivered": 0, "failed": 0} | {s: n for s, n in rows}
        for status, count in sorted(counts.items()):
            gauge.add_metric([status], float(count))
        yield gauge

    def _celery(self) -> Iterator[Any]:
        client = broker_client(self.app)
        if client is None:
            return
        try:
            queues = GaugeMetricFamily(
                "minqing_celery_queue_length",
                "Messages waiting in a Celery queue",
                labels=["queue"],
            )
            for queue in celery_queues(self.app):
                queues.add_metric([queue], float(client.llen(queue)))
            yield queues
            outcomes = CounterMetricFamily(
                "minqing_celery_tasks",
                "Celery tasks finished by any worker, by task and outcome",
                labels=["task", "outcome"],
            )
            for field, value in sorted(client.hgetall(TASK_OUTCOMES_KEY).items()):
                task, _, outcome = field.decode().rpartition("|")
                outcomes.add_metric([task, outcome], float(value))
            yield outcomes
        except Exception as exc:
            log.warning("metrics: broker unreachable: %s", exc)
            up = GaugeMetricFamily("minqing_broker_up", "Whether the broker answered the scrape")
            up.add_metric([], 0.0)
            yield up


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def broker_client(app: Flask) -> Any:
    """A Redis client on the Celery broker, or None without one (the embedded default)."""
    return redis_for(app.config.get("CELERY", {}).get("broker_url"))


def celery_queues(app: Flask) -> list[str]:
    celery = app.extensions["celery"]
    queues = {celery.conf.task_default_queue or "celery"}
    queues.update(q.name for q in (celery.conf.task_queues or ()))
    return sorted(queues)


_celery_installed = False


def install_celery() -> None:
    """Count each task's outcome: in the broker's Redis (shared by every worker and web node)
    or, without a broker, in this process. Connected once per process."""
    global _celery_installed
    if _celery_installed:
        return
    _celery_installed = True
    from celery import signals

    def record(sender: Any, outcome: str) -> None:
        name = getattr(sender, "name", None) or "?"
        app = getattr(sender, "app", None)
        client = redis_for(app.conf.broker_url if app is not None else None)
        if client is None:
            LOCAL_TASK_OUTCOMES.labels(name, outcome).inc()
            return
        try:
            client.hincrby(TASK_OUTCOMES_KEY, f"{name}|{outcome}", 1)
        except Exception as exc:
            log.warning("metrics: could not count %s %s: %s", name, outcome, exc)

    @signals.task_success.connect(weak=False)
    def _success(sender: Any = None, **_kwargs: Any) -> None:
        record(sender, "success")

    @signals.task_failure.connect(weak=False)
    def _failure(sender: Any = None, **_kwargs: Any) -> None:
        record(sender, "failure")

    @signals.task_retry.connect(weak=False)
    def _retry(sender: Any = None, **_kwargs: Any) -> None:
        record(sender, "retry")


_session_installed = False


def install_session(session_class: Any) -> None:
    """Count case events when the transaction that wrote them commits (not on rollback).
    Events written in a savepoint that is later rolled back while the outer transaction
    commits are still counted (rare: a refused record of a sync push)."""
    global _session_installed
    if _session_installed:
        return
    _session_installed = True
    from sqlalchemy import event

    from server.models import CaseEvent

    @event.listens_for(session_class, "after_flush")
    def _collect(session: Any, _ctx: Any) -> None:
        actions = [obj.action for obj in session.new if isinstance(obj, CaseEvent)]
        if actions:
            session.info.setdefault("minqing_case_actions", []).extend(actions)

    @event.listens_for(session_class, "after_commit")
    def _count(session: Any) -> None:
        for action in session.info.pop("minqing_case_actions", []):
            CASE_TRANSITIONS.labels(action).inc()

    @event.listens_for(session_class, "after_rollback")
    def _forget(session: Any) -> None:
        session.info.pop("minqing_case_actions", None)
