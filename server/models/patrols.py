"""Patrols (巡逻): schedules, the slots they produce, patrol sessions with tracks, and logs.

Patrols and logs carry client-generated string ids so that a phone can create them offline.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import SRID, Base, TimestampMixin, UTCDateTime
from server.models.org import Grid


class PatrolSchedule(TimestampMixin, Base):
    """When a collector must patrol a grid: local times on given weekdays, with a tolerance."""

    __tablename__ = "patrol_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    times: Mapped[list[str]] = mapped_column(JSON)  # ["09:00", "15:00"], local time
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # ISO weekdays 1..7
    tolerance_minutes: Mapped[int] = mapped_column(Integer, default=60)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PatrolSlot(Base):
    """One scheduled patrol that fell due: done by a patrol, or missed."""

    __tablename__ = "patrol_slots"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at", name="schedule_due"),
        CheckConstraint("status IN ('done', 'missed')", name="status"),
        Index("ix_patrol_slots_collector_due", "collector_id", "due_at"),
        Index("ix_patrol_slots_grid_due", "grid_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("patrol_schedules.id"))
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8))
    patrol_id: Mapped[str | None] = mapped_column(ForeignKey("patrols.id"), nullable=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Patrol(TimestampMixin, Base):
    """One patrol session of a collector in a grid, with its GPS track and what it showed."""

    __tablename__ = "patrols"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'ended')", name="status"),
        Index("ix_patrols_collector_started", "collector_id", "started_at"),
        Index("ix_patrols_grid_started", "grid_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="active")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The track as received: [[lon, lat, unix_seconds, accuracy_m | null], …], WGS84.
    points: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    # Simplified for drawing and spatial queries; the figures use `points`.
    track: Mapped[Any] = mapped_column(
        Geometry("LINESTRING", srid=SRID, spatial_index=False), nullable=True
    )
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    time_inside_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0..1 of the grid
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    plausible: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    grid: Mapped[Grid] = relationship()


class PatrolLog(TimestampMixin, Base):
    """One observation (巡逻日志): text, category, point, photos, and the case it raised."""

    __tablename__ = "patrol_logs"
    __table_args__ = (
        Index("ix_patrol_logs_collector_logged", "collector_id", "logged_at"),
        Index("ix_patrol_logs_grid_logged", "grid_id", "logged_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patrol_id: Mapped[str | None] = mapped_column(
        ForeignKey("patrols.id"), nullable=True, index=True
    )
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    point: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())
