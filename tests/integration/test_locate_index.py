"""Locate from memory: no SQL per point, one fingerprint check per app context, the index
rebuilt when the territory changes (in this process at once, in another at the next check)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import World
from factories import LAT0, LON0, STEP
from flask import Flask
from helpers import A1, B1
from sqlalchemy import event, text, update


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    from server.extensions import db

    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_points_are_located_without_sql_after_one_check(app: Flask, world: World) -> None:
    from server.services.territory import locate

    with app.app_context():
        locate.locate(*A1, "wgs84", None)  # the first call in this context checks (and builds)
        with statements(app) as seen:
            for _ in range(50):
                where = locate.locate(*A1, "wgs84", None)
                assert where.grid.code == world.grid_codes["A1"]
                assert where.community.id == world.community_ids["A"]
                assert where.subdistrict.id == world.subdistrict_id
                assert where.subdistrict.case_prefix == "MQ"
            many = locate.locate_many([(*A1, "wgs84"), (*B1, "wgs84"), (119.2, 32.39, "wgs84")])
        assert seen == []
    assert isinstance(many[0], locate.Located) and many[0].grid_id == world.grid_ids["A1"]
    assert isinstance(many[1], locate.Located) and many[1].grid_code == world.grid_codes["B1"]
    assert many[1].community_id == world.community_ids["B"]
    assert not isinstance(many[2], locate.Located) and many[2].code == "outside_subdistrict"
    locate._cache.checked_at = 0.0  # as if the last check were long ago
    with app.app_context(), statements(app) as seen:
        locate.locate(*A1, "wgs84", None)  # a new context (a request): one cheap check
        locate.locate(*B1, "wgs84", None)
    assert len(seen) == 1 and "max" in seen[0].lower()
    with app.app_context(), statements(app) as seen:
        locate.locate(*A1, "wgs84", None)  # checked less than a second ago: none
    assert seen == []


def test_a_grid_written_in_this_process_is_seen_at_once(app: Flask, world: World) -> None:
    from server.extensions import db
    from server.models import Grid, Subdistrict
    from server.services.territory import locate

    with app.app_context():
        assert locate.locate(*A1, "wgs84", None).grid.name != "改名"
        grid = db.session.get(Grid, world.grid_ids["A1"])
        assert grid is not None
        grid.name = "改名"
        db.session.get(Subdistrict, world.subdistrict_id).case_prefix = "QJ"  # type: ignore[union-attr]
        db.session.commit()
        where = locate.locate(*A1, "wgs84", None)  # same app context: no new check needed
        assert where.grid.name == "改名" and where.subdistrict.case_prefix == "QJ"
        grid.active = False
        db.session.commit()
        assert not isinstance(locate.locate_many([(*A1, "wgs84")])[0], locate.Located)


def test_a_write_through_sqlalchemy_is_seen_at_once(app: Flask, world: World) -> None:
    """Core and text statements count too (a test's wipe, a bulk import), not only flushes."""
    from server.extensions import db
    from server.models import Grid
    from server.services.territory import locate

    with app.app_context():
        assert locate.locate(*A1, "wgs84", None).grid.name != "core"
        with db.engine.begin() as conn:
            conn.execute(
                update(Grid.__table__)
                .where(Grid.__table__.c.id == world.grid_ids["A1"])
                .values(name="core")
            )
        assert locate.locate(*A1, "wgs84", None).grid.name == "core"
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE grids SET name = 'text' WHERE id = :id"), {"id": world.grid_ids["A1"]}
            )
        assert locate.locate(*A1, "wgs84", None).grid.name == "text"


def test_another_process_write_is_seen_at_the_next_check(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's write passes through no SQLAlchemy of ours: the fingerprint, checked
    at most once per app context and per MINQING_TERRITORY_RECHECK_SECONDS, sees it."""
    from server.extensions import db
    from server.services.territory import locate

    with app.app_context():
        assert locate.locate(*A1, "wgs84", None).grid.id == world.grid_ids["A1"]
        raw = db.engine.raw_connection()  # below SQLAlchemy's events, as another process
        try:
            cursor = raw.cursor()
            cursor.execute(
                "UPDATE grids SET name = 'other', updated_at = '2099-01-01 00:00:00.000000' "
                f"WHERE id = {int(world.grid_ids['A1'])}"
            )
            raw.commit()
        finally:
            raw.close()
        builds = locate._cache.builds
        assert locate.locate(*A1, "wgs84", None).grid.name != "other"  # not yet checked again
    monkeypatch.setitem(app.config, "TERRITORY_RECHECK_SECONDS", 0)
    with app.app_context(), statements(app) as seen:
        assert locate.locate(*A1, "wgs84", None).grid.name == "other"
        assert locate.locate(*B1, "wgs84", None).grid.code == world.grid_codes["B1"]
    assert locate._cache.builds == builds + 1
    assert sum("max" in s.lower() for s in seen) == 1  # one check for the context


def test_border_rule_and_outside(app: Flask, world: World) -> None:
    from server.errors import DomainError
    from server.services.territory import locate

    with app.app_context():
        border = locate.locate(LON0 + STEP, LAT0 + 0.5 * STEP, "wgs84", None)
        assert border.grid.code == world.grid_codes["A1"]  # lowest code wins
        with pytest.raises(DomainError) as refused:
            locate.locate(119.2, 32.39, "wgs84", None)
        assert refused.value.code == "outside_subdistrict"


def test_bulk_locate_pauses_the_collector_and_restores_it() -> None:
    import gc

    from server.services.territory import locate

    assert gc.isenabled()
    with locate._gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with locate._gc_paused():
            pass
        assert not gc.isenabled()  # disabled by someone else: stays so
    finally:
        gc.enable()
    with pytest.raises(ValueError), locate._gc_paused():
        raise ValueError
    assert gc.isenabled()
