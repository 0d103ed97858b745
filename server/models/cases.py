"""Cases (民情事项) and their append-only history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import SRID, Base, TimestampMixin, UTCDateTime, utcnow
from server.models.catalog import Category
from server.models.org import Community, Grid, Unit

SOURCES = ("patrol", "resident", "hotline", "wechat", "visit", "deliberation")
# The outside system a case came through (None: our own API, pages or phones). `source` says
# who raised it (a resident, the hotline…); `channel` says by which road (docs/interop.md).
CHANNELS = ("open311", "12345")
PRIORITIES = ("low", "normal", "high", "urgent")
VERDICTS = ("satisfied", "basic", "unsatisfied", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(TimestampMixin, Base):
    """One problem that must be resolved; has a point and a grid once located.

    A case is *unlocated* (待定位) while `point`, `lon`, `lat`, `grid_id` and `community_id`
    are NULL: a 12345 work order or Open311 request whose address could not be placed. Its
    subdistrict is always known; a dispatcher locates it (services/caseloop/case_location.py).

    `id` is a string so that a phone can create a case offline under its own id.
    `version` is bumped by every change: actions carry it and a stale one is refused (409).
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        Index("ix_cases_scope_created", "subdistrict_id", "created_at", "id"),
        Index("ix_cases_scope_status", "subdistrict_id", "status"),
        Index("ix_cases_grid_created", "grid_id", "created_at", "id"),
        Index("ix_cases_unit_status", "unit_id", "status"),
        Index("ix_cases_open_deadline", "status", "deadline_at"),
        # the daily index and bulletins count what was reported or closed in a window
        Index("ix_cases_scope_reported", "subdistrict_id", "reported_at"),
        Index("ix_cases_scope_closed", "subdistrict_id", "closed_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # QJ-20261126-0042
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id"), index=True, nullable=True
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), nullable=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="reported")
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    point: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=True
    )
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)  # WGS84, from `point`
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    reported_crs: Mapped[str] = mapped_column(String(8), default="wgs84")
    # Who reported: a user (collector, dispatcher on behalf of a caller) or an anonymous resident.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reporter_role: Mapped[str] = mapped_column(String(16))  # collector|dispatcher|…|resident
    reporter_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The resident allowed the handling unit to call them (asked on the report page).
    phone_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Handling
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    send_back_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    # A pending request for more time: the deadline it asks for, and why.
    extension_requested_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # the unit's report
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    rating: Mapped[str | None] = mapped_column(String(12), nullable=True)  # latest verdict
    # The collector's own remarks, editable offline on a phone (sync); not part of the loop.
    collector_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # SQLAlchemy adds "AND version = <old>" to every UPDATE and bumps it: a concurrent
    # change makes the second writer fail instead of silently overwriting.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once

    grid: Mapped[Grid | None] = relationship()
    community: Mapped[Community | None] = relationship()
    category: Mapped[Category] = relationship()
    unit: Mapped[Unit | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """One transition of a case: who, in which role, when, from → to, with what. Append-only."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="case_seq"),
        Index("ix_case_events_created", "created_at", "id"),
        Index("ix_case_events_action_created", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the case
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_role: Mapped[str] = mapped_column(String(16))  # a role, "resident" or "system"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the hash chain of the case's history (server/domain/audit.py), set when flushed
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    case: Mapped[Case] = relationship(back_populates="events")


class Rating(Base):
    """A resident's verdict on one resolution round (满意 / 基本满意 / 不满意), or `none`."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        UniqueConstraint("case_id", "round", name="case_round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)  # 1 for the first resolution, 2 after reopen…
    verdict: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class CaseNumberCounter(Base):
    """The last sequence number handed out per subdistrict and local day (QJ-YYYYMMDD-NNNN)."""

    __tablename__ = "case_number_counters"

    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseAction(Base):
    """A collector's action on a case recorded offline (verify on site) and pushed by sync.

    Kept as a record so a retried push is recognised by id and the device sees the outcome."""

    __tablename__ = "case_actions"
    __table_args__ = (Index("ix_case_actions_case", "case_id", "acted_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    acted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(12), default="applied")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
