"""Fixed-window counters for rate limits that must hold across web processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class RateLimitWindow(Base):
    """How many hits `key` (e.g. resident-report:<ip>) made in the window starting then."""

    __tablename__ = "rate_limit_windows"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    hits: Mapped[int] = mapped_column(Integer, default=0)
