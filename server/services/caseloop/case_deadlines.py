"""Deadlines of dispatched cases, from the category's hours and the working calendar."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from server.domain.calendar import WorkCalendar, load
from server.domain.deadlines import deadline_for
from server.models import Case, CaseEvent


@lru_cache(maxsize=4)
def _calendar(path: str | None) -> WorkCalendar:
    return load(path)


def calendar() -> WorkCalendar:
    """The deployment's holiday calendar: bundled (or MINQING_HOLIDAYS_FILE), with the years an
    admin loaded (`minqing holidays load`) replacing their own."""
    from server.extensions import db
    from server.services.territory.holidays import with_loaded_years

    return with_loaded_years(db.session, _calendar(current_app.config.get("HOLIDAYS_FILE")))


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["MINQING_TIMEZONE"])


def case_deadline(case: Case, start: datetime) -> datetime:
    """When a case dispatched at `start` must be handled, by its category and priority."""
    return _deadline(case, start, calendar())


def _deadline(case: Case, start: datetime, cal: WorkCalendar) -> datetime:
    category = case.category
    return deadline_for(
        category.deadline_hours,
        category.deadline_unit,  # type: ignore[arg-type]
        case.priority,  # type: ignore[arg-type]
        start,
        calendar=cal,
        tz=local_zone(),
    )


def weekends_only_years(
    case: Case, start: datetime, deadline: datetime, cal: WorkCalendar | None = None
) -> list[int]:
    """Years whose working days a deadline counted without a holiday calendar (weekends
    only): the days after `start` up to the deadline's last day, for a category counted in
    working days. Empty for calendar hours."""
    if case.category.deadline_unit != "workdays":
        return []
    tz = local_zone()
    first = (start.astimezone(tz) + timedelta(days=1)).date()
    last = (deadline.astimezone(tz) - timedelta(microseconds=1)).date()
    cal = cal or calendar()
    return [y for y in range(first.year, max(first.year, last.year) + 1) if not cal.covers(y)]


def computed_deadline(case: Case, start: datetime) -> tuple[datetime, list[int]]:
    """`case_deadline` and the years it counted with weekends only (recorded on the
    dispatch, so loading a calendar later does not change what the case says)."""
    cal = calendar()
    deadline = _deadline(case, start, cal)
    return deadline, weekends_only_years(case, start, deadline, cal)


def weekends_only_note(case: Case, events: Iterable[CaseEvent]) -> list[int]:
    """The years the case's current deadline was counted with weekends only, as recorded by
    the dispatch that set it (`weekends_only_years` in its payload); none once the deadline
    was typed in, extended or cleared. Dispatches recorded before this was kept say nothing."""
    if case.deadline_at is None:
        return []
    years: list[int] = []
    for event in events:
        if event.action == "dispatch":
            years = [int(y) for y in (event.payload or {}).get("weekends_only_years", [])]
        elif event.action in ("send_back", "approve_extension"):
            years = []
    return years


def weekends_only_text(years: list[int]) -> dict[str, Any] | None:
    """The case's note on such a deadline, in both languages (None without one)."""
    if not years:
        return None
    return {
        "code": "deadline_weekends_only",
        "years": years,
        "message_zh": f"截止时间按周末计算（{'、'.join(map(str, years))}年节假日未载入）",
        "message": (
            "deadline counted with weekends only "
            f"(holidays of {', '.join(map(str, years))} not loaded)"
        ),
    }
