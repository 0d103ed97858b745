"""Residents who gave a phone are told by SMS when their case is accepted, handled, and when
it awaits their rating — with the link to their case page. Sent after the commit (a task);
a failed send is logged and changes nothing of the case."""

from __future__ import annotations

from flask import current_app

from server.domain.cases import Action
from server.extensions import db
from server.models import Case
from server.services.messaging import sms
from server.services.uow import UnitOfWork

TASK = "minqing.sms.inform_resident"

# The action of the case loop → the message it sends.
KIND_OF: dict[Action, str] = {
    Action.ACCEPT: "accepted",
    Action.REPORT_DONE: "handled",
    Action.VERIFY_OK: "awaiting_rating",
}


def queue_for(uow: UnitOfWork, case: Case, action: Action) -> None:
    """After the commit: the message this action owes the resident, if they gave a phone."""
    kind = KIND_OF.get(action)
    if kind is not None and case.reporter_phone:
        uow.after_commit(TASK, case.id, kind)


def case_link(case: Case) -> str:
    base = current_app.config.get("PUBLIC_URL") or "http://localhost"
    return f"{base.rstrip('/')}/r/{case.public_token}"


def inform_resident(case_id: str, kind: str) -> sms.Outcome | None:
    """Send the `kind` message about the case to the phone its resident gave (None: no phone,
    or the case is gone, e.g. retention removed the phone meanwhile)."""
    case = db.session.get(Case, case_id)
    if case is None or not case.reporter_phone or kind not in sms.KINDS:
        return None
    channel = sms.channel_from(current_app.config)
    return channel.send(case.reporter_phone, kind, {"number": case.number, "link": case_link(case)})
