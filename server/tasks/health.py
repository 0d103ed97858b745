"""A round trip through the broker, a worker and the database; beat's heartbeat."""

from __future__ import annotations

import time

from celery import current_app as current_celery
from celery import shared_task

from server.services.upkeep import health

BEAT_TICK_KEY = "minqing:beat:last_tick"


@shared_task(name="minqing.health.ping", ignore_result=False)
def ping() -> dict[str, object]:
    return health.database_summary()


@shared_task(name="minqing.health.beat_tick")
def beat_tick() -> None:
    """Sent by beat every 30 s, run by a worker: `/readyz` reads when it last ran, and the
    count of runs shows each beat task runs once however many beats are up."""
    from server.broker import redis_for

    client = redis_for(current_celery.conf.broker_url)
    if client is not None:
        now = time.time()
        client.set(BEAT_TICK_KEY, f"{now:.3f}")
        client.incr("minqing:beat:ticks")
