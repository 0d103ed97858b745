"""/c/: the collector's phone-browser view, a fallback to the native app — today's patrols,
start and stop a patrol (the browser's location, sent in batches), add a log or report a
case with a photo, and check a handled case on site (核查: verify_ok / verify_fail).

A collector signs in through the shared login and sees only the cases of their own grids.
Every change goes through the patrol and case services, as the API's do.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from server.domain.cases import STATUS_ZH, Action, Status
from server.domain.roles import Role
from server.errors import DomainError, Forbidden, Invalid, Unauthorized
from server.models.base import utcnow
from server.services import (
    attachments,
    case_present,
    cases,
    collector_day,
    org,
    patrols,
    photo_access,
)
from server.services.principal import Principal
from server.services.uow import unit_of_work
from server.web import forms, web_blueprint
from server.web.i18n import t
from server.web.public import read_category, read_photo, read_point, read_text
from server.web.session import page, signed_in, web_principal

bp = web_blueprint(
    "web_collector", __name__, url_prefix="/c", error_template="collector/error.html"
)

VERIFY_ACTIONS = (Action.VERIFY_OK.value, Action.VERIFY_FAIL.value)
MAX_POINTS_PER_BATCH = 500


def _photo_sha(principal: Principal) -> list[str]:
    """Store the form's photo (if any) as this collector's upload; its hash for the service."""
    data = read_photo()
    if data is None:
        return []
    with unit_of_work() as uow:
        stored, _ = attachments.store_upload(
            uow, data, declared_sha256=None, uploader_id=principal.user_id
        )
    return [stored.sha256]


def _status_text(status: str) -> str:
    return t(STATUS_ZH[Status(status)], status.replace("_", " "))


def _status(error: DomainError | None) -> int:
    return error.status if error else 200


# ---------------------------------------------------------------------------------- home


@bp.get("/")
@page(Role.COLLECTOR)
def home() -> Any:
    """Today's scheduled patrols, the patrol under way, cases waiting for a check."""
    principal = signed_in()
    ended = request.args.get("ended", "")[:64]
    grids = collector_day.my_grids(principal)
    return render_template(
        "collector/home.html",
        slots=collector_day.today_slots(principal),
        active=collector_day.active_patrol(principal),
        grids=grids,
        grid_options=[(g.id, f"{g.name}（{g.code}）") for g in grids],
        status_zh=_status_text,
        to_verify=collector_day.cases_to_verify(principal),
        open_cases=collector_day.open_cases(principal),
        ended=patrols.own_patrol(principal, ended) if ended else None,
        logged=bool(request.args.get("logged")),
        local_time=forms.local_time,
        now=utcnow(),
    )


# ------------------------------------------------------------------------------- patrols


@bp.post("/patrols")
@page(Role.COLLECTOR)
def start_patrol() -> Any:
    principal = signed_in()
    grid_id = forms.integer(request.form, "grid_id", required=True)
    assert grid_id is not None
    with unit_of_work() as uow:
        patrols.start_patrol(uow, principal, grid_id=grid_id)
    return redirect(url_for("web_collector.home"), code=303)


def _track() -> patrols.TrackInput:
    body = request.get_json(silent=True)
    points = body.get("points") if isinstance(body, dict) else None
    if not isinstance(points, list) or len(points) > MAX_POINTS_PER_BATCH:
        raise Invalid(
            "bad_track",
            f"points: a list of at most {MAX_POINTS_PER_BATCH} [lon, lat, time, accuracy]",
            f"points：最多 {MAX_POINTS_PER_BATCH} 个 [经度, 纬度, 时间, 精度]",
            field="points",
        )
    return patrols.TrackInput(points=points, crs="wgs84")  # browsers report WGS84


@bp.post("/patrols/<string(maxlength=64):patrol_id>/points")
def add_points(patrol_id: str) -> Any:
    """A batch of track points from the page's script (JSON; CSRF token in a header).
    Answers in JSON, also when the session has expired (401), for the script to say so."""
    try:
        principal = web_principal()
        if principal is None:
            raise Unauthorized(
                "unauthorized",
                "Your session has expired: sign in again",
                "登录已过期，请重新登录",
            )
        if principal.role is not Role.COLLECTOR:
            raise Forbidden("Only collectors patrol", "只有民情收集员可以巡逻")
        with unit_of_work() as uow:
            patrol = patrols.add_points(uow, principal, patrol_id, _track())
    except DomainError as exc:
        return jsonify(exc.to_dict()), exc.status
    return jsonify({"id": patrol.id, "points": len(patrol.points or [])})


@bp.post("/patrols/<string(maxlength=64):patrol_id>/end")
@page(Role.COLLECTOR)
def end_patrol(patrol_id: str) -> Any:
    principal = signed_in()
    with unit_of_work() as uow:
        patrol = patrols.end_patrol(uow, principal, patrol_id)
    return redirect(url_for("web_collector.home", ended=patrol.id), code=303)


