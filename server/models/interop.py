"""Interop: Open311 client applications and the requests they filed; 12345 work orders and
the category table for them; the export log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class Open311Client(TimestampMixin, Base):
    """A third-party application allowed to file Open311 service requests (its `api_key`).

    The key is shown once at issue and stored only as its SHA-256; each client has its own
    hourly budget of requests."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    # The jurisdiction it may file into (None: any, issued by a city-level admin).
    subdistrict_id: Mapped[int | None] = mapped_column(ForeignKey("subdistricts.id"), nullable=True)
    requests_per_hour: Mapped[int] = mapped_column(Integer, default=60)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Open311Request(Base):
    """A service request filed through Open311: the token it was answered with, its case."""

    __tablename__ = "open311_requests"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_clients.id"), index=True)
    # Where the client app hosts the photo; never fetched by us (no outbound requests).
    media_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExportLog(Base):
    """Who exported what, when (台账导出记录): subject, format, filters, rows written."""

    __tablename__ = "export_logs"
    __table_args__ = (Index("ix_export_logs_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(16))  # cases | kpis | patrols | index
    format: Mapped[str] = mapped_column(String(8))  # xlsx | csv
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HotlineOrder(Base):
    """A 12345 hotline work order (工单) imported as a case: its external number (unique, so a
    re-import changes nothing), what the platform said, and who imported it when."""

    __tablename__ = "hotline_orders"
    __table_args__ = (Index("ix_hotline_orders_scope_imported", "subdistrict_id", "imported_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)  # 工单编号
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # 来电时间
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # 办理时限
    category_text: Mapped[str | None] = mapped_column(String(100), nullable=True)
    source_file: Mapped[str | None] = mapped_column(String(200), nullable=True)
    row_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HotlineCategory(Base):
    """The table an admin keeps: a 12345 category text (诉求类型) → one of our categories."""

    __tablename__ = "hotline_categories"

    text: Mapped[str] = mapped_column(String(100), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
