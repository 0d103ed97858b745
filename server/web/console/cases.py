"""The case queue (filters, counts, bulk dispatch) and the case page with its actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from server.domain.cases import ACTION_ZH, EDGES, STATUS_ZH, Action, Stage, Status
from server.domain.navigation import navigation_links
from server.domain.roles import Role
from server.errors import DomainError
from server.models.base import utcnow
from server.models.cases import SOURCES
from server.services.caseloop import case_location, case_present, case_queries, cases, triage
from server.services.files import attachments, photo_access
from server.services.territory import geocoding, org
from server.services.uow import unit_of_work
from server.web import forms, render_error
from server.web.console import bp
from server.web.console.map import location_map
from server.web.console.triage import clean_query, views_for
from server.web.i18n import pick, t
from server.web.session import page, signed_in

DISPATCHERS = (Role.DISPATCHER, Role.ADMIN)
STAGE_TEXT: dict[str, tuple[str, str]] = {
    Stage.COLLECT: ("搜集", "Collect"),
    Stage.HANDLE: ("办理", "Handle"),
    Stage.FEEDBACK: ("反馈", "Feedback"),
    Stage.EVALUATE: ("评价", "Evaluate"),
    Stage.DONE: ("已结束", "Done"),
}
STATUS_EN: dict[str, str] = {
    "reported": "Reported",
    "accepted": "Accepted",
    "rejected": "Rejected",
    "merged": "Merged",
    "dispatched": "Dispatched",
    "in_progress": "In progress",
    "handled": "Handled, to verify",
    "awaiting_rating": "Awaiting rating",
    "reopened": "Reopened (unsatisfied)",
    "closed": "Closed",
}
SOURCE_TEXT: dict[str, tuple[str, str]] = {
    "patrol": ("巡查上报", "Patrol"),
    "resident": ("居民上报", "Resident"),
    "hotline": ("热线", "Hotline"),
    "wechat": ("微信", "WeChat"),
    "visit": ("来访", "Visit"),
    "deliberation": ("议事会", "Deliberation"),
}
ACTION_EN: dict[str, str] = {
    "locate": "Located",
    "accept": "Accept",
    "reject": "Reject",
    "merge": "Merge",
    "dispatch": "Dispatch",
    "acknowledge": "Acknowledge",
    "send_back": "Send back",
    "request_extension": "Request extension",
    "approve_extension": "Approve extension",
    "deny_extension": "Deny extension",
    "report_done": "Report done",
    "verify_ok": "Verified OK",
    "verify_fail": "Verification failed (rework)",
    "rate": "Resident rating",
    "close": "Close",
    "rating_timeout": "Closed without rating",
    "report": "Reported",
    "overdue": "Overdue",
    "escalate": "Escalated",
}
PRIORITY_TEXT: dict[str, tuple[str, str]] = {
    "urgent": ("特急", "Urgent"),
    "high": ("紧急", "High"),
    "normal": ("一般", "Normal"),
    "low": ("低", "Low"),
}
SORT_TEXT = {
    "-created_at": ("最新上报", "Newest first"),
    "created_at": ("最早上报", "Oldest first"),
    "deadline_at": ("期限最近", "Deadline soonest"),
    "-updated_at": ("最近更新", "Recently updated"),
}
PAGE_SIZE = 50


def status_text(status: str) -> str:
    return t(STATUS_ZH[Status(status)], STATUS_EN.get(status, status))


def action_text(action: str) -> str:
    try:
        zh = ACTION_ZH[Action(action)]
    except ValueError:
        zh = {"report": "上报", "overdue": "超期", "escalate": "超期升级", "locate": "定位"}.get(
            action, action
        )
    return t(zh, ACTION_EN.get(action, action))


@bp.app_template_global()
def case_status(status: str) -> str:
    return status_text(status)


@bp.app_template_global()
def case_action(action: str) -> str:
    return action_text(action)


@bp.app_template_filter("local")
def local_filter(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return forms.local_time(value, fmt)


# ------------------------------------------------------------------------------- the queue


def filter_from(args: Any) -> case_queries.CaseFilter:
    first = forms.day(args, "from")
    last = forms.day(args, "to")
    status = forms.choice(args, "status", [s.value for s in Status])
    return case_queries.CaseFilter(
        status=[status] if status else None,
        stage=forms.choice(args, "stage", [s.value for s in Stage]),
        community=forms.integer(args, "community"),
        grid=forms.integer(args, "grid"),
        category=forms.text(args, "category", max_length=32),
        unit=forms.integer(args, "unit"),
        source=forms.choice(args, "source", SOURCES),
        overdue=forms.boolean(args, "overdue"),
        created_from=forms.day_start(first) if first else None,
        created_to=forms.day_end(last) if last else None,
        q=forms.text(args, "q", max_length=100),
        due_soon=forms.boolean(args, "due_soon"),
        unlocated=forms.boolean(args, "unlocated"),
        imported_at=forms.instant(args, "imported_at"),
    )


def _urgency(case: Any, now: Any) -> str:
    if case.overdue and case.status in ("dispatched", "in_progress"):
        return "overdue"
    if (
        case.status in ("dispatched", "in_progress")
        and case.deadline_at is not None
        and case.deadline_at < now + case_queries.NEAR_DEADLINE
    ):
        return "due-soon"
    return ""


@bp.get("/")
@page()
def home() -> Any:
    return redirect(url_for("console.cases"))


@bp.get("/cases", endpoint="cases")
@page()
def queue() -> Any:
    """The queue: what the signed-in user may see, filtered, sorted, a page at a time."""
    principal = signed_in()
    args = request.args
    f = filter_from(args)
    sort = forms.choice(args, "sort", list(case_queries.SORTS)) or "-created_at"
    cursor = forms.text(args, "cursor", max_length=500)
    result = case_queries.list_cases(principal, f, sort=sort, cursor=cursor, limit=PAGE_SIZE)
    # counts per stage ignore the stage filter, so the other stages' chips stay meaningful
    counts = case_queries.stage_counts(principal, replace(f, stage=None))
    now = utcnow()
    keep = {k: v for k, v in args.items() if k != "cursor" and v}
    grids = (
        org.list_grids(principal, limit=500).items if principal.role is not Role.COLLECTOR else []
    )
    # the views and the badges link to unfiltered lists: their counts ignore this page's filter
    unfiltered = case_queries.CaseFilter()
    view_counts = (
        counts
        if replace(f, stage=None) == unfiltered
        else (case_queries.stage_counts(principal, unfiltered))
    )
    triaging = principal.role in DISPATCHERS
    list_query = clean_query(request.query_string.decode("utf-8", "replace"))
    return render_template(
        "console/cases.html",
        cases=[(c, _urgency(c, now)) for c in result.items],
        suggestions=triage.suggest(result.items) if triaging else {},
        views=views_for(principal.role, view_counts, args),
        view_counts=view_counts,
        saved_filters=triage.list_filters(principal),
        list_query=list_query,
        overdue_now_url=url_for("console.cases", stage="handle", overdue="1"),
        due_soon_url=url_for("console.cases", due_soon="1"),
        unlocated_url=url_for("console.cases", unlocated="1"),
        next_url=url_for("console.cases", **keep, cursor=result.next_cursor)
        if result.next_cursor
        else None,
        first_url=url_for("console.cases", **keep) if cursor else None,
        counts=counts,
        stage_text=STAGE_TEXT,
        stage_links={
            s.value: url_for("console.cases", **{**keep, "stage": s.value}) for s in Stage
        },
        all_stages_url=url_for("console.cases", **{k: v for k, v in keep.items() if k != "stage"}),
        args=args,
        sort=sort,
        sorts=[(k, t(*v)) for k, v in SORT_TEXT.items()],
        statuses=[(s.value, status_text(s.value)) for s in Status],
        stages=[(s.value, t(*STAGE_TEXT[s])) for s in Stage],
        sources=[(s, t(*SOURCE_TEXT[s])) for s in SOURCES],
        communities=[(c.id, c.name) for c in org.list_communities(principal)],
        grids=[(g.grid.id, f"{g.grid.name} ({g.grid.code})") for g in grids],
        categories=[(c.code, pick(c.name_zh, c.name_en)) for c in org.list_categories()],
        units=[(u.id, u.name) for u in org.list_units(principal)],
        may_dispatch=triaging,
        is_staff=principal.role is Role.UNIT_STAFF,
        imported_at=f.imported_at,
        without_import={k: v for k, v in keep.items() if k != "imported_at"},
    )


@bp.post("/cases/bulk-dispatch")
@page(*DISPATCHERS)
def bulk_dispatch() -> Any:
    """Dispatch the ticked cases to one unit: all of them or none (each refusal named)."""
    principal = signed_in()
    picked = request.form.getlist("case")[:200]
    if not picked:
        flash(t("请先勾选要派遣的事项。", "Tick the cases to dispatch first."), "error")
        return redirect(_back_to_queue())
    items = []
    for raw in picked:
        case_id, _, version = raw.rpartition(":")
        if not case_id or not version.isdigit():
            raise DomainError(
                "invalid_value",
                "case: not a case of this page",
                "字段 case：无效的事项",
                field="case",
            )
        items.append(cases.BulkItem(id=case_id[:64], version=int(version)))
    unit_id = forms.integer(request.form, "unit_id", required=True)
    assert unit_id is not None
    deadline = forms.local_moment(request.form, "deadline")
    try:
        with unit_of_work() as uow:
            done = cases.bulk_dispatch(uow, principal, items, unit_id, deadline)
    except DomainError as exc:
        if exc.code != "bulk_refused":
            raise
        for problem in exc.details or []:
            why = pick(problem["message_zh"], problem["message"])
            flash(f"{_number(principal, problem['id'])}: {why}", "error")
        flash(t(exc.message_zh, exc.message), "error")
        return redirect(_back_to_queue(), 303)
    flash(
        t(f"已派遣 {len(done)} 个事项。", f"Dispatched {len(done)} case(s)."),
        "ok",
    )
    return redirect(_back_to_queue(), 303)


def _number(principal: Any, case_id: str) -> str:
    """A case's number for messages (its id when it cannot be seen)."""
    try:
        return cases.visible_case(principal, case_id).number
    except DomainError:
        return case_id


