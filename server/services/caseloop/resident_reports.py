"""A resident's report from the public web page: with an optional photo taken there and
then, and the grid outlines the page draws for picking a place on the map.

The API refuses photos from anonymous reporters because a photo is named by its hash and an
anonymous caller could name someone else's. Here the photo's bytes come in the same request
as the report, so the resident attaches only what they hold.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import select

from server.extensions import db
from server.models import Community, Grid
from server.services.caseloop.cases import ReportInput, ReportResult, report_case
from server.services.files import attachments
from server.services.uow import UnitOfWork

OUTLINE_TOLERANCE = 0.00002  # degrees, about 2 m: enough for a finger on a phone map


def report_with_photo(uow: UnitOfWork, data: ReportInput, photo: bytes | None) -> ReportResult:
    """Report a case as an anonymous resident, with the photo they uploaded alongside.

    The photo is checked and stored first (a bad file refuses the report: 413/415); the
    case and the photo's link to it are one transaction.
    """
    carried: list[str] = []
    if photo:
        stored, _ = attachments.store_upload(uow, photo, declared_sha256=None, uploader_id=None)
        carried.append(stored.sha256)
    data.photos = []
    # the photo goes into the report event as it is written: the event is hashed into the
    # case's audit chain when flushed, so it must not be edited afterwards
    result = report_case(uow, None, data, carried_photos=carried)
    return result


def grid_outlines(subdistrict_id: int | None = None) -> dict[str, Any]:
    """Every active grid as a GeoJSON feature (code, name, community), simplified for
    drawing; nothing about people."""
    stmt = (
        select(Grid.code, Grid.name, Community.name, Grid.geom)
        .join(Community, Community.id == Grid.community_id)
        .where(Grid.active.is_(True))
        .order_by(Grid.code)
    )
    if subdistrict_id is not None:
        stmt = stmt.where(Grid.subdistrict_id == subdistrict_id)
    features = []
    for code, name, community, geom in db.session.execute(stmt):
        shape = to_shape(geom).simplify(OUTLINE_TOLERANCE, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(shape),
                "properties": {"code": code, "name": name, "community": community},
            }
        )
    return {"type": "FeatureCollection", "features": features}
