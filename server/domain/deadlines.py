"""Handling deadlines (办理时限): from a category's time limit to a moment, and overdue checks.

A time limit is either calendar hours (``"hours"``) or working days (``"workdays"``).
Working days are counted the way government offices count 工作日:

* the day of receipt does not count, whatever the hour (当日不计入);
* the next N working days of the local calendar count, skipping weekends and public
  holidays and counting 调休 make-up workdays;
* the case is due by the end of the N-th working day: the deadline is local midnight at
  the start of the following calendar day.

Received Friday 2025-09-26 15:00 with 2 working days: Sunday 09-28 (a make-up workday
before National Day) and Monday 09-29 count, so the case is due by the end of 09-29
(2025-09-30 00:00 Beijing time, 2025-09-29 16:00 UTC).

A deadline is met by anything done at or before it: overdue means strictly later, so
``not is_overdue(deadline, handled_at)`` is "handled on time".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from server.domain.calendar import WorkCalendar

Priority = Literal["low", "normal", "high", "urgent"]
DeadlineUnit = Literal["hours", "workdays"]

PRIORITIES: tuple[Priority, ...] = get_args(Priority)
UNITS: tuple[DeadlineUnit, ...] = get_args(DeadlineUnit)
FALLBACK_PRIORITY: Priority = "normal"


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} 必须带时区 / {name} must be timezone-aware: {moment!r}")


def compute_deadline(
    start: datetime, amount: float, unit: DeadlineUnit, *, calendar: WorkCalendar, tz: ZoneInfo
) -> datetime:
    """The moment (UTC) a case received at `start` is due, `amount` hours or working days on."""
    _require_aware("start", start)
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError(f"办理时限必须大于零 / time limit must be greater than zero: {amount!r}")
    if unit == "hours":
        return start.astimezone(UTC) + timedelta(hours=amount)
    if unit == "workdays":
        if amount != int(amount):
            raise ValueError(
                f"工作日时限必须是整数 / a time limit in working days must be whole: {amount!r}"
            )
        received = start.astimezone(tz).date()
        last_day = calendar.add_workdays(received, int(amount))
        end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz)
        return end.astimezone(UTC)
    raise ValueError(f"未知时限单位 / unknown time limit unit: {unit!r}")


def deadline_for(
    category_hours: Mapping[str, float],
    unit: DeadlineUnit,
    priority: Priority,
    start: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> datetime:
    """The deadline for a case of a category whose limits are keyed by priority.

    A priority the category does not list falls back to its "normal" limit.
    """
    amount = category_hours.get(priority, category_hours.get(FALLBACK_PRIORITY))
    if amount is None:
        raise ValueError(
            f"该类别未设置“{priority}”或“{FALLBACK_PRIORITY}”优先级的办理时限 / "
            f"the category has no time limit for priority {priority!r} "
            f"nor for {FALLBACK_PRIORITY!r}"
        )
    return compute_deadline(start, amount, unit, calendar=calendar, tz=tz)


def extend_deadline(current: datetime, requested: datetime, now: datetime) -> datetime:
    """The new deadline of an approved extension (延期): later than the current one and than now."""
    for name, moment in (("current", current), ("requested", requested), ("now", now)):
        _require_aware(name, moment)
    if requested <= current:
        raise ValueError(
            "延期后的期限必须晚于当前期限 / "
            "the extended deadline must be later than the current one"
        )
    if requested <= now:
        raise ValueError("延期后的期限必须晚于现在 / the extended deadline must be in the future")
    return requested.astimezone(UTC)


def is_overdue(deadline: datetime | None, now: datetime) -> bool:
    """Whether `now` is past the deadline; a case without a deadline is never overdue."""
    _require_aware("now", now)
    if deadline is None:
        return False
    _require_aware("deadline", deadline)
    return now > deadline


def overdue_hours(deadline: datetime | None, now: datetime) -> float:
    """Hours past the deadline at `now`; 0 when not overdue or without a deadline."""
    overdue = is_overdue(deadline, now)
    if deadline is None or not overdue:
        return 0.0
    return (now - deadline).total_seconds() / 3600
