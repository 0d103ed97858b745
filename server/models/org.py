"""The territory and who works in it: subdistricts, communities, grids, handling units."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import SRID, Base, TimestampMixin

COMMUNITY_KINDS = ("community", "village")  # 社区 / 村
UNIT_KINDS = ("department", "property_office", "resident_unit", "social_org")


class Subdistrict(TimestampMixin, Base):
    """街道: the top area of a deployment; every role and query is scoped by it."""

    __tablename__ = "subdistricts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)  # 6 admin + 3 street
    name: Mapped[str] = mapped_column(String(100))
    # Prefix of public case numbers, e.g. QJ → QJ-20261126-0042.
    case_prefix: Mapped[str] = mapped_column(String(8), default="MQ", server_default="MQ")
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=True
    )

    communities: Mapped[list[Community]] = relationship(back_populates="subdistrict")


class Community(TimestampMixin, Base):
    """社区 / 村: a polygon inside the subdistrict, split into grids."""

    __tablename__ = "communities"
    __table_args__ = (CheckConstraint("kind IN ('community', 'village')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # 6 admin + 3 street + 3
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="community")
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"), index=True)
    population: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int] = mapped_column(Integer, default=0)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))

    subdistrict: Mapped[Subdistrict] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community")


class Grid(TimestampMixin, Base):
    """网格: the unit of patrol and responsibility; a valid polygon inside a community."""

    __tablename__ = "grids"
    __table_args__ = (
        CheckConstraint("population >= 0 AND households >= 0", name="counts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)  # community code + 3 seq
    name: Mapped[str] = mapped_column(String(100))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    # Denormalised from the community so that scope filters need no join.
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"), index=True)
    population: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int] = mapped_column(Integer, default=0)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    geom: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=True))

    community: Mapped[Community] = relationship(back_populates="grids")


class Unit(TimestampMixin, Base):
    """办理单位: a department, property office, resident unit or social organisation."""

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('department', 'property_office', 'resident_unit', 'social_org')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistricts.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    contact_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
