"""unlocated cases: cases.point, lon, lat, grid_id and community_id may be NULL

Revision ID: 0016_unlocated_case_location
Revises: 0015_search_bigrams
Create Date: 2026-12-04 14:30:00

A 12345 work order or an Open311 request that gives only an address the geocoder cannot
place becomes a case *unlocated* (待定位): no point, no grid, no community, until a
dispatcher locates it (docs/interop.md). Its subdistrict is always known.

PostgreSQL: `ALTER COLUMN … DROP NOT NULL`. SQLite: the NOT NULL constraints are taken out
of the table's stored `CREATE TABLE` text (`PRAGMA writable_schema`), which SQLite documents
as safe for removing NOT NULL constraints (the file format does not change); the table is
not rebuilt, so its rowids, the spatial index `idx_cases_point`, SpatiaLite's geometry
triggers and the FTS5 search triggers (0013_perfq_case_search) stay as they were.

Downgrade refuses while an unlocated case exists: locate (or delete) them first.
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_unlocated_case_location'
down_revision = "0015_search_bigrams"
branch_labels = None
depends_on = None

# column → its declaration in the stored CREATE TABLE text (without NOT NULL)
COLUMNS = {
    "community_id": "community_id INTEGER",
    "grid_id": "grid_id INTEGER",
    "point": "point GEOMETRY",
    "lon": "lon FLOAT",
    "lat": "lat FLOAT",
}


def _sqlite_rewrite(nullable: bool) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cases'"
    ).scalar()
    new = sql
    for declaration in COLUMNS.values():
        with_nn = re.compile(r"(?<![\w\"])" + re.escape(declaration) + r"\s+NOT NULL\b")
        without = re.compile(r"(?<![\w\"])" + re.escape(declaration) + r"(?=\s*,)")
        if nullable:
            new, count = with_nn.subn(declaration, new)
            already = bool(without.search(new))
        else:
            new, count = without.subn(declaration + " NOT NULL", new)
            already = bool(with_nn.search(new))
        if count != 1 and not already:
            raise RuntimeError(f"cases: cannot find the declaration {declaration!r} to rewrite")
    if new == sql:
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'cases'", (new,)
        )
        # other connections re-read the schema when its version moves
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA quick_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"cases: the database check failed after the rewrite: {problems}")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for column in COLUMNS:
            op.alter_column("cases", column, nullable=True)
    else:
        _sqlite_rewrite(nullable=True)


def downgrade():
    bind = op.get_bind()
    unlocated = bind.execute(
        sa.text(
            "SELECT count(*) FROM cases WHERE point IS NULL OR grid_id IS NULL "
            "OR community_id IS NULL OR lon IS NULL OR lat IS NULL"
        )
    ).scalar()
    if unlocated:
        raise RuntimeError(
            f"{unlocated} 件待定位事项没有位置，无法降级：请先定位（或删除）它们 / "
            f"{unlocated} unlocated case(s) have no location: locate (or delete) them "
            "before downgrading below 0016_unlocated_case_location"
        )
    if bind.dialect.name == "postgresql":
        for column in COLUMNS:
            op.alter_column("cases", column, nullable=False)
    else:
        _sqlite_rewrite(nullable=False)
