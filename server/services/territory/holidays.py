"""The holiday calendar is data an admin loads, a year at a time, from the State Council's
notice (published late in the year before). Years loaded here replace the bundled ones; a
year nobody loaded is computed with weekends only, and from 1 December the service warns
while next year is missing. Dates are never invented.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.calendar import Problem, WorkCalendar, find_problems, line_of
from server.errors import Invalid
from server.models import HolidayYear
from server.services.uow import UnitOfWork


def load_years(uow: UnitOfWork, data: Mapping[str, Any], text: str | None = None) -> list[int]:
    """Store the years of a holiday file (the bundled file's format), validated: every date
    once and in its year, make-up workdays (调休) on weekends, no day both. Loading a year
    again replaces it; a file with any fault stores nothing and is refused naming every fault
    (with its line when `text`, the file as sent, is given). The years loaded."""
    problems = find_problems(data)
    if problems:
        raise refusal(problems, text)
    loaded = []
    for year, entry in data["years"].items():
        row = uow.session.get(HolidayYear, int(year)) or HolidayYear(year=int(year))
        row.holidays = sorted(entry["holidays"])
        row.workdays = sorted(entry["workdays"])
        row.source = str(entry["source"]).strip()[:300]
        row.loaded_at = uow.now
        uow.session.add(row)
        loaded.append(int(year))
    return sorted(loaded)


def load_file(uow: UnitOfWork, text: str) -> list[int]:
    """`load_years` of a JSON file's text."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise Invalid(
            "invalid_holidays",
            f"not JSON: {exc}",
            f"不是有效的 JSON：{exc}",
            field="file",
            details=[
                {
                    "line": line,
                    "where": "",
                    "message": f"not JSON: {exc}",
                    "message_zh": f"不是有效的 JSON：{exc}",
                }
            ],
        ) from None
    return load_years(uow, data, text)


def report(problems: list[Problem], text: str | None) -> list[dict[str, Any]]:
    """The faults of a holiday file, one a line, each in both languages and with its line in
    the file when it can be found."""
    out = []
    for problem in problems:
        line = line_of(text, problem) if text is not None else None
        subject = f"{problem.where}: {problem.item} " if problem.item else ""
        if problem.where and not problem.item:
            subject = f"{problem.where}: "
        out.append(
            {
                "line": line,
                "where": problem.where,
                "message_zh": (f"第 {line} 行，" if line else "") + f"{subject}{problem.zh}",
                "message": (f"line {line}, " if line else "") + f"{subject}{problem.en}",
            }
        )
    return out


def refusal(problems: list[Problem], text: str | None) -> Invalid:
    """One refusal naming every fault, one a line (the CLI prints them all; `details` has
    them as a list for pages and API clients)."""
    lines = report(problems, text)
    return Invalid(
        "invalid_holidays",
        "\n".join(d["message"] for d in lines),
        "\n".join(d["message_zh"] for d in lines),
        field="file",
        details=lines,
    )


def with_loaded_years(session: Session, base: WorkCalendar) -> WorkCalendar:
    """`base` (bundled or MINQING_HOLIDAYS_FILE) with every loaded year replacing its own."""
    rows = list(session.scalars(select(HolidayYear)))
    if not rows:
        return base
    replaced = {row.year for row in rows}
    holidays = {d for d in base.holidays if d.year not in replaced}
    workdays = {d for d in base.makeup_workdays if d.year not in replaced}
    sources = {y: s for y in base.years if y not in replaced and (s := base.source(y))}
    for row in rows:
        holidays.update(date.fromisoformat(d) for d in row.holidays)
        workdays.update(date.fromisoformat(d) for d in row.workdays)
        sources[row.year] = row.source
    return WorkCalendar(
        holidays=frozenset(holidays),
        makeup_workdays=frozenset(workdays),
        years=frozenset(base.years | replaced),
        sources=MappingProxyType(sources),
    )


def warnings(calendar: WorkCalendar, today: date) -> list[dict[str, str]]:
    """What an operator must know: this year missing, or next year missing from 1 December."""
    out = []
    if not calendar.covers(today.year):
        out.append(_missing(today.year))
    if today.month == 12 and not calendar.covers(today.year + 1):
        out.append(_missing(today.year + 1))
    return out


def _missing(year: int) -> dict[str, str]:
    return {
        "code": "holidays_missing",
        "message": (
            f"No holiday calendar for {year}: deadlines in {year} count weekends only. Load the "
            f"State Council's notice on the admin page 节假日 or with `minqing holidays load FILE`."
        ),
        "message_zh": (
            f"缺少 {year} 年节假日安排：{year} 年的期限只按周末计算。请用 "
            "管理 → 节假日页面或 `minqing holidays load 文件` 导入国务院办公厅通知。"
        ),
    }


def runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) blocks: 2026-10-01 … 2026-10-08 as one."""
    blocks: list[tuple[date, date]] = []
    for day in sorted(days):
        if blocks and (day - blocks[-1][1]).days == 1:
            blocks[-1] = (blocks[-1][0], day)
        else:
            blocks.append((day, day))
    return blocks


def overview(calendar: WorkCalendar) -> list[dict[str, Any]]:
    """Each year the calendar covers, newest first: its notice, whether an admin loaded it
    (when) or it came with the software, and its days off (in blocks) and make-up workdays."""
    from server.extensions import db

    loaded = {row.year: row.loaded_at for row in db.session.scalars(select(HolidayYear))}
    out = []
    for year in sorted(calendar.years, reverse=True):
        days_off = [d for d in calendar.holidays if d.year == year]
        out.append(
            {
                "year": year,
                "source": calendar.source(year),
                "loaded_at": loaded.get(year),
                "holidays": runs(days_off),
                "holiday_count": len(days_off),
                "workdays": sorted(d for d in calendar.makeup_workdays if d.year == year),
            }
        )
    return out
