"""Locating an unlocated case (待定位): a dispatcher gives it its place.

A 12345 work order or an Open311 request whose address could not be placed is a case with
no point, grid or community (`Case.grid_id is None`). A dispatcher (or an admin) of its
subdistrict looks at the address, perhaps at the geocoder's candidates for it, and sets the
point: it must lie in a grid of the case's own subdistrict; grid and community follow from
it. One `locate` event records where and how; the case's version guards against a
concurrent change (409). A located case is not moved again here.

It is told as any case event is (`notify.publish`, `case.located`): the webhooks subscribed
to it get the case with its new grid and community, and its reporter's inbox (for a 12345
import, the importer) an entry. Nobody else is told now: an unlocated case cannot be
dispatched, so it never awaits verification before it has a place, and the collectors of
its new grid hear of it as of any case of theirs, at `case.handled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm.exc import StaleDataError

from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.models import Case
from server.models.base import SRID
from server.services.caseloop.cases import expect_version, record_event, visible_case
from server.services.messaging import notify
from server.services.people.principal import Principal
from server.services.territory import geocoding
from server.services.territory.locate import locate
from server.services.uow import UnitOfWork, stale_version

LOCATORS = (Role.DISPATCHER, Role.ADMIN)
HOW = ("map", "candidate", "coordinates")


@dataclass(frozen=True)
class LocateInput:
    version: int
    lon: float
    lat: float
    crs: str = "wgs84"
    how: str = "map"  # how the dispatcher found it: a map click, a geocoder candidate, typed


def _may_locate(principal: Principal) -> None:
    if principal.role not in LOCATORS:
        raise Forbidden("Only dispatchers and admins locate cases", "仅调度员和管理员可为事项定位")


def is_unlocated(case: Any) -> bool:
    return case.grid_id is None


def locate_case(uow: UnitOfWork, principal: Principal, case_id: str, data: LocateInput) -> Case:
    """Give an unlocated case its point (WGS84 after conversion from `crs`), grid and
    community. 403 for other roles, 404 outside the caller's scope, 409 when the case is
    already located or its version moved, 422 for a point outside the case's subdistrict."""
    _may_locate(principal)
    case = visible_case(principal, case_id)
    expect_version(case, data.version)
    if not is_unlocated(case):
        raise Conflict(
            "already_located",
            "the case already has a place",
            "该事项已有位置，无需定位",
        )
    if data.how not in HOW:
        raise Invalid(
            "invalid_value",
            f"how: one of {', '.join(HOW)}",
            "字段 how：应为 map、candidate 或 coordinates",
            field="how",
        )
    try:
        where = locate(data.lon, data.lat, data.crs, None)
    except DomainError as exc:
        if exc.code != "outside_subdistrict":
            raise  # a bad crs (422)
        raise _outside() from exc
    if where.subdistrict.id != case.subdistrict_id:
        raise _outside()
    case.point = from_shape(Point(where.lon, where.lat), srid=SRID)
    case.lon, case.lat = where.lon, where.lat
    case.grid_id = where.grid.id
    case.community_id = where.community.id
    case.reported_crs = data.crs
    try:
        uow.session.flush()
    except StaleDataError as exc:  # a concurrent change won the race
        raise stale_version() from exc
    record_event(
        uow,
        case,
        "locate",
        case.status,
        principal,
        {
            "lon": round(where.lon, 7),
            "lat": round(where.lat, 7),
            "crs": data.crs,
            "grid_id": where.grid.id,
            "grid": where.grid.code,
            "community_id": where.community.id,
            "how": data.how,
        },
    )
    notify.publish(
        "case.located",
        case,
        actor_id=principal.user_id,
        recipients=[case.reporter_id] if case.reporter_id else [],
        extra={"how": data.how},
    )
    uow.session.expire(case, ["grid", "community"])
    return case


def _outside() -> Invalid:
    return Invalid(
        "outside_subdistrict",
        "lat/lng: the point lies in none of the grids of the case's subdistrict",
        "字段 lat/lng：该位置不在本事项所属街道的任何网格内",
        field="lat",
    )


@dataclass(frozen=True)
class Candidates:
    address: str | None
    provider: str
    candidates: list[dict[str, Any]]
    failure: str | None  # why the geocoder gave nothing (off, unreachable, an error answer)


def candidates_for(principal: Principal, case_id: str) -> Candidates:
    """What the geocoder offers for the case's address, each marked whether it falls in a
    grid of the case's subdistrict (and which); never a 5xx when the geocoder fails."""
    _may_locate(principal)
    case = visible_case(principal, case_id)
    provider = str(geocoding.settings().get("provider", "none"))
    if not case.address:
        return Candidates(case.address, provider, [], "the case has no address / 该事项没有地址")
    try:
        found = geocoding.candidates(case.address)
    except geocoding.GeocoderUnavailable as exc:
        return Candidates(case.address, provider, [], str(exc))
    out = []
    for c in found:
        item = c.as_dict()
        try:
            where = locate(c.lon, c.lat, "wgs84", None)
            inside = where.subdistrict.id == case.subdistrict_id
        except DomainError:
            inside = False
        item["inside"] = inside
        item["grid"] = (
            {"id": where.grid.id, "code": where.grid.code, "name": where.grid.name}
            if inside
            else None
        )
        out.append(item)
    return Candidates(case.address, provider, out, None)
