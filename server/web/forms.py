"""Reading form fields and query arguments: each fault a 422 naming the field, zh + en.

Times typed into pages are local (MINQING_TIMEZONE) and become aware UTC datetimes here.
"""

from __future__ import annotations

import io
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, g, request, session

from server.errors import DomainError, Invalid
from server.web.i18n import lang, t
from server.web.session import safe_next

MAX_ID = 2**31 - 1


def _invalid(name: str, en: str, zh: str) -> Invalid:
    # The pages put the field's label before the reason (see `bare`); the API's wording.
    return Invalid("invalid_value", f"{name}: {en}", f"字段 {name}：{zh}", field=name)


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["MINQING_TIMEZONE"])


def text(
    values: Mapping[str, Any], name: str, *, required: bool = False, max_length: int = 2000
) -> str | None:
    raw = values.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if "\x00" in value:
        raise _invalid(name, "contains a NUL character", "包含非法字符")
    if not value:
        if required:
            raise _invalid(name, "is required", "必填")
        return None
    if len(value) > max_length:
        raise _invalid(name, f"at most {max_length} characters", f"最多 {max_length} 个字符")
    return value


def integer(
    values: Mapping[str, Any], name: str, *, required: bool = False, minimum: int = 1
) -> int | None:
    raw = text(values, name, required=required, max_length=12)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "must be a whole number", "必须是整数") from None
    if not minimum <= value <= MAX_ID:
        raise _invalid(name, "out of range", "超出范围")
    return value


def number(
    values: Mapping[str, Any], name: str, *, required: bool = False, limit: float = 180.0
) -> float | None:
    """A decimal number (degrees, …) within ±`limit`."""
    raw = text(values, name, required=required, max_length=24)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _invalid(name, "must be a number", "必须是数字") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise _invalid(name, "out of range", "超出范围")
    return value


def choice(
    values: Mapping[str, Any], name: str, allowed: Sequence[str], *, required: bool = False
) -> str | None:
    raw = text(values, name, required=required, max_length=64)
    if raw is not None and raw not in allowed:
        raise _invalid(name, f"must be one of {', '.join(allowed)}", "取值无效")
    return raw


def boolean(values: Mapping[str, Any], name: str) -> bool | None:
    raw = text(values, name, max_length=8)
    if raw is None:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise _invalid(name, "must be yes or no", "必须是 是 或 否")


def day(values: Mapping[str, Any], name: str, *, required: bool = False) -> date | None:
    raw = text(values, name, required=required, max_length=10)
    if raw is None:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, "must be a date like 2026-11-26", "日期格式应为 2026-11-26") from None
    if not 2000 <= value.year <= 2100:
        raise _invalid(name, "must be between 2000 and 2100", "须在 2000 至 2100 年之间")
    return value


def instant(values: Mapping[str, Any], name: str) -> datetime | None:
    """An ISO 8601 instant with its zone (`2026-12-04T07:30:00.123456+00:00`), as UTC: what a
    link the system made carries (a 12345 import's), not something typed."""
    raw = text(values, name, max_length=40)
    if raw is None:
        return None
    try:
        # a "+" of the zone that reached us decoded as a space
        value = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", raw))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise _invalid(
            name,
            "must be a time with its zone like 2026-12-04T07:30:00+00:00",
            "时间格式应为 2026-12-04T07:30:00+00:00（含时区）",
        )
    if not 2000 <= value.year <= 2100:
        raise _invalid(name, "must be between 2000 and 2100", "须在 2000 至 2100 年之间")
    return value.astimezone(UTC)


def day_start(d: date) -> datetime:
    """Local midnight of `d`, as UTC."""
    return datetime.combine(d, time.min, local_zone()).astimezone(UTC)


def day_end(d: date) -> datetime:
    """Local midnight after `d`, as UTC (an exclusive bound)."""
    return day_start(d + timedelta(days=1))