# ---------------------------------------------------------------------------------- logs


def _log_page(principal: Principal, error: DomainError | None = None) -> Any:
    html = render_template(
        "collector/log.html",
        categories=org.list_categories(),
        active=collector_day.active_patrol(principal),
        error=error,
        form=request.form,
    )
    return html, _status(error)


@bp.get("/log")
@page(Role.COLLECTOR)
def log_form() -> Any:
    return _log_page(signed_in())


@bp.post("/log")
@page(Role.COLLECTOR)
def add_log() -> Any:
    """Log what was seen on the patrol (text, place, category, photo)."""
    principal = signed_in()
    try:
        lon, lat, crs = read_point()
        data = patrols.LogInput(
            text=read_text("text", "日志内容") or "",
            lon=lon,
            lat=lat,
            crs=crs,
            category=read_category(required=False),
            patrol_id=forms.text(request.form, "patrol_id", max_length=64),
        )
        data.photos = _photo_sha(principal)
        with unit_of_work() as uow:
            patrols.create_log(uow, principal, data)
    except DomainError as exc:
        return _log_page(principal, exc)
    return redirect(url_for("web_collector.home", logged=1), code=303)


# --------------------------------------------------------------------------------- cases


def _report_page(error: DomainError | None = None) -> Any:
    html = render_template(
        "collector/report.html",
        categories=org.list_categories(),
        error=error,
        form=request.form,
    )
    return html, _status(error)


@bp.get("/report")
@page(Role.COLLECTOR)
def report_form() -> Any:
    return _report_page()


@bp.post("/report")
@page(Role.COLLECTOR)
def report_case() -> Any:
    """Report a case in one of the collector's grids, with a photo."""
    principal = signed_in()
    try:
        lon, lat, crs = read_point()
        data = cases.ReportInput(
            category=read_category() or "",
            description=read_text("description", "问题描述") or "",
            lon=lon,
            lat=lat,
            crs=crs,
            priority=forms.choice(request.form, "priority", ("low", "normal", "high", "urgent")),
            address=read_text("address", "地址", required=False, max_len=200),
        )
        data.photos = _photo_sha(principal)
        with unit_of_work() as uow:
            result = cases.report_case(uow, principal, data)
    except DomainError as exc:
        return _report_page(exc)
    return redirect(url_for("web_collector.case_page", case_id=result.case.id, new=1), code=303)


def _own_grid_case(principal: Principal, case_id: str) -> Any:
    """The case, if it lies in one of the collector's grids (else refused, 404 or 403)."""
    case = cases.visible_case(principal, case_id)
    if case.grid_id not in principal.grid_ids:
        raise Forbidden("This case is not in your grids", "该事项不在您负责的网格内")
    return case


def _case_page(principal: Principal, case_id: str, error: DomainError | None = None) -> Any:
    case = _own_grid_case(principal, case_id)
    view = case_present.present(
        case,
        principal,
        events=cases.events_of(case),
        photos=case_present.photos_of([case.id]).get(case.id, []),
    )
    html = render_template(
        "collector/case.html",
        case=view,
        can_verify=[a for a in view["allowed_actions"] if a in VERIFY_ACTIONS],
        error=error,
        form=request.form,
        just_reported=bool(request.args.get("new")),
        just_verified=request.args.get("done"),
        local_time=forms.local_time,
    )
    return html, _status(error)


@bp.get("/cases/<string(maxlength=64):case_id>")
@page(Role.COLLECTOR)
def case_page(case_id: str) -> Any:
    return _case_page(signed_in(), case_id)


@bp.post("/cases/<string(maxlength=64):case_id>/verify")
@page(Role.COLLECTOR)
def verify(case_id: str) -> Any:
    """核查 on site: the fix holds (verify_ok) or it does not (verify_fail, with a reason)."""
    principal = signed_in()
    _own_grid_case(principal, case_id)
    try:
        action = forms.choice(request.form, "action", VERIFY_ACTIONS, required=True)
        version = forms.integer(request.form, "version", required=True)
        assert action is not None and version is not None
        data = cases.ActionInput(
            version=version,
            reason=forms.text(request.form, "reason", max_length=1000),
            photos=_photo_sha(principal),
        )
        with unit_of_work() as uow:
            cases.act(uow, principal, case_id, action, data)
    except DomainError as exc:
        return _case_page(principal, case_id, exc)
    return redirect(url_for("web_collector.case_page", case_id=case_id, done=action), code=303)


# -------------------------------------------------------------------------------- photos


@bp.get("/photos/<string(length=64):sha256>")
@page(Role.COLLECTOR)
def photo(sha256: str) -> Response:
    """A photo of a case the collector may see (the public copy, without EXIF GPS)."""
    photo_access.check_readable(signed_in(), sha256)
    stored = attachments.public_file(sha256)
    return send_file(stored.path, mimetype=stored.mime, max_age=3600, etag=stored.etag)
