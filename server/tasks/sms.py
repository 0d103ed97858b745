"""SMS to residents, sent after the commit of the action that owes it."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from server.services.caseloop import resident_sms


@shared_task(name="minqing.sms.inform_resident", ignore_result=True)
def inform_resident(case_id: str, kind: str) -> dict[str, Any]:
    outcome = resident_sms.inform_resident(case_id, kind)
    if outcome is None:
        return {"case_id": case_id, "kind": kind, "sent": False, "skipped": True}
    return {"case_id": case_id, "kind": kind, "sent": outcome.sent, "error": outcome.error}
