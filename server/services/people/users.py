"""Accounts: create a user, assign a collector's grids, disable / re-enable an account, reset
a password (changed at the next sign-in), change one's own."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select

from server.domain.roles import Role
from server.errors import DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import CollectorGrid, Grid, Subdistrict, Unit, User
from server.services.people import sessions
from server.services.people.passwords import check_password, hash_password
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
MIN_PASSWORD_LENGTH = 8


def _invalid(field: str, message: str, message_zh: str) -> Invalid:
    return Invalid(
        "validation_error", f"{field}: {message}", f"字段 {field}：{message_zh}", field=field
    )


def create_user(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    phone: str | None = None,
    subdistrict_code: str | None = None,
    unit_code: str | None = None,
    grid_codes: Iterable[str] = (),
) -> User:
    """Create an account (and a collector's grids); everything is checked before anything
    is written, in one transaction."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise _invalid(
            "username",
            "3–64 of a-z 0-9 _ . -, starting with a letter or digit",
            "须为 3–64 位小写字母、数字或 _ . -",
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _invalid(
            "password",
            f"at least {MIN_PASSWORD_LENGTH} characters",
            f"至少 {MIN_PASSWORD_LENGTH} 个字符",
        )
    try:
        role_value = Role(role)
    except ValueError:
        raise _invalid("role", f"one of {', '.join(r.value for r in Role)}", "角色无效") from None
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError(
            "username_taken",
            f"username {username!r} is taken",
            f"用户名 {username} 已被使用",
            field="username",
            status=409,
        )
    subdistrict = None
    if subdistrict_code:
        subdistrict = db.session.scalar(
            select(Subdistrict).where(Subdistrict.code == subdistrict_code)
        )
        if subdistrict is None:
            raise NotFound("Subdistrict", "街道", field="subdistrict")
    elif role_value is not Role.ADMIN:
        raise _invalid("subdistrict", "required for this role", "该角色必须指定街道")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise NotFound("Unit", "办理单位", field="unit")
    if role_value is Role.UNIT_STAFF and unit is None:
        raise _invalid("unit", "unit staff need a unit", "办理单位人员必须指定单位")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role_value.value,
        display_name=display_name.strip() or username,
        phone=phone,
        subdistrict_id=subdistrict.id if subdistrict else None,
        unit_id=unit.id if unit else None,
    )
    uow.session.add(user)
    uow.session.flush()
    if grid_codes:
        _assign(user, grid_codes, replace=False)
    return user


def assign_grids(
    uow: UnitOfWork, username: str, grid_codes: Iterable[str], *, replace: bool = False
) -> list[str]:
    """Make a collector responsible for grids (of their own subdistrict only)."""
    user = uow.session.scalar(select(User).where(User.username == username.strip().lower()))
    codes = _assign(user, grid_codes, replace=replace)
    uow.session.flush()
    return codes


def _assign(user: User | None, grid_codes: Iterable[str], *, replace: bool) -> list[str]:
    if user is None or user.role != Role.COLLECTOR.value:
        raise NotFound("Collector", "民情收集员", field="collector")
    codes = sorted(set(grid_codes))
    grids = list(db.session.scalars(select(Grid).where(Grid.code.in_(codes))))
    missing = sorted(set(codes) - {g.code for g in grids})
    if missing:
        raise NotFound(f"Grid {', '.join(missing)}", f"网格 {', '.join(missing)} ", field="grids")
    foreign = [g.code for g in grids if g.subdistrict_id != user.subdistrict_id]
    if foreign:
        raise Invalid(
            "grid_outside_subdistrict",
            f"grids {', '.join(foreign)} are in another subdistrict",
            f"网格 {', '.join(foreign)} 不属于该收集员所在街道",
            field="grids",
        )
    if replace:
        # One by one (not a bulk DELETE) so that sync sees each grid the collector loses.
        for held in db.session.scalars(
            select(CollectorGrid).where(CollectorGrid.collector_id == user.id)
        ):
            db.session.delete(held)
        db.session.flush()
    have = set(
        db.session.scalars(
            select(CollectorGrid.grid_id).where(CollectorGrid.collector_id == user.id)
        )
    )
    for grid in grids:
        if grid.id not in have:
            db.session.add(CollectorGrid(collector_id=user.id, grid_id=grid.id))
    return [g.code for g in grids]


def disable_user(uow: UnitOfWork, principal: Principal, user_id: int) -> int:
    """An admin disables an account: it can no longer sign in, and every page session and
    API token it holds ends at once (its devices stop syncing too). How many sessions ended.

    Subdistrict admins disable accounts of their own subdistrict; nobody disables themself.
    """
    user = _in_reach(uow, principal, user_id)
    if user.id == principal.user_id:
        raise Invalid(
            "cannot_disable_self", "You cannot disable your own account", "不能停用自己的账号"
        )
    user.active = False
    return sessions.revoke_all(uow, user)


def _in_reach(uow: UnitOfWork, principal: Principal, user_id: int) -> User:
    """An account an admin may manage: of their own subdistrict (any, for a city admin; a
    subdistrict admin never manages a city-level admin)."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins manage accounts", "只有管理员可以管理账号")
    user = uow.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None or (
        principal.subdistrict_id is not None and user.subdistrict_id != principal.subdistrict_id
    ):
        raise NotFound("User", "用户")
    return user


def enable_user(uow: UnitOfWork, principal: Principal, user_id: int) -> User:
    """Re-enable a disabled account: it may sign in again (its old sessions stay ended)."""
    user = _in_reach(uow, principal, user_id)
    user.active = True
    return user


def _check_new_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _invalid(
            field,
            f"at least {MIN_PASSWORD_LENGTH} characters",
            f"至少 {MIN_PASSWORD_LENGTH} 个字符",
        )
    if len(password) > 200:
        raise _invalid(field, "at most 200 characters", "最多 200 个字符")


def reset_password(uow: UnitOfWork, principal: Principal, user_id: int, password: str) -> int:
    """An admin sets a temporary password: every session and token of the account ends now,
    and at the next sign-in the person must choose their own. How many sessions ended."""
    user = _in_reach(uow, principal, user_id)
    if user.id == principal.user_id:
        raise Invalid(
            "cannot_reset_self",
            "Change your own password on the account page",
            "请在“修改密码”页面修改自己的密码",
            field="new_password",
        )
    _check_new_password(password, "new_password")
    user.password_hash = hash_password(password)
    user.must_change_password = True
    return sessions.revoke_all(uow, user)


def change_own_password(uow: UnitOfWork, user_id: int, current: str, new: str) -> User:
    """A person changes their password: the current one is checked, every other session and
    token ends (the caller starts a fresh one for this browser)."""
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("User", "用户")
    if not check_password(user.password_hash, current):
        raise _invalid("current_password", "is not your current password", "与当前密码不符")
    _check_new_password(new, "new_password")
    if check_password(user.password_hash, new):
        raise _invalid("new_password", "must differ from the current one", "不能与当前密码相同")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    sessions.revoke_all(uow, user)
    return user
