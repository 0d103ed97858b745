"""Routing rules (分派规则) an admin keeps, and the saved filters of the console's users."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin
from server.models.catalog import Category
from server.models.org import Community, Grid, Unit


class RoutingRule(TimestampMixin, Base):
    """Category → unit, optionally only in one community or one grid (e.g. a 驻地单位 for its
    area). The most specific matching rule suggests the unit; with `auto_dispatch` the case is
    dispatched to it when it is accepted."""

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_scope_category", "subdistrict_id", "category_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), nullable=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), nullable=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    auto_dispatch: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category] = relationship()
    community: Mapped[Community | None] = relationship()
    grid: Mapped[Grid | None] = relationship()
    unit: Mapped[Unit] = relationship()


class SavedFilter(TimestampMixin, Base):
    """A console user's named queue filter (the query string of the queue page)."""

    __tablename__ = "saved_filters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))
