"""Case categories with their default priority and deadlines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin


class Category(TimestampMixin, Base):
    """事项分类: what kind of problem a case is, and how fast it must be handled."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(
            "default_priority IN ('low', 'normal', 'high', 'urgent')", name="default_priority"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    default_priority: Mapped[str] = mapped_column(String(8), default="normal")
    # priority -> hours to handle, e.g. {"urgent": 4, "high": 24, "normal": 72, "low": 168}
    deadline_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
