"""Deadlines: calendar hours, working days as offices count them, extensions and overdue."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.domain.calendar import WorkCalendar, load
from server.domain.deadlines import (
    compute_deadline,
    deadline_for,
    extend_deadline,
    is_overdue,
    overdue_hours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL: WorkCalendar = load()


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def end_of(day: date) -> datetime:
    """Local midnight after `day`, in UTC: the moment a working-day deadline falls."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("start", "n", "due_day"),
    [
        # Friday afternoon; Sunday 09-28 was a make-up workday for National Day 2025
        pytest.param(local(2025, 9, 26, 15), 2, date(2025, 9, 29), id="makeup-sunday"),
        pytest.param(local(2025, 9, 30, 10), 1, date(2025, 10, 9), id="national-day-2025"),
        pytest.param(local(2025, 9, 30, 10), 3, date(2025, 10, 11), id="makeup-saturday"),
        # Monday before 除夕: 01-28..02-04 off, then Wed 02-05, Thu, Fri, Sat 02-08 (make-up), Mon
        pytest.param(local(2025, 1, 27, 9), 3, date(2025, 2, 7), id="spring-festival-2025"),
        pytest.param(local(2025, 1, 27, 9), 5, date(2025, 2, 10), id="spring-festival-2025-long"),
        pytest.param(local(2026, 2, 13, 10), 2, date(2026, 2, 24), id="spring-festival-2026"),
        # received on a holiday: it does not count, the next working day does
        pytest.param(local(2025, 5, 3, 10), 1, date(2025, 5, 6), id="start-on-labour-day"),
        pytest.param(local(2024, 2, 12, 10), 1, date(2024, 2, 18), id="start-on-spring-festival"),
        pytest.param(local(2025, 9, 28, 9), 1, date(2025, 9, 29), id="start-on-makeup-day"),
        # just after local midnight: local date 09-26 (Fri), UTC date still 09-25 (Thu)
        pytest.param(utc(2025, 9, 25, 16, 30), 1, date(2025, 9, 28), id="late-night-utc"),
        # 2025-09-30T17:00Z is 10-01 01:00 in Shanghai, a holiday
        pytest.param(utc(2025, 9, 30, 17), 1, date(2025, 10, 9), id="late-night-holiday"),
        pytest.param(local(2025, 12, 31, 16), 1, date(2026, 1, 4), id="new-year-2026"),
        pytest.param(local(2030, 1, 4, 10), 1, date(2030, 1, 7), id="uncovered-year"),
        pytest.param(local(2025, 7, 15, 23, 59), 1, date(2025, 7, 16), id="summer"),
        pytest.param(local(2025, 1, 15, 0, 0), 1, date(2025, 1, 16), id="winter"),
    ],
)
def test_workdays(start: datetime, n: int, due_day: date) -> None:
    due = compute_deadline(start, n, "workdays", calendar=CAL, tz=SHANGHAI)
    assert due == end_of(due_day)
    assert due.tzinfo is UTC
    assert due.astimezone(SHANGHAI).time() == time(0)
    # Asia/Shanghai keeps +08:00 all year: the end of a day is always 16:00 UTC
    assert due.time() == time(16)
    received = start.astimezone(SHANGHAI).date()
    assert CAL.workdays_between(received, due_day) == n
    assert CAL.is_workday(due_day)


def test_workday_deadline_uses_the_local_date_not_the_utc_one() -> None:
    start = utc(2025, 9, 25, 16, 30)  # Friday 00:30 in Shanghai
    due = compute_deadline(start, 1, "workdays", calendar=CAL, tz=SHANGHAI)
    counted_from_utc_date = end_of(CAL.next_workday(date(2025, 9, 25)))
    assert due != counted_from_utc_date


