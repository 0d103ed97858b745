"""Console pages for interop: Open311 client keys (admins) and the 12345 work-order import with
its reply sheet (admins and dispatchers). The same use cases as the API and the CLI."""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from server.domain.roles import Role
from server.errors import Invalid
from server.services.interop import exports, hotline, open311
from server.services.uow import unit_of_work
from server.web import forms
from server.web.console import bp
from server.web.i18n import t
from server.web.session import page, signed_in

STASH_ID = re.compile(r"^[0-9a-f]{64}$")
STASH_SECONDS = 24 * 3600


# ---------------------------------------------------------------------------------- Open311


def _clients_page(issued: open311.IssuedClient | None = None) -> Any:
    principal = signed_in()
    clients = open311.list_clients(principal)
    filed = open311.requests_filed([c.id for c in clients])
    return render_template(
        "console/admin/open311.html",
        clients=clients,
        filed=filed,
        issued=issued,
        max_per_hour=open311.MAX_PER_HOUR,
    )


@bp.get("/admin/open311", endpoint="admin_open311")
@page(Role.ADMIN)
def admin_open311() -> Any:
    return _clients_page()


@bp.post("/admin/open311")
@page(Role.ADMIN)
def admin_issue_open311() -> Any:
    """Issue a key: shown on this page once, stored only as its SHA-256."""
    f = request.form
    name = forms.text(f, "name", required=True, max_length=100) or ""
    per_hour = forms.integer(f, "requests_per_hour") or 60
    _check_rate(per_hour)
    with unit_of_work() as uow:
        issued = open311.issue_client(uow, signed_in(), name, per_hour)
    return _clients_page(issued)


def _check_rate(per_hour: int) -> None:
    if per_hour > open311.MAX_PER_HOUR:
        raise Invalid(
            "invalid_value",
            f"requests_per_hour: 1 to {open311.MAX_PER_HOUR}",
            f"字段 requests_per_hour：须为 1 至 {open311.MAX_PER_HOUR}",
            field="requests_per_hour",
        )


@bp.post("/admin/open311/<int:client_id>/rate")
@page(Role.ADMIN)
def admin_open311_rate(client_id: int) -> Any:
    per_hour = forms.integer(request.form, "requests_per_hour", required=True) or 0
    _check_rate(per_hour)
    with unit_of_work() as uow:
        client = open311.set_rate_limit(uow, signed_in(), client_id, per_hour)
    flash(
        t(
            f"已将 {client.name} 的上限设为每小时 {per_hour} 次",
            f"{client.name}: {per_hour} requests an hour",
        ),
        "ok",
    )
    return redirect(url_for("console.admin_open311"), 303)


@bp.post("/admin/open311/<int:client_id>/revoke")
@page(Role.ADMIN)
def admin_open311_revoke(client_id: int) -> Any:
    with unit_of_work() as uow:
        client = open311.revoke_client(uow, signed_in(), client_id)
    flash(t(f"已吊销 {client.name} 的密钥", f"The key of {client.name} is revoked"), "ok")
    return redirect(url_for("console.admin_open311"), 303)


# ---------------------------------------------------------------------------------- 12345


def _stash_folder() -> Path:
    """Where a checked file waits for its confirmation (named by its SHA-256); files left
    unconfirmed for a day are removed."""
    folder = Path(current_app.instance_path) / "hotline-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STASH_SECONDS
    for old in folder.iterdir():
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    return folder


def _hotline_page(**context: Any) -> Any:
    principal = signed_in()
    return render_template(
        "console/hotline.html",
        categories=hotline.list_categories(),
        admin=principal.role is Role.ADMIN,
        our_categories=[(c.code, f"{c.name_zh} ({c.code})") for c in _our_categories()],
        crs_choices=hotline.CRS_CHOICES,
        headers=hotline.HEADERS,
        **context,
    )


def _our_categories() -> list[Any]:
    from server.services.territory import administration

    return [c for c in administration.list_categories() if c.active]


@bp.get("/hotline", endpoint="hotline")
@page(Role.ADMIN, Role.DISPATCHER)
def hotline_home() -> Any:
    return _hotline_page(report=None)


