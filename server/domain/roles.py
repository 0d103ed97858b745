"""Roles and what each may see."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"  # 调度员
    UNIT_STAFF = "unit_staff"  # 办理单位工作人员
    COLLECTOR = "collector"  # 民情收集员


ROLE_NAMES_ZH: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.DISPATCHER: "调度员",
    Role.UNIT_STAFF: "办理单位人员",
    Role.COLLECTOR: "民情收集员",
}

# Roles that need to read residents' and colleagues' phone numbers and full names.
SEES_PERSONAL_DATA: frozenset[Role] = frozenset({Role.ADMIN, Role.DISPATCHER})


def sees_personal_data(role: Role | None) -> bool:
    """Whether a role may read unmasked names and phones of other people."""
    return role in SEES_PERSONAL_DATA
