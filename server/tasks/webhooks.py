"""Webhook delivery: one attempt per run, retried with exponential backoff."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from server.services.messaging import webhooks
from server.services.uow import unit_of_work


@shared_task(
    name="minqing.webhooks.deliver",
    bind=True,
    # The delivery row counts attempts and the service stops at WEBHOOK_MAX_ATTEMPTS;
    # Celery's own counter must not stop it earlier.
    max_retries=None,
    ignore_result=True,
)
def deliver(self: Task, delivery_id: int) -> dict[str, Any]:
    """Send one webhook delivery; if it failed and may be retried, retry after
    WEBHOOK_RETRY_BASE_SECONDS × 2^(attempts−1), at most an hour.

    Without a broker (tasks run in-process, the embedded default) one attempt is made
    and a failed delivery stays pending: an in-process retry would block the request.
    """
    outcome = webhooks.deliver(delivery_id)
    if outcome.retry and not self.request.is_eager:
        raise self.retry(countdown=webhooks.retry_countdown(outcome.attempts))
    return {
        "delivery_id": outcome.delivery_id,
        "status": outcome.status,
        "attempts": outcome.attempts,
    }


@shared_task(name="minqing.webhooks.requeue_stalled", ignore_result=False)
def requeue_stalled() -> dict[str, int]:
    """Beat: deliveries whose enqueue was lost are sent again (once they are 10 min old)."""
    with unit_of_work() as uow:
        return {"requeued": webhooks.requeue_stalled(uow)}