@bp.post("/hotline/check")
@page(Role.ADMIN, Role.DISPATCHER)
def hotline_check() -> Any:
    """Upload: every row checked, nothing written; the file waits for the confirmation."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid("invalid_value", "file: choose a file", "字段 file：请选择文件", field="file")
    data = upload.read(hotline.MAX_BYTES + 1)
    crs = forms.choice(request.form, "crs", list(hotline.CRS_CHOICES)) or "wgs84"
    skip = forms.boolean(request.form, "skip_invalid") or False
    filename = Path(upload.filename).name[-200:]
    try:
        with unit_of_work() as uow:
            report = hotline.import_orders(
                uow, signed_in(), filename, data, skip_invalid=True, dry_run=True, crs=crs
            )
    except hotline.ImportRejected as exc:  # columns missing: nothing can be imported
        return _hotline_page(report=exc.report, filename=filename, stash=None), 422
    stash = hashlib.sha256(data).hexdigest()
    importable = report.would_create > 0 and (skip or not report.problems)
    if importable:
        (_stash_folder() / stash).write_bytes(data)
    return _hotline_page(
        report=report,
        filename=filename,
        stash=stash if importable else None,
        crs=crs,
        skip_invalid=skip,
    )


@bp.post("/hotline/import")
@page(Role.ADMIN, Role.DISPATCHER)
def hotline_import() -> Any:
    """Confirmed: the checked file is imported (checked again: all-or-nothing still holds)."""
    f = request.form
    stash = forms.text(f, "stash", required=True, max_length=64) or ""
    path = _stash_folder() / stash
    if not STASH_ID.match(stash) or not path.exists():
        raise Invalid(
            "invalid_value",
            "stash: the checked file is gone; upload it again",
            "字段 stash：待导入的文件已失效，请重新上传",
            field="stash",
        )
    filename = forms.text(f, "filename", max_length=200) or "upload.xlsx"
    crs = forms.choice(f, "crs", list(hotline.CRS_CHOICES)) or "wgs84"
    skip = forms.boolean(f, "skip_invalid") or False
    try:
        with unit_of_work() as uow:
            report = hotline.import_orders(
                uow, signed_in(), filename, path.read_bytes(), skip_invalid=skip, crs=crs
            )
    except hotline.ImportRejected as exc:
        return _hotline_page(report=exc.report, filename=filename, stash=None), 422
    path.unlink(missing_ok=True)
    return _hotline_page(report=report, filename=filename, stash=None, imported=True)


@bp.post("/hotline/categories")
@page(Role.ADMIN)
def hotline_category_set() -> Any:
    f = request.form
    text = forms.text(f, "text", required=True, max_length=100) or ""
    code = forms.text(f, "category", required=True, max_length=32) or ""
    with unit_of_work() as uow:
        hotline.set_category(uow, signed_in(), text, code)
    flash(t(f"已对照：{text} → {code}", f"Mapped: {text} → {code}"), "ok")
    return redirect(url_for("console.hotline"), 303)


@bp.post("/hotline/categories/remove")
@page(Role.ADMIN)
def hotline_category_remove() -> Any:
    text = forms.text(request.form, "text", required=True, max_length=100) or ""
    with unit_of_work() as uow:
        hotline.remove_category(uow, signed_in(), text)
    flash(t(f"已删除对照：{text}", f"Removed: {text}"), "ok")
    return redirect(url_for("console.hotline"), 303)


@bp.get("/hotline/replies.<any(xlsx,csv):fmt>", endpoint="hotline_replies")
@page(Role.ADMIN, Role.DISPATCHER)
def hotline_replies(fmt: str) -> Any:
    """The reply sheet (回复单) for the platform: imported in a period, optionally finished only."""
    first = forms.day(request.args, "from")
    last = forms.day(request.args, "to")
    f = hotline.ReplyFilter(
        imported_from=forms.day_start(first) if first else None,
        imported_to=forms.day_end(last) if last else None,
        finished_only=forms.boolean(request.args, "finished") or False,
    )
    with unit_of_work() as uow:
        export = hotline.export_replies(uow, signed_in(), fmt, f)
    return exports.response_for(export)
