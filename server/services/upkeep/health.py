"""What the database holds, in a few counts (for health checks and the CLI)."""

from __future__ import annotations

from sqlalchemy import func, select

from server.extensions import db
from server.models import Community, Grid, Subdistrict, User


def database_summary() -> dict[str, object]:
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (
            ("subdistricts", Subdistrict),
            ("communities", Community),
            ("grids", Grid),
            ("users", User),
        )
    }
    return {"backend": db.engine.dialect.name, **counts}
