"""Photos, addressed by their SHA-256, and which case step they belong to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, utcnow

ATTACHMENT_ROLES = ("report", "result", "verify", "rating")


class Attachment(Base):
    """One stored file. Uploading the same bytes twice stores them once.

    `personal`: the photo shows people (faces); it is removed `MINQING_PERSON_PHOTO_DAYS`
    after every case and topic holding it ended (services/upkeep/photo_retention.py). A
    removed photo keeps its row, with `removed_at`, and loses its files."""

    __tablename__ = "attachments"
    __table_args__ = (
        # the retention sweep's candidates: personal photos still stored (partial, so removed
        # and ordinary photos cost nothing)
        Index(
            "ix_attachments_personal_kept",
            "created_at",
            postgresql_where=text("personal AND removed_at IS NULL"),
            sqlite_where=text("personal AND removed_at IS NULL"),
        ),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    had_gps: Mapped[bool] = mapped_column(Boolean, default=False)  # EXIF GPS in the original
    thumbnail_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    personal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseAttachment(Base):
    """A photo attached to a case at one step (report, result, verification)."""

    __tablename__ = "case_attachments"
    __table_args__ = (
        CheckConstraint("role IN ('report', 'result', 'verify', 'rating')", name="role"),
        Index("ix_case_attachments_sha256", "sha256"),  # which cases hold a photo
    )

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(ForeignKey("attachments.sha256"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
