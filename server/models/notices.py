"""阳光五务: notices a community publishes for a period, and residents' questions on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin, UTCDateTime, utcnow

NOTICE_CATEGORIES = ("party", "village", "finance", "service", "affairs")


class Notice(TimestampMixin, Base):
    """One notice, visible to the public from `published_from` until `published_until`."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(
            "category IN ('party', 'village', 'finance', 'service', 'affairs')", name="category"
        ),
        CheckConstraint("published_until > published_from", name="period"),
        Index("ix_notices_community_period", "community_id", "published_from"),
        Index("ix_notices_scope_period", "subdistrict_id", "published_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    category: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)  # SHA-256
    published_from: Mapped[datetime] = mapped_column(UTCDateTime())
    published_until: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class NoticeQuestion(Base):
    """A resident's question about a notice; public once answered (or hidden with a reason)."""

    __tablename__ = "notice_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    asker_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
