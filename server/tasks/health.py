"""A round trip through the broker, a worker and the database."""

from __future__ import annotations

from celery import shared_task

from server.services.upkeep import health


@shared_task(name="minqing.health.ping", ignore_result=False)
def ping() -> dict[str, object]:
    return health.database_summary()
