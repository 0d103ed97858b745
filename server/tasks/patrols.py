"""Beat tasks for patrols and the index; thin and idempotent."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from sqlalchemy.exc import OperationalError

from server.services.patrolling import index, schedules
from server.services.uow import unit_of_work

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": False,
}


@shared_task(name="minqing.patrols.judge_slots", **RETRY)
def judge_slots() -> dict[str, int]:
    """Mark scheduled patrol slots done or missed, once each."""
    with unit_of_work() as uow:
        return schedules.judge_slots(uow)


@shared_task(name="minqing.index.compute_day", **RETRY)
def compute_day(day: str | None = None) -> dict[str, object]:
    """The index of `day` (ISO date; default yesterday, local time) and its bulletins."""
    target = date.fromisoformat(day) if day else index.yesterday()
    with unit_of_work() as uow:
        result = index.compute_day(uow, target)
    return {
        "day": result.day.isoformat(),
        "grids": result.grids,
        "communities": result.communities,
        "bulletins": result.bulletins,
    }
