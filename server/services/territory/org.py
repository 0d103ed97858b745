"""Reading the territory and the catalogue, scoped by who asks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import Select, select

from server.domain.masking import mask_name, mask_phone
from server.domain.roles import Role
from server.errors import NotFound
from server.extensions import db
from server.models import Category, CollectorGrid, Community, Grid, Subdistrict, Unit, User
from server.services.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from server.services.people.principal import Principal
from server.services.territory.spatial import intersects_bbox


def _scope_subdistrict(stmt: Select[Any], column: Any, principal: Principal | None) -> Select[Any]:
    if principal is not None and principal.subdistrict_id is not None:
        stmt = stmt.where(column == principal.subdistrict_id)
    return stmt


def list_communities(principal: Principal | None) -> list[Community]:
    """Communities of the caller's subdistrict (all of them for the public and city admins)."""
    stmt = select(Community).order_by(Community.code)
    return list(db.session.scalars(_scope_subdistrict(stmt, Community.subdistrict_id, principal)))


def list_subdistricts(principal: Principal | None) -> list[Subdistrict]:
    stmt = select(Subdistrict).order_by(Subdistrict.code)
    return list(db.session.scalars(_scope_subdistrict(stmt, Subdistrict.id, principal)))


@dataclass(frozen=True)
class GridView:
    grid: Grid
    community_code: str
    collectors: list[dict[str, Any]]
    geometry: Any  # shapely


def grid_scope(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """A collector sees their own grids; every other role its subdistrict's (or all)."""
    if principal.role is Role.COLLECTOR:
        return stmt.where(Grid.id.in_(principal.grid_ids or {-1}))
    return _scope_subdistrict(stmt, Grid.subdistrict_id, principal)


def list_grids(
    principal: Principal,
    *,
    community_id: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[GridView]:
    stmt = grid_scope(select(Grid, Community.code).join(Community), principal)
    if community_id is not None:
        stmt = stmt.where(Grid.community_id == community_id)
    if bbox is not None:
        stmt = stmt.where(intersects_bbox("grids", Grid.id, Grid.geom, bbox))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Grid.id > after)
    rows = db.session.execute(stmt.order_by(Grid.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    collectors = _collectors_by_grid([g.id for g, _ in rows], principal)
    views = [
        GridView(
            grid=g,
            community_code=code,
            collectors=collectors.get(g.id, []),
            geometry=to_shape(g.geom),
        )
        for g, code in rows
    ]
    next_cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    return Page(items=views, next_cursor=next_cursor)


def _collectors_by_grid(
    grid_ids: list[int], principal: Principal
) -> dict[int, list[dict[str, Any]]]:
    if not grid_ids:
        return {}
    rows = db.session.execute(
        select(CollectorGrid.grid_id, User.id, User.display_name, User.phone)
        .join(User, User.id == CollectorGrid.collector_id)
        .where(CollectorGrid.grid_id.in_(grid_ids))
        .order_by(User.username)
    ).all()
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for grid_id, user_id, name, phone in rows:
        own = user_id == principal.user_id
        full = principal.sees_personal_data or own
        out[grid_id].append(
            {
                "id": user_id,
                "name": name if full else mask_name(name),
                "phone": phone if full else mask_phone(phone),
            }
        )
    return out


def list_units(principal: Principal) -> list[Unit]:
    """Active handling units of the caller's subdistrict."""
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)
    return list(db.session.scalars(_scope_subdistrict(stmt, Unit.subdistrict_id, principal)))


def list_categories() -> list[Category]:
    stmt = (
        select(Category)
        .where(Category.active.is_(True))
        .order_by(Category.sort_order, Category.code)
    )
    return list(db.session.scalars(stmt))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User", "用户")
    return user