def local_moment(
    values: Mapping[str, Any], name: str, *, required: bool = False
) -> datetime | None:
    """A `datetime-local` input (local wall time) as an aware UTC datetime."""
    raw = text(values, name, required=required, max_length=32)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(
            name, "must be a date and time like 2026-11-26T17:00", "时间格式应为 2026-11-26T17:00"
        ) from None
    if not 2000 <= value.year <= 2100:
        raise _invalid(name, "must be between 2000 and 2100", "须在 2000 至 2100 年之间")
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value.astimezone(UTC)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """For templates: a stored UTC time in the deployment's local time."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(local_zone()).strftime(fmt)


# ------------------------------------------------------------------- refused forms
#
# A form refused by a use case (a DomainError) comes back as the page it was sent from,
# with what the person typed put back, the error next to its field (named by the field's
# label, never its code name) and files either kept (stored already, sent again as hidden
# SHA-256s that the ownership check re-examines) or clearly asked for again. Every POST form
# made with `_forms.html`'s csrf() carries `_back` (the page it was on) and `_once` (a
# one-time key: the same form sent twice — a double click, a reload, the back button —
# does its work once).

BACK_FIELD = "_back"
ONCE_FIELD = "_once"
KEPT_FIELD = "kept_photo"
ONCE_REMEMBERED = 24
# Never echoed back into a page.
NOT_ECHOED = frozenset(
    {
        "csrf_token",
        BACK_FIELD,
        ONCE_FIELD,
        KEPT_FIELD,
        "version",
        "password",
        "current_password",
        "new_password",
        "new_password2",
    }
)

# The labels of fields that services name in their refusals (for the summary at the top; the
# inline message takes the label from the page itself).
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "photos": ("照片", "Photos"),
    "personal": ("照片含有人物（个人信息）", "Shows people"),
    "reason": ("说明", "Reason"),
    "result": ("办理结果", "Result"),
    "unit_id": ("办理单位", "Unit"),
    "deadline": ("期限", "Deadline"),
    "into": ("合并到事项", "Merge into"),
    "grids": ("负责网格", "Grids"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "new_password": ("新密码", "New password"),
    "new_password2": ("再次输入新密码", "New password again"),
    "current_password": ("当前密码", "Current password"),
    "display_name": ("姓名", "Name"),
    "role": ("角色", "Role"),
    "unit": ("办理单位", "Unit"),
    "subdistrict": ("街道", "Subdistrict"),
    "phone": ("电话", "Phone"),
    "collector": ("民情收集员", "Collector"),
    "name": ("名称", "Name"),
    "geojson": ("GeoJSON 文件", "GeoJSON file"),
    "holidays": ("节假日文件", "Holiday file"),
    "year": ("年份", "Year"),
    "title": ("标题", "Title"),
    "body": ("正文", "Text"),
    "description": ("问题描述", "Description"),
    "category": ("类别", "Category"),
    "count": ("数量", "Count"),
    "agenda": ("议题", "Agenda"),
    "attendance": ("参会人员", "Attendance"),
    "answer": ("答复", "Answer"),
    "case": ("事项", "Case"),
    "default_priority": ("默认优先级", "Default priority"),
}

_PREFIX_ZH = re.compile(r"^\s*(?:字段\s*)?[A-Za-z_][\w.\-]*\s*[：:]\s*")
_PREFIX_EN = re.compile(r"^\s*[A-Za-z_][\w.\-]*\s*:\s*")
_HASHES = re.compile(r"\b[0-9a-fA-F]{16,}\b")
_IDS = re.compile(r"\b[0-9A-Za-z_-]{24,}\b")


def scrub(message: str) -> str:
    """No raw hashes or long opaque ids in a message meant for a person."""
    message = _HASHES.sub("…", message)
    message = _IDS.sub("…", message)
    return re.sub(r"(…[,，、\s]*)+…", "…", message)


def bare(message: str, field: str | None, *, zh: bool) -> str:
    """The reason alone: without a leading "字段 photos：" / "photos: " (the page names the
    field by its label instead)."""
    if field:
        pattern = _PREFIX_ZH if zh else _PREFIX_EN
        match = pattern.match(message)
        if match and field.split(".")[0] in match.group(0):
            message = message[match.end() :]
    return scrub(message)


def field_label(field: str | None) -> str | None:
    if not field:
        return None
    if field.startswith("deadline_"):
        return t("处置时限", "Deadline")
    known = FIELD_LABELS.get(field)
    return t(*known) if known else None


@dataclass(frozen=True)
class FormState:
    """A refused POST, for the page that shows it again."""

    action: str
    values: list[tuple[str, str]]
    field: str | None
    label: str | None
    reason: str
    code: str
    kept_photos: list[str] = dc_field(default_factory=list)
    files_dropped: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "values": self.values,
            "field": self.field,
            "reason": self.reason,
            "kept": len(self.kept_photos),
            "files_dropped": self.files_dropped,
            "again": t(
                "请重新选择文件（浏览器不会保留已选的文件）。",
                "Choose the file(s) again (browsers do not keep a chosen file).",
            ),
        }


def back_url() -> str | None:
    """The page a POST form was sent from (same site only)."""
    raw = request.form.get(BACK_FIELD, "")
    back = safe_next(raw, "")
    return back or None


def state_of(error: DomainError, kept_photos: Iterable[str] = ()) -> FormState:
    zh = lang() == "zh"
    reason = bare(error.message_zh if zh else error.message, error.field, zh=zh)
    values = [
        (k, v[:4000])
        for k, v in request.form.items(multi=True)
        if k not in NOT_ECHOED and isinstance(v, str)
    ][:200]
    kept = [] if error.field == "photos" else list(kept_photos)
    dropped = any(f and f.filename for f in request.files.values()) and not kept
    return FormState(
        action=request.path,
        values=values,
        field=error.field,
        label=field_label(error.field),
        reason=reason,
        code=error.code,
        kept_photos=kept,
        files_dropped=bool(dropped),
    )


def show_refused(error: DomainError, kept_photos: Iterable[str] = ()) -> Any | None:
    """The page the refused form came from, rendered again with `g.form_state` (the form
    filled back in, the error by its field), with the refusal's status; None when there is
    no such page to show (then the caller shows the error page)."""
    if request.method != "POST" or error.status in (401, 403, 429) or error.code == "csrf_failed":
        return None
    back = back_url()
    if back is None:
        return None
    state = state_of(error, kept_photos)
    parts = urlsplit(back)
    environ = dict(request.environ)
    environ.update(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_LENGTH": "0",
            "CONTENT_TYPE": "",
            "wsgi.input": io.BytesIO(b""),
        }
    )
    environ.pop("werkzeug.request", None)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    g.form_state = state
    try:
        with app.request_context(environ):
            response = app.make_response(app.dispatch_request())
    except Exception:  # the page itself cannot be shown now (gone, no longer allowed)
        g.form_state = None
        return None
    if response.status_code != 200 or response.mimetype != "text/html":
        g.form_state = None
        return None
    return response.get_data(as_text=True), error.status, error.headers


def form_state() -> FormState | None:
    return cast(FormState | None, g.get("form_state"))


# One-time keys: a form's second arrival (double click, reload, back button) does nothing.


def once_token() -> str:
    return secrets.token_urlsafe(9)


def once_seen() -> bool:
    """True when this form (its `_once` key) has already done its work in this session."""
    key = request.form.get(ONCE_FIELD, "")
    return bool(key) and key in (session.get("once") or [])


def remember_once() -> None:
    key = request.form.get(ONCE_FIELD, "")
    if not key or len(key) > 32:
        return
    seen = [k for k in (session.get("once") or []) if isinstance(k, str)]
    session["once"] = [*seen, key][-ONCE_REMEMBERED:]
