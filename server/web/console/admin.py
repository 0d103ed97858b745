"""Admin pages: grids (GeoJSON import with its validation report), people, collectors ↔ grids,
devices (issue with a QR code, revoke), categories and their deadlines."""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from server.domain.roles import ROLE_NAMES_ZH, Role
from server.errors import Invalid
from server.services.territory import administration, grids_import, org
from server.services.territory.administration import PRIORITY_KEYS
from server.services.uow import unit_of_work
from server.web import forms, maps
from server.web.console import bp
from server.web.i18n import pick, t
from server.web.session import page, signed_in

ROLE_EN = {
    Role.ADMIN: "Admin",
    Role.DISPATCHER: "Dispatcher",
    Role.UNIT_STAFF: "Unit staff",
    Role.COLLECTOR: "Collector",
}
MAX_GEOJSON_BYTES = 50 * 1024 * 1024


def role_text(role: str) -> str:
    r = Role(role)
    return t(ROLE_NAMES_ZH[r], ROLE_EN[r])


GRID_ROWS = 500


@bp.get("/admin", endpoint="admin_home")
@page(Role.ADMIN)
def admin_home() -> Any:
    principal = signed_in()
    query = forms.text(request.args, "q", max_length=100)
    grids = administration.find_grids(principal, query, limit=GRID_ROWS + 1)
    return render_template(
        "console/admin/home.html",
        grids=grids[:GRID_ROWS],
        grids_more=len(grids) > GRID_ROWS,
        query=query or "",
        city_admin=principal.is_city_admin,
    )


@bp.post("/admin/grids/import")
@page(Role.ADMIN)
def admin_import() -> Any:
    """Import a GeoJSON file; on refusal the per-feature report, nothing written."""
    principal = signed_in()
    upload = request.files.get("geojson")
    if upload is None or not upload.filename:
        raise Invalid(
            "invalid_value", "geojson: choose a file", "字段 geojson：请选择文件", field="geojson"
        )
    data = upload.read(MAX_GEOJSON_BYTES + 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "invalid_value",
            "geojson: not UTF-8 text",
            "字段 geojson：不是 UTF-8 文本",
            field="geojson",
        ) from None
    try:
        with unit_of_work() as uow:
            report = administration.import_territory(uow, principal, text)
    except grids_import.ImportRejected as exc:
        return (
            render_template("console/admin/import_report.html", report=exc.report, ok=False),
            422,
        )
    return render_template("console/admin/import_report.html", report=report, ok=True)


@bp.get("/admin/people", endpoint="admin_people")
@page(Role.ADMIN)
def admin_people() -> Any:
    principal = signed_in()
    return render_template(
        "console/admin/people.html",
        people=administration.list_people(principal),
        role_text=role_text,
        roles=[(r.value, role_text(r.value)) for r in Role if r is not Role.ADMIN]
        + ([(Role.ADMIN.value, role_text("admin"))] if principal.is_city_admin else []),
        units=[(u.code, u.name) for u in org.list_units(principal)],
        subdistricts=[(s.code, s.name) for s in org.list_subdistricts(principal)],
        city_admin=principal.is_city_admin,
    )


@bp.post("/admin/people")
@page(Role.ADMIN)
def admin_create_person() -> Any:
    principal = signed_in()
    f = request.form
    with unit_of_work() as uow:
        user = administration.create_person(
            uow,
            principal,
            username=forms.text(f, "username", required=True, max_length=64) or "",
            password=forms.text(f, "password", required=True, max_length=200) or "",
            role=forms.choice(f, "role", [r.value for r in Role], required=True) or "",
            display_name=forms.text(f, "display_name", required=True, max_length=100) or "",
            phone=forms.text(f, "phone", max_length=32),
            unit_code=forms.text(f, "unit", max_length=32),
            subdistrict_code=forms.text(f, "subdistrict", max_length=32),
        )
    flash(t(f"已创建账号 {user.username}", f"Account {user.username} created"), "ok")
    return redirect(url_for("console.admin_people"), 303)


@bp.get("/admin/people/<int:user_id>/grids", endpoint="admin_grid_picker")
@page(Role.ADMIN)
def admin_grid_picker(user_id: int) -> Any:
    """A collector's grids: the ones held (ticked), and a search by community or grid name
    whose results can be ticked too; saving makes the ticked ones the collector's."""
    principal = signed_in()
    collector, held = administration.collector_grids(principal, user_id)
    query = forms.text(request.args, "q", max_length=100)
    held_codes = {g.code for g in held}
    found = (
        [
            g
            for g in administration.find_grids(principal, query, limit=100)
            if g.code not in held_codes
        ]
        if query
        else []
    )
    return render_template(
        "console/admin/grid_picker.html",
        collector=collector,
        held=held,
        found=found,
        query=query or "",
        grid_map=maps.map_attrs(grids=url_for("console.map_grids", colour="none")),
    )


