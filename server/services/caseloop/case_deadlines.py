"""Deadlines of dispatched cases, from the category's hours and the working calendar."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

from server.domain.calendar import WorkCalendar, load
from server.domain.deadlines import deadline_for
from server.models import Case


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
    category = case.category
    return deadline_for(
        category.deadline_hours,
        category.deadline_unit,  # type: ignore[arg-type]
        case.priority,  # type: ignore[arg-type]
        start,
        calendar=calendar(),
        tz=local_zone(),
    )
