"""Patrol slots from schedules: local times, weekdays, holidays, windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.domain.schedules import Slot, on_time, parse_times, slots_between

SH = ZoneInfo("Asia/Shanghai")


def slots(start: datetime, end: datetime, **kw: object) -> list[Slot]:
    args: dict[str, object] = {
        "times": ["09:00", "15:00"],
        "weekdays": range(1, 8),
        "tolerance": timedelta(minutes=60),
        "valid_from": date(2025, 1, 1),
        "valid_to": None,
        "holidays": set(),
        "skip_holidays": True,
        "tz": SH,
        "start": start,
        "end": end,
    }
    args.update(kw)
    return slots_between(**args)  # type: ignore[arg-type]


def test_a_day_has_two_slots_in_local_time() -> None:
    # 2025-03-03 is a Monday; 09:00 Shanghai is 01:00 UTC
    got = slots(datetime(2025, 3, 3, 0, 0, tzinfo=UTC), datetime(2025, 3, 4, 0, 0, tzinfo=UTC))
    assert [s.due_at for s in got] == [
        datetime(2025, 3, 3, 1, 0, tzinfo=UTC),
        datetime(2025, 3, 3, 7, 0, tzinfo=UTC),
    ]
    assert got[0].window_end == datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def test_only_slots_whose_window_closed_in_the_range() -> None:
    # at 09:30 local the 09:00 slot's window (until 10:00) has not closed yet
    got = slots(datetime(2025, 3, 3, 0, 0, tzinfo=UTC), datetime(2025, 3, 3, 1, 30, tzinfo=UTC))
    assert got == []
    got = slots(datetime(2025, 3, 3, 0, 0, tzinfo=UTC), datetime(2025, 3, 3, 2, 0, 1, tzinfo=UTC))
    assert len(got) == 1


def test_weekdays_holidays_and_validity() -> None:
    week = (datetime(2025, 9, 29, 0, 0, tzinfo=UTC), datetime(2025, 10, 6, 0, 0, tzinfo=UTC))
    workdays_only = slots(*week, weekdays={1, 2, 3, 4, 5}, times=["09:00"])
    assert len(workdays_only) == 5  # Mon 9-29 … Fri 10-3
    holidays = {date(2025, 10, d) for d in range(1, 9)}
    assert len(slots(*week, times=["09:00"], holidays=holidays)) == 2  # 9-29, 9-30
    assert len(slots(*week, times=["09:00"], holidays=holidays, skip_holidays=False)) == 7
    assert len(slots(*week, times=["09:00"], valid_from=date(2025, 10, 4))) == 2
    assert len(slots(*week, times=["09:00"], valid_to=date(2025, 9, 30))) == 2


def test_on_time_window() -> None:
    slot = Slot(
        due_at=datetime(2025, 3, 3, 1, tzinfo=UTC),
        window_start=datetime(2025, 3, 3, 0, tzinfo=UTC),
        window_end=datetime(2025, 3, 3, 2, tzinfo=UTC),
    )
    assert on_time(datetime(2025, 3, 3, 0, 30, tzinfo=UTC), slot)
    assert not on_time(datetime(2025, 3, 3, 2, 1, tzinfo=UTC), slot)


@pytest.mark.parametrize("bad", [[], ["9:00"], ["24:00"], ["09:60"], ["nine"]])
def test_bad_times(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_times(bad)
