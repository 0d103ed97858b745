"""Deliberation (协商议事): topics, their append-only events, the council and its meetings,
residents' voting codes, views, comments and evaluation ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin, UTCDateTime, utcnow

TOPIC_SOURCES = ("resident", "collector", "dispatcher", "admin", "case")
MEMBER_KINDS = ("committee", "resident_rep", "unit_rep")
VIEW_CHOICES = ("support", "oppose", "other")
TOPIC_VERDICTS = ("satisfied", "basic", "unsatisfied")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Topic(TimestampMixin, Base):
    """An issue (议题) no single unit can fix, taken through the 五议 method in one community.

    `version` is bumped by every change: staff actions carry it; a stale one is refused."""

    __tablename__ = "topics"
    __table_args__ = (
        CheckConstraint(_in("source", TOPIC_SOURCES), name="source"),
        Index("ix_topics_scope_status", "subdistrict_id", "status"),
        Index("ix_topics_community_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)  # WGS84
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # SHA-256 of attachments
    source: Mapped[str] = mapped_column(String(16))
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    proposer_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # consultation or evaluation period: when it ends
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(12), nullable=True)
    votes_for: Mapped[int | None] = mapped_column(Integer, nullable=True)
    votes_against: Mapped[int | None] = mapped_column(Integer, nullable=True)
    votes_abstain: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decision: Mapped[str | None] = mapped_column(Text, nullable=True)  # the minutes' decision
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once


class TopicCase(Base):
    """A case linked to a topic: one it came from, or one dispatched to carry out the decision."""

    __tablename__ = "topic_cases"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))  # origin | implementation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicEvent(Base):
    """One step of a topic: who, in which role, when, from → to, with what. Append-only,
    hash-chained per topic like case events (server/domain/audit.py)."""

    __tablename__ = "topic_events"
    __table_args__ = (UniqueConstraint("topic_id", "seq", name="topic_seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # set by services/upkeep/audit.py before insert; nullable only for the migration
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CouncilMember(TimestampMixin, Base):
    """A member of a community's 协商议事会: committee member, resident or unit representative."""

    __tablename__ = "council_members"
    __table_args__ = (CheckConstraint(_in("kind", MEMBER_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 驻地单位
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Meeting(TimestampMixin, Base):
    """A council meeting: its agenda of topics, who attended, and the minutes (纪要)."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str | None] = mapped_column(String(200), nullable=True)
    agenda: Mapped[list[int]] = mapped_column(JSON, default=list)  # topic ids, in order
    attendance: Mapped[list[int]] = mapped_column(JSON, default=list)  # member ids present
    minutes: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)  # SHA-256


class VotingCode(Base):
    """A one-time code handed to a household: one view and one rating per topic. Only its
    hash is stored; the clear code is shown once, when the batch is generated."""

    __tablename__ = "voting_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    batch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicView(Base):
    """A household's view in 群议: 支持 / 反对 / 其他意见. One per code (a unique key)."""

    __tablename__ = "topic_views"
    __table_args__ = (CheckConstraint(_in("choice", VIEW_CHOICES), name="choice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("voting_codes.id"), unique=True)
    choice: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicComment(Base):
    """A resident's comment. Moderation hides it with a reason; nothing is deleted."""

    __tablename__ = "topic_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("voting_codes.id"))
    author_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicRating(Base):
    """A household's evaluation (评议) of the implementation. One per code."""

    __tablename__ = "topic_ratings"
    __table_args__ = (CheckConstraint(_in("verdict", TOPIC_VERDICTS), name="verdict"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("voting_codes.id"), unique=True)
    verdict: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
