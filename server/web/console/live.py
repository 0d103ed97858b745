"""The live queue and the inbox page: an ETag'd counts endpoint the queue polls (a 304 when
nothing changed), and the notifications of the signed-in user (read, mark all read)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from server.domain.roles import Role
from server.services.caseloop import case_queries, triage
from server.services.messaging import notify
from server.services.uow import unit_of_work
from server.web import forms
from server.web.console import bp
from server.web.console.triage import VIEWS, view_count
from server.web.i18n import t
from server.web.session import page, signed_in


def live_figures(principal: Any) -> dict[str, Any]:
    """What the queue's badges show, plus a marker that changes when a case arrives."""
    counts = case_queries.stage_counts(principal, case_queries.CaseFilter())
    views = {key: view_count(key, counts) for key, *_ in VIEWS.get(principal.role, [])}
    views["overdue_now"] = counts["overdue"]
    views["due_soon"] = counts["due_within_24h"]
    latest = triage.latest_case_marker(principal)
    return {
        "by_stage": counts["by_stage"],
        "views": views,
        "unread": notify.unread_count(principal.user_id),
        "marker": latest,
    }


@bp.get("/live/counts", endpoint="live_counts")
@page()
def live_counts() -> Any:
    """The counts as JSON with a strong ETag over the body: a poll that finds nothing new costs
    the queries but no body (304)."""
    principal = signed_in()
    figures = live_figures(principal)
    body = json.dumps(figures, sort_keys=True, separators=(",", ":"))
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        return _not_modified(etag)
    response = jsonify(figures)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _not_modified(etag: str) -> Any:
    response = Response(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# --------------------------------------------------------------------------------- inbox


@bp.get("/inbox", endpoint="inbox")
@page()
def inbox_page() -> Any:
    principal = signed_in()
    unread = forms.boolean(request.args, "unread")
    cursor = forms.text(request.args, "cursor", max_length=200)
    result = notify.list_inbox(principal, unread=unread, cursor=cursor, limit=50)
    keep = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template(
        "console/inbox.html",
        notes=result.items,
        unread_count=result.unread_count,
        only_unread=bool(unread),
        next_url=url_for("console.inbox", **keep, cursor=result.next_cursor)
        if result.next_cursor
        else None,
        is_staff=principal.role is Role.UNIT_STAFF,
    )


@bp.post("/inbox/<int:notification_id>/read", endpoint="inbox_read")
@page()
def inbox_read(notification_id: int) -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        note = notify.mark_read(uow, principal, notification_id)
        case_id = note.case_id
    if case_id and request.form.get("open"):
        return redirect(url_for("console.case_page", case_id=case_id), 303)
    return redirect(url_for("console.inbox"), 303)


@bp.post("/inbox/read-all", endpoint="inbox_read_all")
@page()
def inbox_read_all() -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        n = notify.mark_all_read(uow, principal)
    flash(t(f"已将 {n} 条消息标为已读", f"{n} notification(s) marked read"), "ok")
    return redirect(url_for("console.inbox"), 303)
