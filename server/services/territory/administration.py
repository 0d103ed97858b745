"""Admin work from the console, within the admin's reach: a subdistrict admin manages the
people, collectors' grids and devices of their own subdistrict; only a city-level admin
imports territory or changes categories (both are shared by every subdistrict)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from server.domain.roles import Role
from server.errors import Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import (
    Category,
    CollectorGrid,
    Community,
    Device,
    Grid,
    Subdistrict,
    Unit,
    User,
)
from server.services.people import devices, users
from server.services.people.principal import Principal
from server.services.territory import grids_import, holidays, org
from server.services.uow import UnitOfWork

PRIORITY_KEYS = ("urgent", "high", "normal", "low")
MAX_DEADLINE = 24 * 365


def _admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins may do this", "仅管理员可执行此操作")


def _city_admin(principal: Principal) -> None:
    if not principal.is_city_admin:
        raise Forbidden(
            "Only a city-level admin may change what all subdistricts share",
            "仅市级管理员可修改各街道共用的数据",
        )


@dataclass(frozen=True)
class Person:
    user: User
    unit_name: str | None
    grid_codes: list[str]


def list_people(principal: Principal) -> list[Person]:
    """Accounts of the admin's subdistrict (every account for a city admin), with their
    unit and, for collectors, their grids."""
    _admin(principal)
    stmt = select(User).order_by(User.role, User.username)
    if principal.subdistrict_id is not None:
        stmt = stmt.where(User.subdistrict_id == principal.subdistrict_id)
    people = list(db.session.scalars(stmt))
    units = dict(db.session.execute(select(Unit.id, Unit.name)).all())
    grids: dict[int, list[str]] = defaultdict(list)
    for uid, code in db.session.execute(
        select(CollectorGrid.collector_id, Grid.code)
        .join(Grid, Grid.id == CollectorGrid.grid_id)
        .where(CollectorGrid.collector_id.in_([p.id for p in people] or [-1]))
        .order_by(Grid.code)
    ):
        grids[uid].append(code)
    return [Person(u, units.get(u.unit_id) if u.unit_id else None, grids[u.id]) for u in people]


def _subdistrict_code(principal: Principal, asked: str | None) -> str | None:
    if principal.subdistrict_id is None:
        return asked
    sd = db.session.get(Subdistrict, principal.subdistrict_id)
    return sd.code if sd else None


def create_person(
    uow: UnitOfWork,
    principal: Principal,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    phone: str | None,
    unit_code: str | None,
    subdistrict_code: str | None = None,
) -> User:
    """A new account in the admin's subdistrict (a city admin names the subdistrict)."""
    _admin(principal)
    if role == Role.ADMIN.value and not principal.is_city_admin:
        raise Forbidden("Only a city-level admin may create admins", "仅市级管理员可创建管理员")
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None or not principal.may_see_subdistrict(unit.subdistrict_id):
            raise NotFound("Unit", "办理单位", field="unit")
    return users.create_user(
        uow,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        phone=phone,
        subdistrict_code=_subdistrict_code(principal, subdistrict_code),
        unit_code=unit_code,
    )


def _collector(principal: Principal, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if (
        user is None
        or user.role != Role.COLLECTOR.value
        or user.subdistrict_id is None
        or not principal.may_see_subdistrict(user.subdistrict_id)
    ):
        raise NotFound("Collector", "民情收集员", field="collector")
    return user


def set_collector_grids(
    uow: UnitOfWork, principal: Principal, user_id: int, grid_codes: Iterable[str]
) -> list[str]:
    """Make these grids (and only these) the collector's."""
    _admin(principal)
    user = _collector(principal, user_id)
    return users.assign_grids(uow, user.username, grid_codes, replace=True)


def list_collectors(principal: Principal) -> list[User]:
    return [p.user for p in list_people(principal) if p.user.role == Role.COLLECTOR.value]


def devices_in_reach(principal: Principal) -> list[Device]:
    _admin(principal)
    return [
        d
        for d in devices.list_devices()
        if d.collector.subdistrict_id is not None
        and principal.may_see_subdistrict(d.collector.subdistrict_id)
    ]


def issue_device(
    uow: UnitOfWork, principal: Principal, collector_id: int, name: str | None
) -> devices.IssuedDevice:
    _admin(principal)
    user = _collector(principal, collector_id)
    return devices.issue_device(uow, user.username, name, issued_by_id=principal.user_id)


def revoke_device(uow: UnitOfWork, principal: Principal, device_id: str) -> Device:
    _admin(principal)
    device = db.session.get(Device, device_id)
    if device is None or not principal.may_see_subdistrict(device.collector.subdistrict_id or -1):
        raise NotFound("Device", "设备", field="device_id")
    return devices.revoke_device(uow, device_id)


def import_territory(
    uow: UnitOfWork, principal: Principal, source: str
) -> grids_import.ImportReport:
    """Import a GeoJSON of subdistricts, communities and grids (all or nothing)."""
    _city_admin(principal)
    return grids_import.import_geojson(uow, source)


def list_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.sort_order, Category.code)))


