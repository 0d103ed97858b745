"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore
from celery.schedules import crontab
from flask import Flask

log = logging.getLogger(__name__)

# Every module that defines tasks; imported when the app is built, so that tasks are
# registered both in the web process (to enqueue them) and in the worker.
TASK_MODULES = [
    "server.tasks.deliberation",
    "server.tasks.audit",
    "server.tasks.health",
    "server.tasks.patrols",
    "server.tasks.sms",
    "server.tasks.sweeps",
    "server.tasks.thumbnails",
    "server.tasks.webhooks",
]


def beat_schedule(index_time: str, tick_seconds: float = 30.0) -> dict[str, dict[str, Any]]:
    """What beat runs when (docker-compose starts `celery beat`); times in local time."""
    hour, minute = (int(part) for part in index_time.split(":"))
    schedule: dict[str, dict[str, Any]] = {
        "beat-heartbeat": {"task": "minqing.health.beat_tick", "schedule": float(tick_seconds)},
        "overdue-every-minute": {"task": "minqing.cases.sweep_overdue", "schedule": 60.0},
        "rating-timeouts-hourly": {
            "task": "minqing.cases.sweep_rating_timeouts",
            "schedule": 3600.0,
        },
        "deliberation-every-10-minutes": {
            "task": "minqing.deliberation.sweep",
            "schedule": 600.0,
        },
        "patrol-slots-every-5-minutes": {
            "task": "minqing.patrols.judge_slots",
            "schedule": 300.0,
        },
        "webhooks-requeue-every-10-minutes": {
            "task": "minqing.webhooks.requeue_stalled",
            "schedule": 600.0,
        },
        "audit-roots-hourly": {  # seals each finished UTC day once; idempotent
            "task": "minqing.audit.seal_days",
            "schedule": 3600.0,
        },
        "retention-daily": {  # PIPL: residents' data, photos of people, old sync logs
            "task": "minqing.retention.apply",
            "schedule": crontab(hour=3, minute=30),
        },
        "index-daily": {
            "task": "minqing.index.compute_day",
            "schedule": crontab(hour=hour, minute=minute),
        },
    }
    for entry in schedule.values():
        every = entry["schedule"]
        slot = int(every) if isinstance(every, float | int) else DAILY_SLOT_SECONDS
        entry["options"] = {"headers": {PERIODIC_HEADER: slot}}
    return schedule


DAILY_SLOT_SECONDS = 3600  # two beats sending a daily task within one hour: it runs once
PERIODIC_HEADER = "minqing_periodic"
SLOT_HEADER = "minqing_slot"


def once_per_slot(name: str, headers: Any, broker_url: str | None) -> bool:
    """Whether this beat-sent run of task `name` is the first of its slot. Several beats
    (one per node, or two during a rolling deploy) each send every periodic task; the slot
    — the schedule's period counted from the epoch when beat sent it — is claimed in the
    broker's Redis, so each task runs once per slot however many beats there are. Runs that
    beat did not send, and every run without a Redis broker, always go ahead."""
    slot = headers.get(SLOT_HEADER) if isinstance(headers, dict) else None
    if slot is None:
        return True
    from server.broker import redis_for

    client = redis_for(broker_url)
    if client is None:
        return True
    period = int(headers.get(PERIODIC_HEADER) or 60)
    key = f"minqing:beat:{name}:{slot}"
    return bool(client.set(key, "1", nx=True, ex=max(2 * period, 120)))


def celery_init_app(app: Flask) -> Celery:
    """Bind a Celery app to Flask: every task runs inside (its own) app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            headers = {
                PERIODIC_HEADER: getattr(self.request, PERIODIC_HEADER, None),
                SLOT_HEADER: getattr(self.request, SLOT_HEADER, None),
            }
            if not once_per_slot(self.name, headers, self.app.conf.broker_url):
                log.info("%s: already run in this slot by another beat's message", self.name)
                raise Ignore()  # neither a success nor a failure: nothing ran
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.conf.update(
        include=TASK_MODULES,
        beat_schedule=beat_schedule(
            app.config.get("INDEX_TIME", "06:00"), app.config.get("BEAT_TICK_SECONDS", 30)
        ),
    )
    celery.set_default()
    _stamp_beat_slots()
    for module in TASK_MODULES:
        importlib.import_module(module)
    app.extensions["celery"] = celery
    return celery


_slots_stamped = False


def _stamp_beat_slots() -> None:
    """In the beat process: stamp each periodic message with its slot when it is sent."""
    global _slots_stamped
    if _slots_stamped:
        return
    _slots_stamped = True
    from celery import signals

    @signals.before_task_publish.connect(weak=False)
    def _stamp(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
        if headers and headers.get(PERIODIC_HEADER) and SLOT_HEADER not in headers:
            headers[SLOT_HEADER] = int(time.time() // int(headers[PERIODIC_HEADER]))
