"""Who is asking: the authenticated user or device, with the scope their role gives."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.domain.roles import Role, sees_personal_data


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    subdistrict_id: int | None  # None: a city-level admin who sees every subdistrict
    unit_id: int | None = None
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    device_id: str | None = None
    must_change_password: bool = False  # after an admin's reset: the pages ask for a new one

    @property
    def is_city_admin(self) -> bool:
        return self.role is Role.ADMIN and self.subdistrict_id is None

    @property
    def sees_personal_data(self) -> bool:
        return sees_personal_data(self.role)

    def may_see_subdistrict(self, subdistrict_id: int) -> bool:
        return self.subdistrict_id is None or self.subdistrict_id == subdistrict_id
