"""`/readyz`: whether this node can do its job now — the database answers, the broker
answers, a worker answers a ping, beat ticked lately — and what the operator must fix soon
(the holiday calendar). Any failed check answers 503, so a proxy or an orchestrator stops
sending traffic; warnings alone do not."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text

from server.broker import redis_for

Check = dict[str, Any]


def _database() -> Check:
    from server.extensions import db

    started = time.perf_counter()
    db.session.execute(text("SELECT 1"))
    return {"ok": True, "backend": db.engine.dialect.name, "ms": _ms(started)}


def _broker(client: Any) -> Check:
    started = time.perf_counter()
    client.ping()
    return {"ok": True, "ms": _ms(started)}


def _worker(celery: Any, timeout: float) -> Check:
    """A worker answers, and it consumes this deployment's queue (several deployments may
    share one Redis with a queue each)."""
    started = time.perf_counter()
    queue = celery.conf.task_default_queue or "celery"
    replies = celery.control.inspect(timeout=timeout).active_queues() or {}
    ours = [name for name, queues in replies.items() if any(q.get("name") == queue for q in queues)]
    if not ours:
        return {"ok": False, "error": f"no worker on queue {queue!r} answered within {timeout:g} s"}
    return {"ok": True, "workers": len(ours), "ms": _ms(started)}


def _beat(client: Any, tick_seconds: float) -> Check:
    from server.tasks.health import BEAT_TICK_KEY

    raw = client.get(BEAT_TICK_KEY)
    if raw is None:
        return {"ok": False, "error": "beat has not ticked yet (is `celery beat` running?)"}
    age = time.time() - float(raw)
    allowed = 3 * tick_seconds + 10
    if age > allowed:
        return {"ok": False, "age_s": round(age, 1), "error": f"last tick {age:.0f} s ago"}
    return {"ok": True, "age_s": round(age, 1)}


def _holidays() -> Check:
    from server.services.caseloop.case_deadlines import calendar, local_zone
    from server.services.territory import holidays

    warnings = holidays.warnings(calendar(), datetime.now(local_zone()).date())
    return {"ok": True, "warnings": warnings}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _run(check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def report(app: Flask | None = None) -> tuple[dict[str, Any], int]:
    """Every check's result, and 200 when all passed or 503 when one failed."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    checks: dict[str, Check] = {"database": _run(_database)}
    client = redis_for(app.config["CELERY"].get("broker_url"))
    if client is None:
        checks["tasks"] = {"ok": True, "mode": "in-process (no broker configured)"}
    else:
        celery = app.extensions["celery"]
        tick = float(app.config.get("BEAT_TICK_SECONDS", 30))
        checks["broker"] = _run(lambda: _broker(client))
        checks["worker"] = _run(lambda: _worker(celery, 1.0))
        checks["beat"] = _run(lambda: _beat(client, tick))
    checks["holidays"] = _run(_holidays)
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return body, 200 if ready else 503