def update_category(
    uow: UnitOfWork,
    principal: Principal,
    code: str,
    *,
    deadlines: Mapping[str, Any],
    unit: str,
    default_priority: str,
    active: bool,
) -> Category:
    """Change a category's deadlines (per priority, in hours or working days)."""
    _city_admin(principal)
    category = db.session.scalar(select(Category).where(Category.code == code))
    if category is None:
        raise NotFound("Category", "事项类别", field="category")
    if unit not in ("hours", "workdays"):
        raise Invalid(
            "invalid_value", "unit: hours or workdays", "字段 unit：取值无效", field="unit"
        )
    if default_priority not in PRIORITY_KEYS:
        raise Invalid(
            "invalid_value",
            "default_priority: one of urgent, high, normal, low",
            "字段 default_priority：取值无效",
            field="default_priority",
        )
    hours: dict[str, int] = {}
    for key in PRIORITY_KEYS:
        value = deadlines.get(key)
        if not isinstance(value, int) or not 1 <= value <= MAX_DEADLINE:
            raise Invalid(
                "invalid_value",
                f"deadline_{key}: a whole number from 1 to {MAX_DEADLINE}",
                f"字段 deadline_{key}：须为 1 至 {MAX_DEADLINE} 的整数",
                field=f"deadline_{key}",
            )
        hours[key] = value
    category.deadline_hours = hours
    category.deadline_unit = unit
    category.default_priority = default_priority
    category.active = active
    return category


@dataclass(frozen=True)
class GridRow:
    """A grid as the admin's tables and picker show it: names, not codes only."""

    id: int
    code: str
    name: str
    community: str
    area_m2: float | None
    collectors: list[str]


def find_grids(
    principal: Principal, query: str | None = None, *, limit: int = 500
) -> list[GridRow]:
    """The grids in the admin's reach whose grid name, community name or code contains
    `query` (all of them without one), by community then code; at most `limit`."""
    _admin(principal)
    stmt = org.grid_scope(
        select(Grid.id, Grid.code, Grid.name, Community.name, Grid.area_m2).join(
            Community, Community.id == Grid.community_id
        ),
        principal,
    )
    words = (query or "").split()[:5]
    for word in words:
        like = f"%{word.replace('%', '').replace('_', '')[:50]}%"
        stmt = stmt.where(
            or_(Grid.name.ilike(like), Community.name.ilike(like), Grid.code.ilike(like))
        )
    rows = db.session.execute(stmt.order_by(Community.name, Grid.code).limit(limit)).all()
    held: dict[int, list[str]] = defaultdict(list)
    for grid_id, display in db.session.execute(
        select(CollectorGrid.grid_id, User.display_name)
        .join(User, User.id == CollectorGrid.collector_id)
        .where(CollectorGrid.grid_id.in_([r[0] for r in rows] or [-1]))
        .order_by(User.display_name)
    ):
        held[grid_id].append(display)
    return [
        GridRow(id=r[0], code=r[1], name=r[2], community=r[3], area_m2=r[4], collectors=held[r[0]])
        for r in rows
    ]


def collector_grids(principal: Principal, user_id: int) -> tuple[User, list[GridRow]]:
    """A collector and the grids they hold (for the grid picker)."""
    _admin(principal)
    user = _collector(principal, user_id)
    codes = set(
        db.session.scalars(
            select(Grid.code)
            .join(CollectorGrid, CollectorGrid.grid_id == Grid.id)
            .where(CollectorGrid.collector_id == user.id)
        )
    )
    return user, [g for g in find_grids(principal, limit=5000) if g.code in codes]


def set_active(uow: UnitOfWork, principal: Principal, user_id: int, active: bool) -> int:
    """Disable (every session and token ends now) or re-enable an account; sessions ended."""
    if active:
        users.enable_user(uow, principal, user_id)
        return 0
    return users.disable_user(uow, principal, user_id)


def reset_password(uow: UnitOfWork, principal: Principal, user_id: int, password: str) -> int:
    """A temporary password the person must change at the next sign-in; sessions ended."""
    return users.reset_password(uow, principal, user_id, password)


def load_holidays(uow: UnitOfWork, principal: Principal, text: str) -> list[int]:
    """Load holiday years from a file (validated as `minqing holidays load` does); the
    calendar is shared by every subdistrict, so only a city-level admin loads it."""
    _city_admin(principal)
    return holidays.load_file(uow, text)
