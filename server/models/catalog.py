"""Case categories with their default priority and deadlines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin


class Category(TimestampMixin, Base):
    """事项分类: what kind of problem a case is, and how fast it must be handled."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(
            "default_priority IN ('low', 'normal', 'high', 'urgent')", name="default_priority"
        ),
        CheckConstraint("deadline_unit IN ('hours', 'workdays')", name="deadline_unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    default_priority: Mapped[str] = mapped_column(String(8), default="normal")
    # priority -> time to handle, e.g. {"urgent": 4, "high": 24, "normal": 72, "low": 168},
    # counted in calendar hours, or in working days when deadline_unit is "workdays".
    deadline_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    deadline_unit: Mapped[str] = mapped_column(String(8), default="hours", server_default="hours")
    # Open cases of this category nearer than this are shown as possible duplicates.
    duplicate_radius_m: Mapped[float] = mapped_column(Float, default=50.0, server_default="50")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
