"""What the console map shows: open cases per grid and their points, within the caller's scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from server.domain.cases import FINAL, Status
from server.extensions import db
from server.models import Case
from server.services.caseloop.case_queries import scope
from server.services.people.principal import Principal

OPEN = [s.value for s in Status if s not in FINAL]
MAX_PINS = 3000


@dataclass(frozen=True)
class Pin:
    id: str
    number: str
    lon: float
    lat: float
    grid_id: int
    status: str
    overdue: bool


def open_counts_by_grid(principal: Principal) -> dict[int, int]:
    """Open (not closed, rejected or merged) cases per grid the principal may see."""
    stmt = scope(select(Case.grid_id, func.count()), principal).where(
        Case.status.in_(OPEN), Case.grid_id.is_not(None)
    )
    return {gid: n for gid, n in db.session.execute(stmt.group_by(Case.grid_id))}


def open_pins(principal: Principal, limit: int = MAX_PINS) -> list[Pin]:
    """Points of open cases, most recent first (at most `limit`; the map says when cut)."""
    stmt = scope(
        select(Case.id, Case.number, Case.lon, Case.lat, Case.grid_id, Case.status, Case.overdue),
        principal,
    ).where(Case.status.in_(OPEN), Case.grid_id.is_not(None))  # unlocated: no pin
    rows = db.session.execute(stmt.order_by(Case.reported_at.desc()).limit(limit))
    return [Pin(*row) for row in rows]
