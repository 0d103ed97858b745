"""Triage pages: bulk actions from the queue, the routing rules page (admin), the queue's
per-role views and saved filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import flash, redirect, render_template, request, url_for

from server.domain.roles import Role
from server.errors import DomainError, Invalid
from server.services.caseloop import cases, triage
from server.services.territory import org
from server.services.uow import unit_of_work
from server.web import forms
from server.web.console import bp
from server.web.i18n import pick, t
from server.web.session import page, signed_in

DISPATCHERS = (Role.DISPATCHER, Role.ADMIN)

BULK_DONE = {
    "accept": ("已受理", "Accepted"),
    "reject": ("已不予受理", "Rejected"),
    "merge": ("已合并", "Merged"),
    "dispatch": ("已派遣", "Dispatched"),
    "accept_dispatch": ("已受理并派遣", "Accepted and dispatched"),
}

# Per-role views of the queue: (key, zh, en, query). The count each shows comes from the
# queue's counts (by status, overdue now, due within 24 h): exactly the cases the link lists.
VIEWS: dict[Role, list[tuple[str, str, str, dict[str, str]]]] = {
    Role.DISPATCHER: [
        ("new", "新上报", "New", {"status": "reported"}),
        ("overdue_now", "当前超期", "Overdue now", {"stage": "handle", "overdue": "1"}),
        ("to_verify", "待核查", "Awaiting verification", {"status": "handled"}),
    ],
    Role.UNIT_STAFF: [
        ("to_acknowledge", "待签收", "To acknowledge", {"status": "dispatched"}),
        ("in_progress", "办理中", "In progress", {"status": "in_progress"}),
        ("due_soon", "即将到期", "Near deadline", {"due_soon": "1"}),
    ],
}
VIEWS[Role.ADMIN] = VIEWS[Role.DISPATCHER]


def view_count(key: str, counts: dict[str, Any]) -> int:
    by_status = counts["by_status"]
    return int(
        {
            "new": by_status.get("reported", 0),
            "overdue_now": counts["overdue"],
            "to_verify": by_status.get("handled", 0),
            "to_acknowledge": by_status.get("dispatched", 0),
            "in_progress": by_status.get("in_progress", 0),
            "due_soon": counts["due_within_24h"],
        }[key]
    )


def views_for(role: Role, counts: dict[str, Any], args: Any) -> list[dict[str, Any]]:
    """The role's views as links, each with its count and whether it is the current one."""
    current = {k: v for k, v in args.items() if v and k not in ("cursor", "sort")}
    out = []
    for key, zh, en, query in VIEWS.get(role, []):
        out.append(
            {
                "key": key,
                "label": t(zh, en),
                "url": url_for("console.cases", **query),
                "count": view_count(key, counts),
                "current": current == query,
            }
        )
    return out


# --------------------------------------------------------------------------- bulk actions


def _items(picked: list[str]) -> list[cases.BulkItem]:
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
    return items


def _back_to_queue() -> str:
    back = request.form.get("back", "")
    return back if back.startswith("/console/cases") else url_for("console.cases")


@bp.post("/cases/bulk")
@page(*DISPATCHERS)
def bulk_action() -> Any:
    """Accept, reject (one reason), merge (into one case), dispatch or accept-and-dispatch the
    ticked cases: all of them or none (each refusal named)."""
    principal = signed_in()
    op = forms.choice(request.form, "op", list(triage.BULK_OPS), required=True) or ""
    picked = request.form.getlist("case")[: triage.MAX_BULK]
    if not picked:
        flash(t("请先勾选事项。", "Tick the cases first."), "error")
        return redirect(_back_to_queue(), 303)
    data = triage.BulkInput(
        op=op,
        reason=forms.text(request.form, "reason", max_length=2000),
        into=triage.resolve_case_ref(principal, forms.text(request.form, "into", max_length=64)),
        unit_id=forms.integer(request.form, "unit_id"),
        deadline=forms.local_moment(request.form, "deadline"),
    )
    if op == "reject" and not data.reason:
        raise Invalid(
            "validation_error",
            "reason: required to reject",
            "字段 reason：不予受理须填写说明",
            field="reason",
        )
    if op == "dispatch" and data.unit_id is None:
        raise Invalid(
            "validation_error",
            "unit_id: choose a unit",
            "字段 unit_id：请选择办理单位",
            field="unit_id",
        )
    try:
        with unit_of_work() as uow:
            done = triage.bulk(uow, principal, _items(picked), data)
    except DomainError as exc:
        if exc.code != "bulk_refused":
            raise
        for problem in exc.details or []:
            why = pick(problem["message_zh"], problem["message"])
            flash(f"{_number(principal, problem['id'])}: {why}", "error")
        flash(t(exc.message_zh, exc.message), "error")
        return redirect(_back_to_queue(), 303)
    zh, en = BULK_DONE[op]
    flash(t(f"{zh} {len(done)} 个事项。", f"{en} {len(done)} case(s)."), "ok")
    return redirect(_back_to_queue(), 303)


