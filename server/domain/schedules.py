"""Patrol schedules: which slots fall due when, in local time, honouring holidays."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Slot:
    """One scheduled patrol: due at `due_at`, done if a patrol starts within the window."""

    due_at: datetime  # UTC
    window_start: datetime
    window_end: datetime


def parse_times(times: Sequence[str]) -> list[time]:
    """ "09:00" → 09:00; refuses anything else with a bilingual message."""
    parsed = []
    for value in times:
        match = TIME.match(value)
        if not match:
            raise ValueError(f"时间格式应为 HH:MM / time must be HH:MM, not {value!r}")
        parsed.append(time(int(match.group(1)), int(match.group(2))))
    if not parsed:
        raise ValueError("至少需要一个巡逻时间 / at least one time is needed")
    return sorted(set(parsed))


def slots_between(
    *,
    times: Sequence[str],
    weekdays: Collection[int],
    tolerance: timedelta,
    valid_from: date,
    valid_to: date | None,
    holidays: Collection[date],
    skip_holidays: bool,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """The slots whose window closes in [start, end): those a sweep at `end` can judge."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    local_times = parse_times(times)
    first = (start - tolerance).astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    slots = []
    day = max(first, valid_from)
    while day <= last:
        if (
            (valid_to is None or day <= valid_to)
            and day.isoweekday() in weekdays
            and not (skip_holidays and day in holidays)
        ):
            for t in local_times:
                due = datetime.combine(day, t, tzinfo=tz).astimezone(UTC)
                window_end = due + tolerance
                if start <= window_end < end:
                    slots.append(
                        Slot(due_at=due, window_start=due - tolerance, window_end=window_end)
                    )
        day += timedelta(days=1)
    return slots


def on_time(started_at: datetime, slot: Slot) -> bool:
    """A patrol counts for a slot if it started within the tolerance around the due time."""
    return slot.window_start <= started_at <= slot.window_end
