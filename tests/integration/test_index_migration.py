"""Migration 0013 converts stored index rows: the API answers the same before and after.

At revision 0012 the rows are written as the index/1 code wrote them (score, the components
JSON with labels, values, weights, effective weights and basis, the inputs JSON), with two
sets of weights. The answers the API gave for them are the stored JSON as it was (with the
change against the day before). After `upgrade` to the slim rows the API must answer exactly
that; `downgrade` must give the original JSON back.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_app
from factories import build_world_geojson
from test_migrations import migration_db_url

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
OLD = sa.table(
    "sentiment_index",
    sa.column("id", sa.Integer()),
    sa.column("day", sa.Date()),
    sa.column("level", sa.String()),
    sa.column("area_id", sa.Integer()),
    sa.column("subdistrict_id", sa.Integer()),
    sa.column("score", sa.Float()),
    sa.column("components", sa.JSON()),
    sa.column("inputs", sa.JSON()),
    sa.column("formula_version", sa.String()),
    sa.column("computed_at", sa.DateTime(timezone=True)),
)
TOPIC_KEYS = ("topic_satisfied", "topic_basic", "topic_unsatisfied")


def random_inputs(rng: random.Random) -> Any:
    from server.domain.index import IndexInputs

    due, handled, scheduled = rng.randint(0, 9), rng.randint(0, 9), rng.choice([0, 7, 14])
    return IndexInputs(
        population=rng.choice([0, 300, 1200, 2600]),
        new_cases_by_priority={p: rng.randint(0, 3) for p in ("low", "normal", "high", "urgent")},
        due_count=due,
        closed_on_time=rng.randint(0, due),
        ratings_satisfied=rng.randint(0, 5),
        ratings_basic=rng.randint(0, 2),
        ratings_unsatisfied=rng.randint(0, 2),
        handled_count=handled,
        reworked_count=rng.randint(0, handled),
        patrol_coverage=rng.choice([None, 0.0, 0.6804, rng.random()]),
        scheduled_patrols=scheduled,
        patrols_done_on_time=rng.randint(0, scheduled),
    )


def old_rows(grids: list[Any], rng: random.Random) -> list[dict[str, Any]]:
    """Rows as the index/1 code stored them."""
    from dataclasses import replace

    from server.domain.index import Weights, combine_inputs, compute_index

    rows: list[dict[str, Any]] = []
    for n, day in enumerate(DAYS):
        wts = Weights() if n < 2 else Weights.from_mapping({"satisfaction": 0.4, "rework": 0})
        by_community: dict[int, list[Any]] = {}
        per_grid = {}
        for g in grids:
            per_grid[g.id] = replace(
                random_inputs(rng),
                window_days=7,
                topic_satisfied=0,
                topic_basic=0,
                topic_unsatisfied=0,
            )
            by_community.setdefault(g.community_id, []).append(g)
        areas = [("grid", g.id, g.subdistrict_id, per_grid[g.id]) for g in grids] + [
            (
                "community",
                cid,
                members[0].subdistrict_id,
                combine_inputs([per_grid[g.id] for g in members], [g.area_m2 for g in members]),
            )
            for cid, members in by_community.items()
        ]
        for level, area_id, sid, inputs in areas:
            result = compute_index(inputs, wts).as_dict()
            components = {k: v for k, v in result["components"].items() if k != "topic_evaluation"}
            stored_inputs = {k: v for k, v in inputs.as_dict().items() if k not in TOPIC_KEYS}
            rows.append(
                {
                    "id": len(rows) + 1,
                    "day": day,
                    "level": level,
                    "area_id": area_id,
                    "subdistrict_id": sid,
                    "score": result["score"],
                    "components": components,
                    "inputs": stored_inputs,
                    "formula_version": "index/1",
                    "computed_at": datetime.now(UTC),
                }
            )
    return rows


def expected_answers(rows: list[dict[str, Any]]) -> dict[tuple[date, str, int], dict[str, Any]]:
    """What the API answered for each stored row before the conversion."""
    score = {(r["day"], r["level"], r["area_id"]): r["score"] for r in rows}
    out = {}
    for r in rows:
        before = score.get((r["day"] - timedelta(days=1), r["level"], r["area_id"]))
        change = (
            round(r["score"] - before, 1) if r["score"] is not None and before is not None else None
        )
        out[(r["day"], r["level"], r["area_id"])] = {
            "score": r["score"],
            "change": change,
            "components": r["components"],
            "formula_version": r["formula_version"],
        }
    return out


@pytest.mark.parametrize("backend_name", ["spatialite", "postgis"])
def test_api_answers_the_same_after_the_conversion(backend_name: str, tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    from server.extensions import db
    from server.models import Grid
    from server.services.territory.grids_import import import_geojson
    from server.services.uow import unit_of_work

    app = make_app(migration_db_url(backend_name, tmp_path), tmp_path / "instance")
    migrations = app.config["MIGRATIONS_DIR"]
    with app.app_context():
        upgrade(directory=migrations, revision="0012_deliberation")
        with unit_of_work() as uow:
            import_geojson(uow, build_world_geojson()[0])
        grids = db.session.execute(
            sa.select(Grid.id, Grid.community_id, Grid.subdistrict_id, Grid.area_m2).order_by(
                Grid.id
            )
        ).all()
        rows = old_rows(grids, random.Random(13))
        db.session.execute(sa.insert(OLD), rows)
        db.session.commit()
        expected = expected_answers(rows)
        upgrade(directory=migrations)
        formulas = db.session.execute(sa.text("SELECT version FROM index_formulas")).all()
        assert sorted(v for (v,) in formulas) == ["index/1", "index/1"]  # two sets of weights
        db.session.rollback()

    client = app.test_client()
    seen = 0
    for day in DAYS:
        for level in ("grid", "community"):
            answer = client.get(f"/api/v1/index?date={day.isoformat()}&level={level}").get_json()
            assert answer["date"] == day.isoformat()
            for item in answer["items"]:
                want = expected[(day, level, item["area_id"])]
                got = {k: item[k] for k in ("score", "change", "components", "formula_version")}
                assert got == want
                seen += 1
    assert seen == len(rows)
    for level, area_id in {(r["level"], r["area_id"]) for r in rows}:
        history = client.get(
            f"/api/v1/index/history?{level}={area_id}&from={DAYS[0]}&to={DAYS[-1]}"
        ).get_json()
        assert [(p["day"], p["score"], p["components"]) for p in history["items"]] == [
            (
                day.isoformat(),
                expected[(day, level, area_id)]["score"],
                expected[(day, level, area_id)]["components"],
            )
            for day in DAYS
        ]

    with app.app_context():  # and back: the JSON as it was
        downgrade(directory=migrations, revision="0012_deliberation")
        back = {
            (r.day if isinstance(r.day, date) else date.fromisoformat(r.day), r.level, r.area_id): r
            for r in db.session.execute(sa.select(OLD))
        }
        for r in rows:
            old = back[(r["day"], r["level"], r["area_id"])]
            assert (old.score, old.components, old.inputs, old.formula_version) == (
                r["score"],
                r["components"],
                r["inputs"],
                r["formula_version"],
            )
        db.session.rollback()  # no transaction left open across the DDL
        upgrade(directory=migrations)
