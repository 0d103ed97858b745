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
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.index import IndexInputs, Weights, explain
from server.models.base import Base, UTCDateTime, utcnow


class IndexFormula(Base):
    """The rules a stored score was made with: formula version and weights (labels come from
    the formula code). A handful of rows: one per (version, weights) ever used."""

    __tablename__ = "index_formulas"
    __table_args__ = (UniqueConstraint("version", "weights_key", name="version_weights"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(16))
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    weights_key: Mapped[str] = mapped_column(String(400))  # canonical JSON of `weights`
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


INPUT_COLUMNS: tuple[str, ...] = (
    "population",
    "new_low",
    "new_normal",
    "new_high",
    "new_urgent",
    "due_count",
    "closed_on_time",
    "ratings_satisfied",
    "ratings_basic",
    "ratings_unsatisfied",
    "handled_count",
    "reworked_count",
    "scheduled_patrols",
    "patrols_done_on_time",
    "topic_satisfied",
    "topic_basic",
    "topic_unsatisfied",
)
"""The integer inputs stored with each score, besides `window_days` and `patrol_coverage`."""


class SentimentIndex(Base):
    """One day's index for one grid or community: the score, the numeric inputs it was made
    from and the formula (version + weights) it was made with. The explanation — components,
    values, effective weights, basis, labels — is rebuilt from these on read
    (`components`, `inputs`), exactly as computed (bench/index.py prints the bytes per row)."""

    __tablename__ = "sentiment_index"
    __table_args__ = (
        # one area's history is a range of the primary key; one day of every area is a few
        # pages found through a BRIN index (rows arrive day after day: a few bytes in all)
        PrimaryKeyConstraint("level", "area_id", "day", name="pk_sentiment_index"),
        CheckConstraint("level IN ('grid', 'community')", name="level"),
        Index("ix_sentiment_index_day", "day", postgresql_using="brin"),
    )

    # widest first: no alignment padding on PostgreSQL
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    patrol_coverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    day: Mapped[date] = mapped_column(Date)
    area_id: Mapped[int] = mapped_column(Integer)  # grid id or community id
    # no foreign keys on this derived table: per-row RI checks cost more than the whole
    # computation of a backfill; the only writer takes these ids from rows it just read
    subdistrict_id: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    new_low: Mapped[int] = mapped_column(Integer)
    new_normal: Mapped[int] = mapped_column(Integer)
    new_high: Mapped[int] = mapped_column(Integer)
    new_urgent: Mapped[int] = mapped_column(Integer)
    due_count: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)
    ratings_satisfied: Mapped[int] = mapped_column(Integer)
    ratings_basic: Mapped[int] = mapped_column(Integer)
    ratings_unsatisfied: Mapped[int] = mapped_column(Integer)
    handled_count: Mapped[int] = mapped_column(Integer)
    reworked_count: Mapped[int] = mapped_column(Integer)
    scheduled_patrols: Mapped[int] = mapped_column(Integer)
    patrols_done_on_time: Mapped[int] = mapped_column(Integer)
    topic_satisfied: Mapped[int] = mapped_column(Integer)
    topic_basic: Mapped[int] = mapped_column(Integer)
    topic_unsatisfied: Mapped[int] = mapped_column(Integer)
    formula_id: Mapped[int] = mapped_column(SmallInteger)  # index_formulas.id
    window_days: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(String(10))

    formula: Mapped[IndexFormula] = relationship(
        primaryjoin="foreign(SentimentIndex.formula_id) == IndexFormula.id",
        lazy="joined",
        innerjoin=True,
    )

    def index_inputs(self) -> IndexInputs:
        return stored_inputs(self)

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs as `IndexInputs.as_dict()` gives them (the JSON of earlier versions)."""
        return self.index_inputs().as_dict()

    @property
    def components(self) -> dict[str, Any]:
        """The published components, rebuilt from the stored inputs and formula."""
        return explain(
            self.index_inputs(), Weights.from_mapping(self.formula.weights), self.formula.version
        )

    @property
    def formula_version(self) -> str:
        return self.formula.version


def stored_inputs(row: Any) -> IndexInputs:
    """`IndexInputs` from a stored row (a model or a Core row with the input columns)."""
    return IndexInputs(
        population=row.population,
        window_days=row.window_days,
        new_cases_by_priority={
            "low": row.new_low,
            "normal": row.new_normal,
            "high": row.new_high,
            "urgent": row.new_urgent,
        },
        due_count=row.due_count,
        closed_on_time=row.closed_on_time,
        ratings_satisfied=row.ratings_satisfied,
        ratings_basic=row.ratings_basic,
        ratings_unsatisfied=row.ratings_unsatisfied,
        handled_count=row.handled_count,
        reworked_count=row.reworked_count,
        patrol_coverage=row.patrol_coverage,
        scheduled_patrols=row.scheduled_patrols,
        patrols_done_on_time=row.patrols_done_on_time,
        topic_satisfied=row.topic_satisfied,
        topic_basic=row.topic_basic,
        topic_unsatisfied=row.topic_unsatisfied,
    )


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
