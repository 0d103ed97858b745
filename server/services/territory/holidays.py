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

from server.domain.calendar import WorkCalendar, validate_mapping
from server.errors import Invalid
from server.models import HolidayYear
from server.services.uow import UnitOfWork


def load_years(uow: UnitOfWork, data: Mapping[str, Any]) -> list[int]:
    """Store the years of a holiday file (the bundled file's format), validated: every date
    once and in its year, make-up workdays (调休) on weekends, no day both. Loading a year
    again replaces it. The years loaded."""
    try:
        validate_mapping(data)
    except ValueError as exc:
        raise Invalid("invalid_holidays", str(exc), str(exc), field="file") from None
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
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Invalid(
            "invalid_holidays", f"not JSON: {exc}", f"不是有效的 JSON：{exc}", field="file"
        ) from None
    return load_years(uow, data)


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
