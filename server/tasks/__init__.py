"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import importlib
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask

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


def beat_schedule(index_time: str) -> dict[str, dict[str, Any]]:
    """What beat runs when (docker-compose starts `celery beat`); times in local time."""
    hour, minute = (int(part) for part in index_time.split(":"))
    return {
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
        "retention-daily": {  # PIPL: residents' data and old sync logs past their time
            "task": "minqing.retention.apply",
            "schedule": crontab(hour=3, minute=30),
        },
        "index-daily": {
            "task": "minqing.index.compute_day",
            "schedule": crontab(hour=hour, minute=minute),
        },
    }


def celery_init_app(app: Flask) -> Celery:
    """Bind a Celery app to Flask: every task runs inside (its own) app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.conf.update(
        include=TASK_MODULES,
        beat_schedule=beat_schedule(app.config.get("INDEX_TIME", "06:00")),
    )
    celery.set_default()
    for module in TASK_MODULES:
        importlib.import_module(module)
    app.extensions["celery"] = celery
    return celery