def test_whole_float_workdays_are_accepted() -> None:
    start = local(2025, 9, 26, 15)
    assert compute_deadline(start, 2.0, "workdays", calendar=CAL, tz=SHANGHAI) == end_of(
        date(2025, 9, 29)
    )


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        pytest.param(utc(2025, 9, 30, 20), 8, utc(2025, 10, 1, 4), id="across-utc-midnight"),
        pytest.param(local(2025, 9, 30, 22), 4, local(2025, 10, 1, 2), id="across-local-midnight"),
        pytest.param(utc(2025, 3, 1, 8), 1.5, utc(2025, 3, 1, 9, 30), id="fractional"),
        # holidays do not stop the clock in calendar hours
        pytest.param(local(2025, 10, 1), 72, local(2025, 10, 4), id="over-a-holiday"),
        # an aware start in another zone counts elapsed time, not wall-clock time across DST
        pytest.param(
            datetime(2025, 3, 9, 1, tzinfo=ZoneInfo("America/New_York")),
            2,
            utc(2025, 3, 9, 8),
            id="dst-elsewhere",
        ),
    ],
)
def test_hours(start: datetime, hours: float, due: datetime) -> None:
    result = compute_deadline(start, hours, "hours", calendar=CAL, tz=SHANGHAI)
    assert result == due
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("amount", "unit"),
    [
        (0, "hours"),
        (-1, "hours"),
        (math.nan, "hours"),
        (math.inf, "hours"),
        (0, "workdays"),
        (1.5, "workdays"),
        (-2, "workdays"),
    ],
)
def test_bad_amounts_are_refused(amount: float, unit: str) -> None:
    with pytest.raises(ValueError):
        compute_deadline(local(2025, 9, 26), amount, unit, calendar=CAL, tz=SHANGHAI)  # type: ignore[arg-type]


def test_unknown_unit_and_naive_start_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown time limit unit"):
        compute_deadline(local(2025, 9, 26), 1, "days", calendar=CAL, tz=SHANGHAI)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadline(datetime(2025, 9, 26), 1, "hours", calendar=CAL, tz=SHANGHAI)


LIMITS = {"urgent": 4, "high": 24, "normal": 72}


@pytest.mark.parametrize(
    ("priority", "hours"),
    [("urgent", 4), ("high", 24), ("normal", 72), ("low", 72)],  # low falls back to normal
)
def test_deadline_for_picks_the_priority(priority: str, hours: float) -> None:
    start = utc(2025, 6, 1)
    due = deadline_for(LIMITS, "hours", priority, start, calendar=CAL, tz=SHANGHAI)  # type: ignore[arg-type]
    assert due == start + timedelta(hours=hours)


def test_deadline_for_in_workdays() -> None:
    start = local(2025, 9, 26, 15)
    due = deadline_for({"normal": 2}, "workdays", "high", start, calendar=CAL, tz=SHANGHAI)
    assert due == end_of(date(2025, 9, 29))


def test_deadline_for_without_a_limit_names_the_priority() -> None:
    with pytest.raises(ValueError, match="'low'") as caught:
        deadline_for({"urgent": 4}, "hours", "low", utc(2025, 6, 1), calendar=CAL, tz=SHANGHAI)
    assert "办理时限" in str(caught.value)


NOW = utc(2025, 6, 10, 12)
CURRENT = utc(2025, 6, 11)


def test_extension_later_than_both_is_granted() -> None:
    requested = local(2025, 6, 13, 18)
    assert extend_deadline(CURRENT, requested, NOW) == requested
    assert extend_deadline(CURRENT, requested, NOW).tzinfo is UTC


@pytest.mark.parametrize(
    ("current", "requested", "message"),
    [
        pytest.param(CURRENT, CURRENT, "later than the current one", id="same"),
        pytest.param(CURRENT, CURRENT - timedelta(hours=1), "当前期限", id="earlier"),
        # overdue already: an extension must still end in the future
        pytest.param(utc(2025, 6, 1), utc(2025, 6, 5), "must be in the future", id="in-the-past"),
        pytest.param(utc(2025, 6, 1), NOW, "晚于现在", id="exactly-now"),
    ],
)
def test_extension_refused(current: datetime, requested: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        extend_deadline(current, requested, NOW)


def test_extension_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        extend_deadline(CURRENT, datetime(2025, 6, 20), NOW)


@pytest.mark.parametrize(
    ("deadline", "now", "overdue", "hours"),
    [
        (None, NOW, False, 0.0),
        (NOW, NOW, False, 0.0),  # met exactly at the deadline
        (NOW, NOW + timedelta(microseconds=1), True, 1 / 3600e6),
        (NOW, NOW + timedelta(minutes=90), True, 1.5),
        (NOW, NOW - timedelta(days=1), False, 0.0),
        (end_of(date(2025, 9, 29)), local(2025, 9, 30, 9), True, 9.0),
    ],
)
def test_overdue(deadline: datetime | None, now: datetime, overdue: bool, hours: float) -> None:
    assert is_overdue(deadline, now) is overdue
    assert overdue_hours(deadline, now) == pytest.approx(hours)


def test_overdue_needs_aware_times() -> None:
    with pytest.raises(ValueError):
        is_overdue(NOW, datetime(2025, 6, 10))
    with pytest.raises(ValueError):
        overdue_hours(None, datetime(2025, 6, 10))
