"""Pure rules: masking personal data, administrative codes, who sees what."""

from __future__ import annotations

import pytest

from server.domain import codes
from server.domain.masking import mask_name, mask_phone
from server.domain.roles import Role, sees_personal_data


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("0514-87654321", "**********21"),
        ("12", "**"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("Li", "L*"), ("王", "*")]
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_codes_nest() -> None:
    grid = codes.grid_code("321002006001", 7)
    assert grid == "321002006001007"
    assert codes.is_grid_code(grid)
    assert codes.community_code_of(grid) == "321002006001"
    assert codes.subdistrict_code_of(grid) == "321002006"
    with pytest.raises(ValueError):
        codes.grid_code("32100200600", 1)
    with pytest.raises(ValueError):
        codes.grid_code("321002006001", 1000)
    with pytest.raises(ValueError):
        codes.community_code_of("321002006001")


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        (Role.ADMIN, True),
        (Role.DISPATCHER, True),
        (Role.UNIT_STAFF, False),
        (Role.COLLECTOR, False),
        (None, False),
    ],
)
def test_who_sees_personal_data(role: Role | None, sees: bool) -> None:
    assert sees_personal_data(role) is sees
