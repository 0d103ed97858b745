"""The working-day calendar (工作日历) of mainland China, for Asia/Shanghai local dates.

A day is a working day when it is Monday to Friday and not a public holiday (法定节假日),
or when it is a weekend day that the State Council made a make-up workday (调休上班).
Holidays and make-up workdays come from the yearly notice of the General Office of the
State Council (国务院办公厅关于…部分节假日安排的通知); for a year the data does not cover,
the calendar falls back to plain Monday to Friday and `covers()` says so.

The data is a mapping shaped like the bundled ``server/data/holidays_cn.json``::

    {"years": {"2026": {"holidays": ["2026-01-01", ...], "workdays": ["2026-01-04", ...],
                        "source": "…（国办发明电〔2025〕7号）"}}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from types import MappingProxyType
from typing import Any

SATURDAY = 5
YEAR_KEYS = frozenset({"holidays", "workdays", "source"})
TOP_KEYS = frozenset({"years", "description"})


@dataclass(frozen=True)
class WorkCalendar:
    """Public holidays and make-up workdays; every other day follows the Mon–Fri week."""

    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    years: frozenset[int] = frozenset()
    sources: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)

    def __post_init__(self) -> None:
        problems = _conflicts(self.holidays, self.makeup_workdays)
        if problems:
            raise ValueError("节假日数据有误 / invalid holiday data: " + "; ".join(problems))

    def is_workday(self, d: date) -> bool:
        """Whether offices work on local date `d`."""
        _require_date(d)
        if d in self.holidays:
            return False
        if d in self.makeup_workdays:
            return True
        return d.weekday() < SATURDAY

    def next_workday(self, d: date) -> date:
        """The first working day strictly after `d`."""
        _require_date(d)
        day = d + timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, d: date, n: int) -> date:
        """The `n`-th working day after `d` (`d` itself never counts); `d` when `n` is 0."""
        if n < 0:
            raise ValueError(f"工作日数不能为负 / number of working days must not be negative: {n}")
        day = d
        for _ in range(n):
            day = self.next_workday(day)
        return day

    def workdays_between(self, a: date, b: date) -> int:
        """Working days after `a` up to and including `b`; negative when `b` is before `a`.

        Counted like a deadline: the first day does not count, the last does, so
        ``workdays_between(d, add_workdays(d, n)) == n``.
        """
        _require_date(a)
        _require_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        full_weeks, rest = divmod((b - a).days, 7)
        count = 5 * full_weeks
        count += sum(1 for i in range(1, rest + 1) if (a + timedelta(days=i)).weekday() < SATURDAY)
        count -= sum(1 for h in self.holidays if a < h <= b and h.weekday() < SATURDAY)
        count += sum(1 for w in self.makeup_workdays if a < w <= b)
        return count

    def covers(self, year: int) -> bool:
        """Whether the published arrangement for `year` is in the data."""
        return year in self.years

    def source(self, year: int) -> str | None:
        """The notice the data for `year` comes from."""
        return self.sources.get(year)


def _require_date(d: date) -> None:
    # datetime is a date subclass but never equal to one: a UTC datetime here would silently
    # miss every holiday, so insist on the local date.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a local date, got {type(d).__name__}: {d!r}")


def _conflicts(holidays: Iterable[date], workdays: Iterable[date]) -> list[str]:
    problems = []
    both = sorted(set(holidays) & set(workdays))
    if both:
        days = ", ".join(d.isoformat() for d in both)
        problems.append(f"既是放假日又是调休上班日 / both a holiday and a make-up workday: {days}")
    weekdays = sorted(d for d in workdays if d.weekday() < SATURDAY)
    if weekdays:
        days = ", ".join(d.isoformat() for d in weekdays)
        problems.append(f"调休上班日不是周末 / make-up workday is not a Saturday or Sunday: {days}")
    return problems


@dataclass(frozen=True)
class Problem:
    """One fault in holiday data: where (``2031.holidays``), the date at fault (if one), and
    the reason in Chinese and English. ``occurrence`` is which listing of the date is meant
    (1: the first; 2: the repeat of a date listed twice)."""

    where: str
    zh: str
    en: str
    item: str | None = None
    occurrence: int = 1
    value: Any = None  # the value as the file has it, to find its line

    def __str__(self) -> str:
        subject = f"{self.where}: {self.item} " if self.item else f"{self.where}: "
        return f"{subject}{self.zh} / {self.en}" if self.where else f"{self.zh} / {self.en}"


def _parse_dates(year: str, key: str, value: Any, problems: list[Problem]) -> list[date]:
    where = f"{year}.{key}"
    if not isinstance(value, list):
        problems.append(Problem(where, "应为日期列表", "must be a list of dates"))
        return []
    days: list[date] = []
    for item in value:
        try:
            day = date.fromisoformat(item) if isinstance(item, str) else None
        except ValueError:
            day = None
        # fromisoformat also takes 20250101 and week dates; the file uses YYYY-MM-DD only
        if day is None or day.isoformat() != item:
            problems.append(
                Problem(
                    where,
                    "不是 YYYY-MM-DD 日期",
                    "is not a YYYY-MM-DD date",
                    repr(item),
                    value=item,
                )
            )
            continue
        if abs(day.year - int(year)) > 1:
            # a notice can reach into the neighbouring year (元旦), never further
            problems.append(
                Problem(where, f"不属于 {year} 年", f"does not belong to {year}", item, value=item)
            )
            continue
        if day in days:
            problems.append(
                Problem(where, "重复", "is listed twice", item, occurrence=2, value=item)
            )
            continue
        days.append(day)
    return days


def _conflict_problems(
    year: str, holidays: Iterable[date], workdays: Iterable[date]
) -> list[Problem]:
    problems = []
    for d in sorted(set(holidays) & set(workdays)):
        problems.append(
            Problem(
                f"{year}.workdays",
                "既是放假日又是调休上班日",
                "both a holiday and a make-up workday",
                d.isoformat(),
            )
        )
    for d in sorted(d for d in workdays if d.weekday() < SATURDAY):
        problems.append(
            Problem(
                f"{year}.workdays",
                "调休上班日不是周末",
                "make-up workday is not a Saturday or Sunday",
                d.isoformat(),
            )
        )
    return problems


def find_problems(data: Any) -> list[Problem]:
    """Every fault in holiday data (empty when it is sound): the file's shape, then each year
    on its own, then days two years disagree on."""
    if not isinstance(data, Mapping):
        return [Problem("", "节假日数据应为对象", "holiday data must be an object")]
    problems: list[Problem] = []
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        names = ", ".join(map(str, unknown))
        problems.append(Problem("", f"未知字段：{names}", f"unknown keys: {names}"))
    years = data.get("years")
    if not isinstance(years, Mapping) or not years:
        problems.append(
            Problem("", "缺少 years", "'years' must be a non-empty object keyed by year")
        )
        return problems
    seen: dict[date, str] = {}
    for year, entry in years.items():
        if not (isinstance(year, str) and len(year) == 4 and year.isdigit()):
            problems.append(Problem(str(year), "年份应为四位数字", "year key must be four digits"))
            continue
        if not isinstance(entry, Mapping):
            problems.append(Problem(year, "应为对象", "must be an object"))
            continue
        if set(entry) != YEAR_KEYS:
            problems.append(
                Problem(
                    year,
                    f"字段应为 {sorted(YEAR_KEYS)}",
                    f"keys must be exactly {sorted(YEAR_KEYS)}, got {sorted(entry)}",
                )
            )
            continue
        source = entry["source"]
        if not isinstance(source, str) or not source.strip():
            problems.append(Problem(f"{year}.source", "应注明通知文号", "must name the notice"))
        holidays = _parse_dates(year, "holidays", entry["holidays"], problems)
        workdays = _parse_dates(year, "workdays", entry["workdays"], problems)
        problems.extend(_conflict_problems(year, holidays, workdays))
        for d, kind in [(d, "holidays") for d in holidays] + [(d, "workdays") for d in workdays]:
            other = seen.setdefault(d, f"{year}.{kind}")
            other_year, other_kind = other.split(".")
            if other_year != year and other_kind != kind:
                problems.append(
                    Problem(
                        f"{year}.{kind}",
                        f"年份之间矛盾：另见 {other}",
                        f"years disagree: see also {other}",
                        d.isoformat(),
                    )
                )
    return problems


def validate_mapping(data: Mapping[str, Any]) -> None:
    """Raise ValueError naming every fault in holiday data, one a line; None when sound."""
    problems = find_problems(data)
    if problems:
        raise ValueError("\n".join(map(str, problems)))


def line_of(text: str, problem: Problem) -> int | None:
    """The line of the JSON `text` a problem is on (1-based), found by its year, key and date;
    None when the text does not show it plainly (e.g. a fault of the whole file)."""
    if not problem.where:
        return None
    year, _, key = problem.where.partition(".")
    found = re.search(rf'"{re.escape(year)}"\s*:', text)
    if found is None:
        return None
    pos = found.start()
    if key:
        at = text.find(f'"{key}"', pos)
        if at < 0:
            return None
        pos = at
    if problem.item:
        value = problem.item if problem.value is None else problem.value
        needle = json.dumps(value, ensure_ascii=False)
        for _ in range(problem.occurrence):
            at = text.find(needle, pos + 1 if _ else pos)
            if at < 0:
                return None
            pos = at
    return text.count("\n", 0, pos) + 1


def from_mapping(data: Mapping[str, Any]) -> WorkCalendar:
    """Build a calendar from holiday data after validating it."""
    validate_mapping(data)
    years: Mapping[str, Mapping[str, Any]] = data["years"]
    return WorkCalendar(
        holidays=frozenset(date.fromisoformat(d) for y in years.values() for d in y["holidays"]),
        makeup_workdays=frozenset(
            date.fromisoformat(d) for y in years.values() for d in y["workdays"]
        ),
        years=frozenset(int(y) for y in years),
        sources=MappingProxyType({int(y): v["source"] for y, v in years.items()}),
    )


def load(path: str | None = None) -> WorkCalendar:
    """The calendar in the JSON file at `path`, or the bundled ``server/data/holidays_cn.json``."""
    if path is None:
        text = (resources.files("server") / "data" / "holidays_cn.json").read_text("utf-8")
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    return from_mapping(json.loads(text))
