"""The published sentiment index (民情指数) and the daily bulletins (播报)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, utcnow


class SentimentIndex(Base):
    """One day's index for one grid or community, with the components that explain it."""

    __tablename__ = "sentiment_index"
    __table_args__ = (
        UniqueConstraint("day", "level", "area_id", name="day_level_area"),
        CheckConstraint("level IN ('grid', 'community')", name="level"),
        Index("ix_sentiment_index_area_day", "level", "area_id", "day"),
        Index("ix_sentiment_index_scope_day", "subdistrict_id", "level", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(10))
    area_id: Mapped[int] = mapped_column(Integer)  # grid id or community id
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    formula_version: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Bulletin(Base):
    """The daily 播报 of a community, as delivered and as the public board shows it."""

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("day", "community_id", name="day_community"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    previous: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
