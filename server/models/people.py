"""People and their phones: users with roles, collector ↔ grid assignments, devices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin, UTCDateTime, utcnow
from server.models.org import Grid, Subdistrict, Unit


class User(TimestampMixin, Base):
    """An account: admin, dispatcher (调度员), unit staff, or collector (民情收集员).

    `subdistrict_id` NULL marks a city-level admin who sees every subdistrict.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'dispatcher', 'unit_staff', 'collector')", name="role"),
        CheckConstraint("role <> 'unit_staff' OR unit_id IS NOT NULL", name="staff_has_unit"),
        CheckConstraint("role = 'admin' OR subdistrict_id IS NOT NULL", name="scoped"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    subdistrict_id: Mapped[int | None] = mapped_column(
        ForeignKey("subdistricts.id"), nullable=True, index=True
    )
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or deactivation: every token issued before is void.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set by an admin's password reset: the pages ask for a new password before anything else.
    # (Sign-in throttling lives in the rate limiter, services/people/ratelimit.py.)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    subdistrict: Mapped[Subdistrict | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    grids: Mapped[list[Grid]] = relationship(secondary="collector_grids", viewonly=True)


class CollectorGrid(Base):
    """A collector's responsibility for a grid."""

    __tablename__ = "collector_grids"

    collector_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Device(TimestampMixin, Base):
    """A collector's phone. Its bearer token is shown once and stored only as a SHA-256."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(8))  # last characters, to tell tokens apart
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    app_version: Mapped[str | None] = mapped_column(String(32), nullable=True)

    collector: Mapped[User] = relationship(foreign_keys=[collector_id])
