"""Beat: publish the daily roots of the case history (tamper evidence); apply retention."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from server.services.uow import unit_of_work
from server.services.upkeep import audit, retention


@shared_task(
    name="minqing.audit.seal_days",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=False,
)
def seal_days() -> dict[str, int]:
    with unit_of_work() as uow:
        return {"sealed": len(audit.seal_days(uow))}


@shared_task(
    name="minqing.retention.apply",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=False,
)
def apply_retention() -> dict[str, int]:
    with unit_of_work() as uow:
        report = retention.apply(uow)
    return dict(vars(report))
