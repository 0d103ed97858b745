"""The working-day calendar: the bundled State Council arrangements and the rules around them."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.domain.calendar import WorkCalendar, from_mapping, load, validate_mapping


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load()


def days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


# Straight from the notices: 国办发明电〔2023〕7号 (2024), 〔2024〕12号 (2025), 〔2025〕7号 (2026).
DAYS_OFF = [
    *days("2024-02-10", "2024-02-17"),  # 春节 2024
    *days("2024-10-01", "2024-10-07"),
    date(2025, 1, 1),
    *days("2025-01-28", "2025-02-04"),  # 春节 2025, from 除夕
    *days("2025-05-01", "2025-05-05"),
    *days("2025-05-31", "2025-06-02"),  # 端午 2025 starts on a Saturday
    *days("2025-10-01", "2025-10-08"),  # 国庆 + 中秋 2025
    *days("2026-01-01", "2026-01-03"),
    *days("2026-02-15", "2026-02-23"),  # 春节 2026, 9 days
    *days("2026-10-01", "2026-10-07"),
]
MAKEUP_WORKDAYS = [
    date(2024, 2, 4),  # Sunday
    date(2024, 2, 18),  # Sunday
    date(2024, 5, 11),  # Saturday
    date(2024, 9, 29),  # Sunday
    date(2025, 1, 26),  # Sunday
    date(2025, 2, 8),  # Saturday
    date(2025, 4, 27),  # Sunday
    date(2025, 9, 28),  # Sunday
    date(2025, 10, 11),  # Saturday
    date(2026, 1, 4),  # Sunday
    date(2026, 2, 14),  # Saturday
    date(2026, 2, 28),  # Saturday
    date(2026, 9, 20),  # Sunday
]
ORDINARY = [
    (date(2025, 10, 9), True),  # Thursday after National Day
    (date(2025, 10, 12), False),  # Sunday
    (date(2025, 6, 3), True),  # Tuesday after 端午
    (date(2024, 12, 31), True),  # 2024 New Year's Eve is not a holiday
    (date(2025, 1, 25), False),  # the Saturday before the 2025-01-26 make-up Sunday
]


@pytest.mark.parametrize("day", DAYS_OFF, ids=str)
def test_holidays_are_days_off(cal: WorkCalendar, day: date) -> None:
    assert not cal.is_workday(day)


@pytest.mark.parametrize("day", MAKEUP_WORKDAYS, ids=str)
def test_makeup_weekend_days_are_workdays(cal: WorkCalendar, day: date) -> None:
    assert day.weekday() >= 5
    assert cal.is_workday(day)


@pytest.mark.parametrize(("day", "works"), ORDINARY, ids=str)
def test_ordinary_days(cal: WorkCalendar, day: date, works: bool) -> None:
    assert cal.is_workday(day) is works


@pytest.mark.parametrize(
    ("year", "holidays", "makeup", "workdays", "notice"),
    [
        (2024, 28, 8, 251, "国办发明电〔2023〕7号"),
        (2025, 28, 5, 248, "国办发明电〔2024〕12号"),
        (2026, 33, 6, 248, "国办发明电〔2025〕7号"),
    ],
)
def test_bundled_years(
    cal: WorkCalendar, year: int, holidays: int, makeup: int, workdays: int, notice: str
) -> None:
    assert cal.covers(year)
    assert notice in (cal.source(year) or "")
    assert sum(1 for d in cal.holidays if d.year == year) == holidays
    assert sum(1 for d in cal.makeup_workdays if d.year == year) == makeup
    # working days in the year, as published in the press each year
    assert cal.workdays_between(date(year - 1, 12, 31), date(year, 12, 31)) == workdays


def test_outside_the_data_plain_weekdays(cal: WorkCalendar) -> None:
    assert not cal.covers(2023)
    assert not cal.covers(2030)
    assert cal.source(2030) is None
    assert cal.is_workday(date(2030, 1, 1))  # a Tuesday; its 元旦 is unknown here
    assert not cal.is_workday(date(2030, 1, 5))  # Saturday
    assert cal.next_workday(date(2030, 1, 4)) == date(2030, 1, 7)


@pytest.mark.parametrize(
    ("day", "after"),
    [
        (date(2025, 9, 26), date(2025, 9, 28)),  # Friday → the make-up Sunday
        (date(2025, 9, 30), date(2025, 10, 9)),  # over National Day
        (date(2025, 1, 27), date(2025, 2, 5)),  # over the Spring Festival
        (date(2025, 10, 9), date(2025, 10, 10)),
        (date(2025, 12, 31), date(2026, 1, 4)),  # 元旦 2026, then a make-up Sunday
    ],
)
def test_next_workday(cal: WorkCalendar, day: date, after: date) -> None:
    assert cal.next_workday(day) == after


def test_add_workdays(cal: WorkCalendar) -> None:
    assert cal.add_workdays(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert cal.add_workdays(date(2025, 1, 27), 4) == date(2025, 2, 8)  # the make-up Saturday
    with pytest.raises(ValueError):
        cal.add_workdays(date(2025, 1, 27), -1)


def test_workdays_between_matches_counting_day_by_day(cal: WorkCalendar) -> None:
    start = date(2024, 12, 20)
    span = [start + timedelta(days=i) for i in range(0, 420, 3)]
    for a in span[::7]:
        for b in span:
            lo, hi = min(a, b), max(a, b)
            count = sum(
                1 for i in range(1, (hi - lo).days + 1) if cal.is_workday(lo + timedelta(days=i))
            )
            assert cal.workdays_between(a, b) == (count if b >= a else -count), (a, b)


def test_workdays_between_known_values(cal: WorkCalendar) -> None:
    assert cal.workdays_between(date(2025, 10, 1), date(2025, 10, 1)) == 0
    # October 2025: 23 weekdays, 6 of them off, plus Saturday 10-11
    assert cal.workdays_between(date(2025, 9, 30), date(2025, 10, 31)) == 18
    assert cal.workdays_between(date(2025, 10, 31), date(2025, 9, 30)) == -18
    for n in range(6):
        assert cal.workdays_between(date(2025, 1, 24), cal.add_workdays(date(2025, 1, 24), n)) == n


def test_a_datetime_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        cal.is_workday(datetime(2025, 10, 1, 12))


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="both a holiday and a make-up workday"):
        WorkCalendar(frozenset({date(2025, 9, 28)}), frozenset({date(2025, 9, 28)}))
    with pytest.raises(ValueError, match="not a Saturday or Sunday"):
        WorkCalendar(frozenset(), frozenset({date(2025, 9, 29)}))


def sample() -> dict[str, Any]:
    return {
        "years": {
            "2025": {
                "holidays": ["2025-10-01", "2025-10-02"],
                "workdays": ["2025-09-28"],
                "source": "国办发明电〔2024〕12号",
            }
        }
    }


def test_from_mapping() -> None:
    cal = from_mapping(sample())
    assert cal.covers(2025)
    assert not cal.is_workday(date(2025, 10, 1))
    assert cal.is_workday(date(2025, 9, 28))
    assert cal.is_workday(date(2025, 10, 3))  # not in this small sample


def test_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps(sample(), ensure_ascii=False), encoding="utf-8")
    assert load(str(path)) == from_mapping(sample())


def test_bundled_file_is_valid() -> None:
    bundled = Path(__file__).parents[3] / "server" / "data" / "holidays_cn.json"
    data = json.loads(bundled.read_text(encoding="utf-8"))
    validate_mapping(data)
    assert load() == from_mapping(data)


DELETE = object()


def edit(path: str, value: Any) -> dict[str, Any]:
    data = sample()
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (edit("years.2025.holidays", ["2025-13-01"]), "'2025-13-01' 不是 YYYY-MM-DD"),
        (edit("years.2025.holidays", ["20251001"]), "is not a YYYY-MM-DD date"),
        (edit("years.2025.holidays", [20251001]), "is not a YYYY-MM-DD date"),
        (edit("years.2025.holidays", "2025-10-01"), "must be a list of dates"),
        (edit("years.2025.holidays", ["2025-10-01", "2025-10-01"]), "listed twice"),
        (edit("years.2025.holidays", ["2031-10-01"]), "does not belong to 2025"),
        (edit("years.2025.workdays", ["2025-10-01"]), "both a holiday and a make-up workday"),
        (edit("years.2025.workdays", ["2025-09-29"]), "2025-09-29"),
        (edit("years.2025.source", " "), "must name the notice"),
        (edit("years.2025.source", DELETE), "keys must be exactly"),
        (edit("years.2025.holiday", []), "keys must be exactly"),
        (edit("years.25", sample()["years"]["2025"]), "year key must be four digits"),
        (edit("years", {}), "non-empty object"),
        (edit("extra", 1), "unknown keys: extra"),
        (
            edit(
                "years.2026",
                {"holidays": ["2025-09-28"], "workdays": [], "source": "x"},
            ),
            "years disagree",
        ),
    ],
)
def test_validate_mapping_names_the_fault(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_mapping(data)
    with pytest.raises(ValueError):
        from_mapping(data)


def test_every_fault_is_named_with_its_line() -> None:
    from server.domain.calendar import find_problems, line_of

    data = {
        "years": {
            "2031": {
                "holidays": ["2031-01-01", "2031-13-01", "2031-01-01", "2029-05-01"],
                "workdays": ["2031-09-29", "2031-01-01"],
                "source": "测试数据 / test data",
            },
            "2032": {"holidays": ["2032-01-01"], "workdays": [], "source": " "},
        }
    }
    text = json.dumps(data, ensure_ascii=False, indent=2)
    problems = find_problems(data)
    found = [(str(p), line_of(text, p)) for p in problems]
    lines = text.splitlines()
    assert len(found) == 7, found  # 2031-01-01 is also a Wednesday
    for message, line in found:
        assert line is not None, message
    for problem, (message, line) in zip(problems, found, strict=True):
        if problem.item:  # the date at fault is on that line
            assert json.dumps(problem.value or problem.item) in lines[line - 1], message
    reasons = [m.split(" / ")[1] for m, _ in found]
    first = next(i for i, text_line in enumerate(lines, 1) if '"2031-01-01"' in text_line)
    workdays = next(i for i, text_line in enumerate(lines, 1) if '"workdays"' in text_line)
    assert found[reasons.index("is listed twice")][1] > first  # the repeat, not the first
    assert found[reasons.index("both a holiday and a make-up workday")][1] > workdays
    assert '"source": " "' in lines[found[reasons.index("must name the notice")][1] - 1]
    with pytest.raises(ValueError) as refused:
        validate_mapping(data)
    assert len(str(refused.value).splitlines()) == 7
    assert find_problems(sample()) == []


def test_a_fault_of_the_whole_file_has_no_line() -> None:
    from server.domain.calendar import find_problems, line_of

    (problem,) = find_problems([])
    assert line_of("[]", problem) is None and "must be an object" in str(problem)
