"""Beat tasks over deliberation topics: close ended periods, remind of stages past due."""

from __future__ import annotations

from celery import shared_task

from server.services.civic import deliberation
from server.services.uow import unit_of_work
from server.tasks.sweeps import RETRY


@shared_task(name="minqing.deliberation.sweep", **RETRY)
def sweep() -> dict[str, int]:
    with unit_of_work() as uow:
        closed = deliberation.close_due_periods(uow)
    with unit_of_work() as uow:
        reminded = deliberation.remind_due_stages(uow)
    return {"closed": closed, "reminded": reminded}
