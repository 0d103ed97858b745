"""The live queue and the inbox page: an ETag'd counts endpoint the queue polls (a 304 when
nothing changed), and the notifications of the signed-in user (read, mark all read)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from server.domain.roles import Role
from server.services.caseloop import case_queries, triage
from server.services.interop import hotline_digest
from server.services.messaging import notify
from server.services.uow import unit_of_work
from server.web import forms
from server.web.console import bp
from server.web.console.triage import VIEWS, view_count
from server.web.i18n import t
from server.web.session import page, signed_in

# The counts of one scope (role, subdistrict, unit, grids) are computed at most once per
# SHARED_SECONDS in a process and shared by every console of that scope: 50 dispatchers of a
# subdistrict polling every 5 s cost one set of count queries per 2 s, not 10 per second.
SHARED_SECONDS = 2.0
_shared: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
_shared_lock = threading.Lock()


def _scope_key(principal: Any) -> tuple[Any, ...]:
    grids = tuple(sorted(principal.grid_ids)) if principal.role is Role.COLLECTOR else ()
    user = principal.user_id if principal.role is Role.COLLECTOR else None  # their own reports
    return (principal.role.value, principal.subdistrict_id, principal.unit_id, grids, user)


def scope_figures(principal: Any) -> dict[str, Any]:
    """The counts of the principal's scope, fresh to within SHARED_SECONDS."""
    key = _scope_key(principal)
    now = time.monotonic()
    with _shared_lock:
        hit = _shared.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    counts = case_queries.stage_counts(principal, case_queries.CaseFilter())
    views = {k: view_count(k, counts) for k, *_ in VIEWS.get(principal.role, [])}
    views["overdue_now"] = counts["overdue"]
    views["due_soon"] = counts["due_within_24h"]
    figures = {
        "by_stage": counts["by_stage"],
        "views": views,
        "marker": triage.latest_case_marker(principal),
    }
    with _shared_lock:
        if len(_shared) > 1000:
            _shared.clear()
        _shared[key] = (now + SHARED_SECONDS, figures)
    return figures


def live_figures(principal: Any) -> dict[str, Any]:
    """What the queue's badges show, a marker that changes when a case arrives, and the
    user's own unread notifications."""
    return {**scope_figures(principal), "unread": notify.unread_count(principal.user_id)}


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
        cases_filter = hotline_digest.queue_filter(note.event, note.created_at)
    if case_id and request.form.get("open"):
        return redirect(url_for("console.case_page", case_id=case_id), 303)
    if cases_filter and request.form.get("open"):
        return redirect(url_for("console.cases", **cases_filter), 303)
    return redirect(url_for("console.inbox"), 303)


@bp.post("/inbox/read-all", endpoint="inbox_read_all")
@page()
def inbox_read_all() -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        n = notify.mark_all_read(uow, principal)
    flash(t(f"已将 {n} 条消息标为已读", f"{n} notification(s) marked read"), "ok")
    return redirect(url_for("console.inbox"), 303)
