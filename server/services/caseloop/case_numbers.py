"""Public case numbers: <prefix>-<local date>-<sequence>, e.g. QJ-20261126-0042."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.extensions import db
from server.models import CaseNumberCounter, Subdistrict


def next_number(subdistrict_id: int, prefix: str, day: date) -> str:
    """The next number for the day, atomically (an upsert that returns the new count).

    Numbers are unique: sub-districts that share a prefix share one counter, kept under the
    lowest id among them (else two of them would both hand out QJ-…-0001 on the same day).
    """
    owner = db.session.execute(
        select(func.min(Subdistrict.id)).where(Subdistrict.case_prefix == prefix)
    ).scalar()
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    table = CaseNumberCounter.__table__
    stmt = (
        insert(table)
        .values(subdistrict_id=owner if owner is not None else subdistrict_id, day=day, last=1)
        .on_conflict_do_update(
            index_elements=[table.c.subdistrict_id, table.c.day],
            set_={"last": table.c.last + 1},
        )
        .returning(table.c.last)
    )
    seq = db.session.execute(stmt).scalar_one()
    return f"{prefix}-{day:%Y%m%d}-{seq:04d}"
