"""Reading form fields and query arguments: each fault a 422 naming the field, zh + en.

Times typed into pages are local (MINQING_TIMEZONE) and become aware UTC datetimes here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from server.errors import Invalid

MAX_ID = 2**31 - 1


def _invalid(name: str, en: str, zh: str) -> Invalid:
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
