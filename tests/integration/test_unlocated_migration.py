"""Migration 0016: cases' place columns become nullable (unlocated cases, 待定位) and back.

At 0013_perfq_case_search a few located cases are written; after `upgrade` they are the same
rows (same rowids on SQLite), the spatial index and the search triggers still work, and an
unlocated case can be stored. `downgrade` refuses while one exists (with a clear message) and,
once it is located, puts the NOT NULL constraints back; `upgrade` again works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_app
from factories import build_world_geojson
from helpers import A1, B1
from test_migrations import migration_db_url

BEFORE = "0013_perfq_case_search"
PLACE = ("community_id", "grid_id", "point", "lon", "lat")


def nullable(conn: Any) -> dict[str, bool]:
    columns = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("cases")}
    return {name: columns[name] for name in PLACE}


def near(conn: Any, backend: str, lon: float, lat: float) -> list[str]:
    """Case numbers within ~100 m, through the spatial index."""
    d = 0.001
    if backend == "spatialite":
        sql = (
            "SELECT number FROM cases WHERE rowid IN (SELECT rowid FROM SpatialIndex "
            "WHERE f_table_name = 'cases' AND f_geometry_column = 'point' "
            "AND search_frame = BuildMbr(:x0, :y0, :x1, :y1, 4326)) ORDER BY number"
        )
    else:
        sql = (
            "SELECT number FROM cases WHERE point && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) "
            "ORDER BY number"
        )
    rows = conn.execute(sa.text(sql), {"x0": lon - d, "y0": lat - d, "x1": lon + d, "y1": lat + d})
    return [r[0] for r in rows]


def searched(conn: Any, backend: str, word: str) -> list[str]:
    if backend == "spatialite":
        sql = (
            "SELECT number FROM cases WHERE rowid IN "
            "(SELECT rowid FROM cases_search WHERE cases_search MATCH :w) ORDER BY number"
        )
        return [r[0] for r in conn.execute(sa.text(sql), {"w": f'"{word}"'})]
    sql = "SELECT number FROM cases WHERE description ILIKE :w ORDER BY number"
    return [r[0] for r in conn.execute(sa.text(sql), {"w": f"%{word}%"})]


def unlocated_row(conn: Any, template: str) -> None:
    """A copy of a case without place (as the import writes one), by SQL: the app's models
    are at head, this runs at any revision."""
    columns = [c["name"] for c in sa.inspect(conn).get_columns("cases")]
    keep = [c for c in columns if c not in PLACE and c not in ("id", "number", "public_token")]
    conn.execute(
        sa.text(
            f"INSERT INTO cases (id, number, public_token, {', '.join(keep)}) "
            f"SELECT 'unlocated-1', 'QJ-UNLOCATED', 'tok-unlocated', {', '.join(keep)} "
            "FROM cases WHERE number = :n"
        ),
        {"n": template},
    )


@pytest.mark.parametrize("backend_name", ["spatialite", "postgis"])
def test_upgrade_keeps_cases_and_indexes_downgrade_refuses_unlocated(
    backend_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flask_migrate import downgrade, upgrade

    from server.extensions import db
    from server.models import Category
    from server.services.caseloop.cases import ReportInput, report_case
    from server.services.territory.grids_import import import_geojson
    from server.services.uow import unit_of_work

    app = make_app(migration_db_url(backend_name, tmp_path), tmp_path / "instance")
    migrations = app.config["MIGRATIONS_DIR"]
    with app.app_context():
        upgrade(directory=migrations, revision=BEFORE)
        with unit_of_work() as uow:
            import_geojson(uow, build_world_geojson()[0])
        db.session.add(
            Category(
                code="sanitation",
                name_zh="环境卫生",
                name_en="Sanitation",
                default_priority="normal",
                deadline_hours={"urgent": 4, "high": 24, "normal": 72, "low": 168},
            )
        )
        db.session.commit()
        numbers = []
        for at, text in ((A1, "垃圾桶满溢"), (B1, "路灯不亮"), (A1, "井盖缺失")):
            with unit_of_work() as uow:
                result = report_case(
                    uow,
                    None,
                    ReportInput(category="sanitation", description=text, lon=at[0], lat=at[1]),
                )
                numbers.append(result.case.number)
        db.session.remove()
        with db.engine.connect() as conn:
            assert not any(nullable(conn).values())
            before_rows = conn.execute(
                sa.text("SELECT id, number, grid_id, lon, lat FROM cases ORDER BY id")
            ).all()
            rowids = (
                conn.execute(sa.text("SELECT rowid, id FROM cases ORDER BY id")).all()
                if backend_name == "spatialite"
                else None
            )
            assert near(conn, backend_name, *A1) == sorted([numbers[0], numbers[2]])

        upgrade(directory=migrations)
        with db.engine.begin() as conn:
            assert all(nullable(conn).values())
            assert (
                conn.execute(
                    sa.text("SELECT id, number, grid_id, lon, lat FROM cases ORDER BY id")
                ).all()
                == before_rows
            )
            if backend_name == "spatialite":
                assert (
                    conn.execute(sa.text("SELECT rowid, id FROM cases ORDER BY id")).all() == rowids
                )
                assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
                triggers = set(
                    conn.execute(
                        sa.text(
                            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                            "AND tbl_name = 'cases'"
                        )
                    ).scalars()
                )
                assert {"cases_search_ai", "cases_search_au", "gii_cases_point"} <= triggers
            assert near(conn, backend_name, *A1) == sorted([numbers[0], numbers[2]])
            assert searched(conn, backend_name, "路灯不") == [numbers[1]]
            unlocated_row(conn, numbers[1])
            assert near(conn, backend_name, *B1) == [numbers[1]]  # the copy has no point
            assert searched(conn, backend_name, "路灯不") == sorted([numbers[1], "QJ-UNLOCATED"])

        with pytest.raises(SystemExit):  # flask-migrate logs the error and exits 1
            downgrade(directory=migrations, revision=BEFORE)
        assert "1 unlocated case(s) have no location" in caplog.text
        assert "1 件待定位事项没有位置，无法降级" in caplog.text
        db.session.remove()
        with db.engine.begin() as conn:  # the refusal changed nothing
            assert all(nullable(conn).values())
            assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 4
            # located, as a dispatcher would
            conn.execute(
                sa.text(
                    "UPDATE cases SET (point, lon, lat, grid_id, community_id) = "
                    "(SELECT point, lon, lat, grid_id, community_id FROM cases "
                    " WHERE number = :n) WHERE id = 'unlocated-1'"
                ),
                {"n": numbers[0]},
            )
            assert near(conn, backend_name, *A1) == sorted([numbers[0], numbers[2], "QJ-UNLOCATED"])

        downgrade(directory=migrations, revision=BEFORE)
        with db.engine.begin() as conn:
            assert not any(nullable(conn).values())
            if backend_name == "spatialite":
                assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE cases SET grid_id = NULL WHERE id = 'unlocated-1'"))
        upgrade(directory=migrations)
        with db.engine.connect() as conn:
            assert all(nullable(conn).values())
        db.engine.dispose()
