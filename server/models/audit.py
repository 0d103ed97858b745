"""Published daily roots of the case history's hash chains (server/domain/audit.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class AuditRoot(Base):
    """The root of one UTC day: chained to the day before, over that day's case events and
    then its topic events. `topic_events` is NULL for days sealed before topic events were
    chained (migration 0013): their root covers case events only."""

    __tablename__ = "audit_roots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    root: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer)
    topic_events: Mapped[int | None] = mapped_column(Integer, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