def _back_to_queue() -> str:
    back = request.form.get("back", "")
    return back if back.startswith("/console/cases") else url_for("console.cases")


# ------------------------------------------------------------------------------ the case


# What each action's form asks for, beyond the version (besides the edge's `needs`).
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "dispatch": ("deadline",),
    "verify_ok": ("reason", "photos"),
    "verify_fail": ("photos",),
    "report_done": ("photos",),
}
DANGER = {"reject", "send_back", "deny_extension", "verify_fail"}


def action_forms(present: dict[str, Any]) -> list[dict[str, Any]]:
    """The forms of the actions the user may take now (the service decides again on submit)."""
    out = []
    for name in present["allowed_actions"]:
        edge = EDGES[Action(name)]
        fields = list(edge.needs) + [
            f for f in OPTIONAL_FIELDS.get(name, ()) if f not in edge.needs
        ]
        out.append(
            {
                "name": name,
                "label": action_text(name),
                "fields": fields,
                "required": set(edge.needs),
                "danger": name in DANGER,
            }
        )
    return out


# Fields a compact form can carry on a phone (a unit picker); others need the full form.
QUICK_FIELDS = {"unit_id"}


def main_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The phone's 主要操作 bar: the user's non-danger actions now, each marked `quick` when a
    one-line form (a button, maybe a unit picker) does it, else reached by a jump to its form."""
    return [{**a, "quick": a["required"] <= QUICK_FIELDS} for a in actions if not a["danger"]]


@bp.get("/cases/<case_id>")
@page()
def case_page(case_id: str) -> Any:
    """A case: details, photos, the full timeline, the actions the user may take."""
    principal = signed_in()
    case = cases.visible_case(principal, case_id[:64])
    photos = case_present.photos_of([case.id]).get(case.id, [])
    shown = case_present.present(case, principal, events=cases.events_of(case), photos=photos)
    duplicates = []
    if principal.role in DISPATCHERS and case.status in ("reported", "accepted"):
        duplicates = cases.find_duplicates(case)
    suggestion = triage.suggest([case]).get(case.id) if principal.role in DISPATCHERS else None
    list_query = request.args.get("list")
    actions = action_forms(shown)
    if principal.role in DISPATCHERS and "accept" in shown["allowed_actions"]:
        at = [a["name"] for a in actions].index("accept") + 1
        actions.insert(
            at,
            {
                "name": "accept_dispatch",
                "label": t("受理并派遣", "Accept and dispatch"),
                "fields": ["unit_id", "deadline"],
                "required": {"unit_id"},
                "danger": False,
            },
        )
    following = None
    if list_query is not None:
        args = MultiDict(parse_qsl(clean_query(list_query)))
        sort = forms.choice(args, "sort", list(case_queries.SORTS)) or "-created_at"
        following = triage.next_case(principal, filter_from(args), sort, case)
    return render_template(
        "console/case.html",
        may_flag=photo_access.may_flag(principal),
        case=case,
        suggestion=suggestion,
        nav_links=navigation_links(case.lon, case.lat, case.address or case.number)
        if case.lon is not None and case.lat is not None
        else [],
        next_url=_case_url(following.id, list_query) if following is not None else None,
        list_query=clean_query(list_query) if list_query is not None else None,
        queue_url=_queue_url(list_query),
        c=shown,
        actions=actions,
        main_actions=main_actions(actions),
        duplicates=duplicates,
        units=[(u.id, u.name) for u in org.list_units(principal)]
        if principal.role in DISPATCHERS
        else [],
        urgency=_urgency(case, utcnow()),
        place_map=location_map(
            case.lon, case.lat, case.grid_id, t("事项位置", "The case's place") + " " + case.number
        )
        if case.grid_id is not None and case.lon is not None and case.lat is not None
        else None,
        locating=_locating(principal, case),
        source_text=t(*SOURCE_TEXT.get(case.source, (case.source, case.source))),
        priority_text=t(*PRIORITY_TEXT.get(case.priority, (case.priority, case.priority))),
        category_name=pick(case.category.name_zh, case.category.name_en),
        suggested_extension=forms.local_time(
            (case.deadline_at or utcnow()) + timedelta(days=3), "%Y-%m-%dT%H:%M"
        ),
    )


def _locating(principal: Any, case: Any) -> dict[str, Any] | None:
    """The locate form of an unlocated case (待定位) for a dispatcher, with the geocoder's
    candidates when asked for (`?candidates=1`: one outbound request, bounded by its
    timeout)."""
    if case.grid_id is not None or principal.role not in DISPATCHERS:
        return None
    asked = forms.boolean(request.args, "candidates")
    found = case_location.candidates_for(principal, case.id) if asked else None
    return {
        "geocoder": geocoding.enabled(),
        "asked": bool(asked),
        "candidates": found.candidates if found is not None else [],
        "failure": found.failure if found is not None else None,
    }


@bp.post("/cases/<case_id>/location")
@page()
def case_locate_post(case_id: str) -> Any:
    """Locate an unlocated case from its page (lat/lng typed, or a candidate chosen)."""
    principal = signed_in()
    form = request.form
    version = forms.integer(form, "version", required=True)
    assert version is not None
    try:
        lat = forms.number(form, "lat", required=True, limit=90.0)
        lng = forms.number(form, "lng", required=True)
        assert lat is not None and lng is not None
        with unit_of_work() as uow:
            case = case_location.locate_case(
                uow,
                principal,
                case_id[:64],
                case_location.LocateInput(
                    version=version,
                    lon=lng,
                    lat=lat,
                    how=forms.choice(form, "how", list(case_location.HOW)) or "coordinates",
                ),
            )
    except DomainError as exc:
        body, status = render_error(
            exc.status,
            exc.message_zh,
            exc.message,
            exc.code,
            back_url=url_for("console.case_page", case_id=case_id[:64]),
        )
        return body, status, exc.headers
    flash(t(f"已定位：{case.number}", f"Located: {case.number}"), "ok")
    return redirect(_case_url(case.id, form.get("list")), 303)


@bp.post("/cases/<case_id>/actions/<action>")
@page()
def case_action_post(case_id: str, action: str) -> Any:
    """Fire one action; a refusal (stale version, illegal now) is shown on an error page
    with the case link, nothing is changed."""
    principal = signed_in()
    form = request.form
    version = forms.integer(form, "version", required=True)
    assert version is not None
    photos = (
        _uploaded_photos(principal.user_id) + _kept_photos() if action in OPTIONAL_FIELDS else []
    )
    try:
        data = cases.ActionInput(
            version=version,
            reason=forms.text(form, "reason", max_length=2000),
            unit_id=forms.integer(form, "unit_id"),
            deadline=forms.local_moment(form, "deadline"),
            result=forms.text(form, "result", max_length=4000),
            photos=photos,
            into=forms.text(form, "into", max_length=64),
        )
        with unit_of_work() as uow:
            if action in ("accept", "accept_dispatch") and principal.role in DISPATCHERS:
                # through triage: an auto-dispatching routing rule, or the unit chosen here
                case = triage.accept(
                    uow,
                    principal,
                    case_id[:64],
                    version,
                    unit_id=data.unit_id if action == "accept_dispatch" else None,
                    deadline=data.deadline if action == "accept_dispatch" else None,
                )
            else:
                case = cases.act(uow, principal, case_id[:64], action[:32], data)
    except DomainError as exc:
        # The case page again with the form filled back in (photos kept) when it can be shown;
        # otherwise the refusal with a way back to the case as it is now.
        shown = forms.show_refused(exc, kept_photos=photos)
        if shown is not None:
            return shown
        body, status = render_error(
            exc.status,
            exc.message_zh,
            exc.message,
            exc.code,
            back_url=url_for("console.case_page", case_id=case_id[:64]),
        )
        return body, status, exc.headers
    done_text = (
        t("受理并派遣", "Accept and dispatch")
        if action == "accept_dispatch"
        else action_text(action)
    )
    flash(t(f"已完成：{done_text}（{case.number}）", f"Done: {done_text} ({case.number})"), "ok")
    if action == "accept" and case.status == "dispatched" and case.unit is not None:
        flash(
            t(
                f"按分派规则已自动派遣至 {case.unit.name}",
                f"Dispatched to {case.unit.name} by a routing rule",
            ),
            "ok",
        )
    list_query = form.get("list")
    if list_query is not None and forms.boolean(form, "go_next"):
        return _go_next(principal, case, list_query)
    return redirect(_case_url(case.id, list_query), 303)


def _case_url(case_id: str, list_query: str | None) -> str:
    if list_query is None:
        return url_for("console.case_page", case_id=case_id)
    return url_for("console.case_page", case_id=case_id, list=clean_query(list_query))


def _queue_url(list_query: str | None) -> str:
    query = clean_query(list_query or "")
    return url_for("console.cases") + (f"?{query}" if query else "")


def _go_next(principal: Any, case: Any, list_query: str) -> Any:
    """After an action: the next case of the queue the dispatcher came from."""
    args = MultiDict(parse_qsl(clean_query(list_query)))
    sort = forms.choice(args, "sort", list(case_queries.SORTS)) or "-created_at"
    following = triage.next_case(principal, filter_from(args), sort, case)
    if following is None:
        flash(t("该筛选下已没有其他事项。", "No more cases under this filter."), "ok")
        return redirect(_queue_url(list_query), 303)
    return redirect(_case_url(following.id, list_query), 303)


def _kept_photos() -> list[str]:
    """Photos a refused submission already stored, sent back with the form (the service
    checks again that they are the user's own)."""
    kept = request.form.getlist(forms.KEPT_FIELD)[:9]
    return [sha for sha in kept if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)]


def _uploaded_photos(user_id: int) -> list[str]:
    """Photos uploaded with the form, stored through the attachments service (up to 9);
    flagged `personal` when the form's box says they show people."""
    personal = attachments.parse_personal(request.form.get("personal"))
    shas = []
    for upload in request.files.getlist("photos")[:9]:
        if not upload or not upload.filename:
            continue
        data = upload.read()
        if not data:
            continue
        with unit_of_work() as uow:
            row, _created = attachments.store_upload(
                uow, data, declared_sha256=None, uploader_id=user_id, personal=personal
            )
        shas.append(row.sha256)
    return shas