@bp.post("/admin/people/<int:user_id>/grids")
@page(Role.ADMIN)
def admin_collector_grids(user_id: int) -> Any:
    principal = signed_in()
    codes = [c.strip()[:32] for c in request.form.getlist("grid")[:2000] if c.strip()]
    raw = forms.text(request.form, "grids", max_length=5000) or ""  # codes typed (older form)
    codes += [c for c in raw.replace(",", " ").replace("，", " ").split() if c]
    with unit_of_work() as uow:
        assigned = administration.set_collector_grids(uow, principal, user_id, codes)
    flash(t(f"已分配网格：{len(assigned)} 个", f"Grids assigned: {len(assigned)}"), "ok")
    return redirect(url_for("console.admin_grid_picker", user_id=user_id), 303)


@bp.post("/admin/people/<int:user_id>/active")
@page(Role.ADMIN)
def admin_set_active(user_id: int) -> Any:
    """Disable (every session, token and device of the account ends now) or re-enable."""
    active = forms.boolean(request.form, "active")
    with unit_of_work() as uow:
        ended = administration.set_active(uow, signed_in(), user_id, bool(active))
    if active:
        flash(t("账号已启用。", "Account enabled."), "ok")
    else:
        flash(
            t(
                f"账号已停用，已结束 {ended} 个登录会话。",
                f"Account disabled; {ended} session(s) ended.",
            ),
            "ok",
        )
    return redirect(url_for("console.admin_people"), 303)


@bp.post("/admin/people/<int:user_id>/password")
@page(Role.ADMIN)
def admin_reset_password(user_id: int) -> Any:
    """A temporary password: sessions end now; the person picks their own at next sign-in."""
    password = forms.text(request.form, "new_password", required=True, max_length=200) or ""
    with unit_of_work() as uow:
        ended = administration.reset_password(uow, signed_in(), user_id, password)
    flash(
        t(
            f"已重置密码（下次登录须修改），已结束 {ended} 个登录会话。",
            f"Password reset (to be changed at next sign-in); {ended} session(s) ended.",
        ),
        "ok",
    )
    return redirect(url_for("console.admin_people"), 303)


DEVICE_SORTS: dict[str, Any] = {
    "issued": lambda d: d.created_at,
    "seen": lambda d: (d.last_seen_at is not None, d.last_seen_at or d.created_at),
    "collector": lambda d: (d.collector.display_name, d.name),
    "version": lambda d: (d.app_version or "", d.name),
    "name": lambda d: d.name,
}


def _sorted_devices(principal: Any) -> tuple[list[Any], str, bool]:
    sort = forms.choice(request.args, "sort", list(DEVICE_SORTS)) or "issued"
    descending = (forms.choice(request.args, "dir", ["asc", "desc"]) or "desc") == "desc"
    rows = sorted(
        administration.devices_in_reach(principal), key=DEVICE_SORTS[sort], reverse=descending
    )
    return rows, sort, descending


@bp.get("/admin/devices", endpoint="admin_devices")
@page(Role.ADMIN)
def admin_devices() -> Any:
    principal = signed_in()
    rows, sort, descending = _sorted_devices(principal)
    return render_template(
        "console/admin/devices.html",
        devices=rows,
        sort=sort,
        descending=descending,
        collectors=[
            (u.id, f"{u.display_name} ({u.username})")
            for u in administration.list_collectors(principal)
        ],
        issued=None,
    )


@bp.post("/admin/devices")
@page(Role.ADMIN)
def admin_issue_device() -> Any:
    """Issue a device token; the page shows it and its QR code once (never stored clear)."""
    import qrcode

    principal = signed_in()
    collector = forms.integer(request.form, "collector", required=True)
    assert collector is not None
    with unit_of_work() as uow:
        issued = administration.issue_device(
            uow, principal, collector, forms.text(request.form, "name", max_length=100)
        )
    buffer = io.BytesIO()
    qrcode.make(issued.provisioning_payload()).save(buffer, "PNG")
    # The token is shown in this answer only (never put in a cookie or a URL for a redirect);
    # a reload of this page re-sends the form's one-time key and issues nothing.
    rows, sort, descending = _sorted_devices(principal)
    return render_template(
        "console/admin/devices.html",
        devices=rows,
        sort=sort,
        descending=descending,
        collectors=[
            (u.id, f"{u.display_name} ({u.username})")
            for u in administration.list_collectors(principal)
        ],
        issued={
            "device": issued.device,
            "token": issued.token,
            "qr": base64.b64encode(buffer.getvalue()).decode(),
        },
    )


