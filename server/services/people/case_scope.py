"""Whether a principal may see a case: the one rule the API, photos and sync share."""

from __future__ import annotations

from server.domain.roles import Role
from server.models import Case
from server.services.people.principal import Principal


def may_see(principal: Principal, case: Case) -> bool:
    """Collectors: cases in their grids and those they reported; unit staff: cases assigned
    to their unit; dispatchers and admins: their subdistrict (a city admin: all)."""
    if not principal.may_see_subdistrict(case.subdistrict_id):
        return False
    if principal.role is Role.COLLECTOR:
        return case.grid_id in principal.grid_ids or case.reporter_id == principal.user_id
    if principal.role is Role.UNIT_STAFF:
        return case.unit_id == principal.unit_id
    return True
