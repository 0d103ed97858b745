"""/report: a resident reports a problem — category, description, an optional photo, and the
place from the phone's location or a tap on the map (static/map.js: our own grid and
community outlines, over the configured tiles if any; the tap is named — community and grid —
by /api/v1/locate, and a point outside the sub-district is refused before sending).
Rate-limited per address exactly as the API's anonymous report.

Also the small form readers the collector view shares: each refusal names its field in both
languages.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from server.errors import DomainError, Invalid
from server.services.caseloop import resident_reports
from server.services.caseloop.cases import ReportInput
from server.services.people import ratelimit
from server.services.territory import org
from server.services.uow import unit_of_work
from server.web import maps, web_blueprint

bp = web_blueprint("web_public", __name__, error_template="public/error.html")

PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")  # as the API's report schema
DESCRIPTION_MAX = 2000
CRS = ("wgs84", "gcj02", "bd09")


# ------------------------------------------------------------------------- form readers


def _invalid(field: str, en: str, zh: str) -> Invalid:
    return Invalid("validation_error", f"{field}: {en}", zh, field=field)


def read_text(
    name: str, label_zh: str, *, required: bool = True, max_len: int = DESCRIPTION_MAX
) -> str | None:
    """A trimmed text field; NUL characters are refused (no database stores them)."""
    value = request.form.get(name, "").strip()
    if "\x00" in value:
        raise _invalid(name, "NUL characters are not allowed", f"{label_zh}含有无效字符")
    if not value:
        if required:
            raise _invalid(name, "required", f"请填写{label_zh}")
        return None
    if len(value) > max_len:
        raise _invalid(name, f"at most {max_len} characters", f"{label_zh}最多 {max_len} 个字")
    return value


def read_point() -> tuple[float, float, str]:
    """lon, lat (from the phone's location or a tap on the map) and their crs."""
    raw_lon, raw_lat = request.form.get("lon", "").strip(), request.form.get("lat", "").strip()
    if not raw_lon or not raw_lat:
        raise _invalid(
            "lon",
            "choose the place: use your location or tap the map",
            "请选择位置：使用当前位置，或在地图上点选",
        )
    try:
        lon, lat = float(raw_lon), float(raw_lat)
    except ValueError as exc:
        raise _invalid("lon", "not a number", "位置坐标不是数字") from exc
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise _invalid("lon", "between -180 and 180", "经度必须在 -180 到 180 之间")
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise _invalid("lat", "between -90 and 90", "纬度必须在 -90 到 90 之间")
    crs = request.form.get("crs", "wgs84") or "wgs84"
    if crs not in CRS:
        raise _invalid("crs", "one of wgs84, gcj02, bd09", "坐标系必须是 wgs84、gcj02 或 bd09")
    return lon, lat, crs


def read_photo(name: str = "photo") -> bytes | None:
    """The uploaded photo's bytes, or None when none was chosen (checked by the service)."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    data = upload.read()
    return data or None


def read_category(name: str = "category", *, required: bool = True) -> str | None:
    code = request.form.get(name, "").strip()
    if not code:
        if required:
            raise _invalid(name, "choose a category", "请选择问题类别")
        return None
    if len(code) > 32:
        raise _invalid(name, "unknown category", "未知的问题类别")
    return code


def _phone() -> str | None:
    phone = request.form.get("phone", "").strip()
    if not phone:
        return None
    if not PHONE.match(phone):
        raise _invalid("phone", "not a phone number", "手机号码格式不对")
    return phone


# ------------------------------------------------------------------------------- views


@bp.after_request
def _no_store(response: Response) -> Response:
    # The form carries this browser's CSRF token: no shared cache may keep it.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _form_page(error: DomainError | None = None) -> Any:
    values = {
        k: request.form.get(k, "")
        for k in (
            "category",
            "description",
            "lon",
            "lat",
            "crs",
            "phone",
            "phone_consent",
            "address",
        )
    }
    chosen = request.files.get("photo")
    html = render_template(
        "public/report.html",
        categories=org.list_categories(),
        error=error,
        form=values,
        # a browser never refills a file input: say so rather than lose the photo silently
        photo_again=error is not None and bool(chosen and chosen.filename),
        map_attrs=maps.map_attrs(
            grids=url_for("web_public.grids_geojson"),
            communities=url_for("web_board.communities_geojson"),
        ),
    )
    return html, (error.status if error else 200), (error.headers if error else {})


@bp.get("/report")
def report_form() -> Any:
    """The report form: large controls, plain words, works without the map."""
    return _form_page()


@bp.post("/report")
def report() -> Any:
    """File the report; on success the resident lands on their own case page (/r/<token>),
    with its link and QR code to keep."""
    try:
        lon, lat, crs = read_point()
        data = ReportInput(
            category=read_category() or "",
            description=read_text("description", "问题描述") or "",
            lon=lon,
            lat=lat,
            crs=crs,
            reporter_phone=_phone(),
            phone_consent=request.form.get("phone_consent") == "1",
            address=read_text("address", "地址", required=False, max_len=200),
        )
        photo = read_photo()
        with unit_of_work() as uow:  # counted even if the report is then refused
            ratelimit.resident_report(uow, request.remote_addr or "unknown")
        with unit_of_work() as uow:
            result = resident_reports.report_with_photo(uow, data, photo)
    except DomainError as exc:
        return _form_page(exc)
    token = result.case.public_token
    return redirect(url_for("web_resident.case_page", token=token, new=1), code=303)


@bp.get("/report/grids.geojson")
def grids_geojson() -> Any:
    """The grid outlines the report map draws (names and codes only)."""
    response = jsonify(maps.converted(resident_reports.grid_outlines()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