def _number(principal: Any, case_id: str) -> str:
    try:
        return cases.visible_case(principal, case_id).number
    except DomainError:
        return case_id


# ----------------------------------------------------------------------- saved filters


QUEUE_KEYS = (
    "q",
    "stage",
    "status",
    "community",
    "grid",
    "category",
    "unit",
    "source",
    "overdue",
    "due_soon",
    "from",
    "to",
    "sort",
)


def clean_query(raw: str) -> str:
    """Only the queue's own filter fields, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(raw.lstrip("?")) if k in QUEUE_KEYS and v]
    return urlencode(sorted(pairs))[:1000]


@bp.post("/cases/filters")
@page()
def save_filter() -> Any:
    principal = signed_in()
    name = forms.text(request.form, "name", required=True, max_length=60) or ""
    query = clean_query(request.form.get("query", ""))
    with unit_of_work() as uow:
        triage.save_filter(uow, principal, name, query)
    flash(t(f"已保存筛选「{name}」", f"Filter “{name}” saved"), "ok")
    return redirect(url_for("console.cases") + (f"?{query}" if query else ""), 303)


@bp.post("/cases/filters/<int:filter_id>/delete")
@page()
def delete_filter(filter_id: int) -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        triage.delete_filter(uow, principal, filter_id)
    flash(t("已删除筛选", "Filter deleted"), "ok")
    return redirect(url_for("console.cases"), 303)


# ------------------------------------------------------------------------- routing rules


@bp.get("/admin/routing", endpoint="admin_routing")
@page(Role.ADMIN)
def admin_routing() -> Any:
    principal = signed_in()
    grids = org.list_grids(principal, limit=1000).items
    return render_template(
        "console/admin/routing.html",
        rules=triage.list_rules(principal),
        categories=[(c.code, pick(c.name_zh, c.name_en)) for c in org.list_categories()],
        units=[(u.id, u.name) for u in org.list_units(principal)],
        communities=[(c.id, c.name) for c in org.list_communities(principal)],
        grids=[(g.grid.id, f"{g.grid.name} ({g.grid.code})") for g in grids],
        category_name=lambda c: pick(c.name_zh, c.name_en),
    )


@bp.post("/admin/routing")
@page(Role.ADMIN)
def admin_routing_create() -> Any:
    principal = signed_in()
    f = request.form
    data = triage.RuleInput(
        category=forms.text(f, "category", required=True, max_length=32) or "",
        unit_id=forms.integer(f, "unit_id", required=True) or 0,
        community_id=forms.integer(f, "community_id"),
        grid_id=forms.integer(f, "grid_id"),
        auto_dispatch=bool(forms.boolean(f, "auto_dispatch")),
    )
    with unit_of_work() as uow:
        triage.create_rule(uow, principal, data)
    flash(t("已添加分派规则", "Routing rule added"), "ok")
    return redirect(url_for("console.admin_routing"), 303)


@bp.post("/admin/routing/<int:rule_id>/delete")
@page(Role.ADMIN)
def admin_routing_delete(rule_id: int) -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        triage.delete_rule(uow, principal, rule_id)
    flash(t("已删除分派规则", "Routing rule deleted"), "ok")
    return redirect(url_for("console.admin_routing"), 303)
