"""Holiday calendars an admin loaded, one row per year (the State Council's yearly notice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class HolidayYear(Base):
    """One year's public holidays and make-up workdays (调休), replacing the bundled ones."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[Any]] = mapped_column(JSON)  # ["YYYY-MM-DD", …]
    workdays: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(300))  # the notice, e.g. 国办发明电〔2025〕7号
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
