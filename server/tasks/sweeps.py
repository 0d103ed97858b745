"""Beat tasks over the case loop; thin, idempotent, retried on database hiccups."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from server.services.caseloop import sweeps
from server.services.uow import unit_of_work

# Results are kept (they are small counts) so that operators can see what a sweep did.
RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": False,
}


@shared_task(name="minqing.cases.sweep_overdue", **RETRY)
def sweep_overdue() -> dict[str, int]:
    with unit_of_work() as uow:
        overdue = sweeps.mark_overdue(uow)
    with unit_of_work() as uow:
        escalated = sweeps.escalate(uow)
    return {"overdue": overdue, "escalated": escalated}


@shared_task(name="minqing.cases.sweep_rating_timeouts", **RETRY)
def sweep_rating_timeouts() -> dict[str, int]:
    with unit_of_work() as uow:
        return {"closed_unrated": sweeps.close_unrated(uow)}