@bp.post("/admin/devices/<device_id>/revoke")
@page(Role.ADMIN)
def admin_revoke_device(device_id: str) -> Any:
    with unit_of_work() as uow:
        device = administration.revoke_device(uow, signed_in(), device_id[:32])
    flash(t(f"已停用设备 {device.name}", f"Device {device.name} revoked"), "ok")
    return redirect(url_for("console.admin_devices"), 303)


@bp.get("/admin/categories", endpoint="admin_categories")
@page(Role.ADMIN)
def admin_categories() -> Any:
    principal = signed_in()
    return render_template(
        "console/admin/categories.html",
        categories=[(c, pick(c.name_zh, c.name_en)) for c in administration.list_categories()],
        priorities=PRIORITY_KEYS,
        city_admin=principal.is_city_admin,
    )


@bp.post("/admin/categories/<code>")
@page(Role.ADMIN)
def admin_update_category(code: str) -> Any:
    f = request.form
    deadlines = {k: forms.integer(f, f"deadline_{k}", required=True) for k in PRIORITY_KEYS}
    with unit_of_work() as uow:
        category = administration.update_category(
            uow,
            signed_in(),
            code[:32],
            deadlines=deadlines,
            unit=forms.choice(f, "unit", ["hours", "workdays"], required=True) or "",
            default_priority=forms.choice(f, "default_priority", PRIORITY_KEYS, required=True)
            or "",
            active=forms.boolean(f, "active") or False,
        )
    flash(t(f"已保存类别 {category.name_zh}", f"Category {category.name_en} saved"), "ok")
    return redirect(url_for("console.admin_categories"), 303)


MAX_HOLIDAY_BYTES = 512 * 1024


@bp.app_template_global("holiday_warnings")
def holiday_warnings() -> list[dict[str, str]]:
    """For every admin page: this year, or (from 1 December) next year, missing from the
    holiday calendar."""
    from datetime import datetime

    from server.services.caseloop.case_deadlines import calendar, local_zone
    from server.services.territory import holidays

    return holidays.warnings(calendar(), datetime.now(local_zone()).date())


@bp.get("/admin/holidays", endpoint="admin_holidays")
@page(Role.ADMIN)
def admin_holidays() -> Any:
    """Which years the holiday calendar covers (from which notice), and what is missing."""
    from datetime import datetime

    from server.services.caseloop.case_deadlines import calendar, local_zone
    from server.services.territory import holidays

    principal = signed_in()
    cal = calendar()
    today = datetime.now(local_zone()).date()
    return render_template(
        "console/admin/holidays.html",
        years=holidays.overview(cal),
        warnings=holidays.warnings(cal, today),
        this_year=today.year,
        city_admin=principal.is_city_admin,
        report=g.get("holiday_report") or [],
    )


@bp.post("/admin/holidays")
@page(Role.ADMIN)
def admin_load_holidays() -> Any:
    """Load a year (or several) from a JSON file shaped like server/data/holidays_cn.json."""
    upload = request.files.get("holidays")
    if upload is None or not upload.filename:
        raise Invalid(
            "invalid_value",
            "holidays: choose a file",
            "字段 holidays：请选择文件",
            field="holidays",
        )
    data = upload.read(MAX_HOLIDAY_BYTES + 1)
    if len(data) > MAX_HOLIDAY_BYTES:
        raise Invalid(
            "invalid_value", "holidays: file too large", "字段 holidays：文件太大", field="holidays"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "invalid_value",
            "holidays: not UTF-8 text",
            "字段 holidays：不是 UTF-8 文本",
            field="holidays",
        ) from None
    try:
        with unit_of_work() as uow:
            years = administration.load_holidays(uow, signed_in(), text)
    except Invalid as exc:
        if exc.code != "invalid_holidays" or not exc.details:
            if exc.field == "file":  # the service's name for the file
                exc.field = "holidays"
            raise
        # the page lists every fault by its line; the field says how many
        g.holiday_report = exc.details
        count = len(exc.details)
        raise Invalid(
            "invalid_holidays",
            f"holidays: {count} problem(s) in the file, listed below; nothing was loaded",
            f"字段 holidays：文件有 {count} 处错误（见下方列表），未导入任何年份",
            field="holidays",
            details=exc.details,
        ) from None
    flash(
        t(f"已导入 {'、'.join(map(str, years))} 年节假日", f"Loaded {', '.join(map(str, years))}"),
        "ok",
    )
    return redirect(url_for("console.admin_holidays"), 303)
