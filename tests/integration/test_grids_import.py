"""Importing communities and grids: the validation report, all-or-nothing, idempotency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import LAT0, LON0, STEP, build_world_geojson, feature, square
from flask import Flask
from sqlalchemy import func, select

from server.services.uow import unit_of_work


def counts(app: Flask) -> dict[str, int]:
    from server.extensions import db
    from server.models import Community, Grid, Subdistrict

    with app.app_context():
        return {
            m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Subdistrict, Community, Grid)
        }


def run_import(app: Flask, fc: Any, **kwargs: Any) -> Any:
    from server.services.territory.grids_import import import_geojson

    with app.app_context():
        with unit_of_work() as uow:
            out = import_geojson(uow, fc, **kwargs)
        return out


def test_import_creates_then_is_idempotent(app: Flask) -> None:
    fc, _ = build_world_geojson()
    first = run_import(app, fc)
    assert dict(first.created) == {"subdistrict": 2, "community": 3, "grid": 4}
    second = run_import(app, fc)
    assert not second.created and not second.updated
    assert dict(second.unchanged) == {"subdistrict": 2, "community": 3, "grid": 4}
    assert counts(app) == {"subdistricts": 2, "communities": 3, "grids": 4}


def test_reimport_by_code_updates(app: Flask) -> None:
    from server.extensions import db
    from server.models import Grid

    fc, codes = build_world_geojson()
    run_import(app, fc)
    for f in fc["features"]:
        if f["properties"]["code"] == codes["A1"]:
            f["properties"]["population"] = 1500
    report = run_import(app, fc)
    assert dict(report.updated) == {"grid": 1}
    with app.app_context():
        grid = db.session.scalar(select(Grid).where(Grid.code == codes["A1"]))
        assert grid is not None and grid.population == 1500


def bowtie() -> dict[str, Any]:
    x, y, s = LON0, LAT0, STEP
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + s, y + s], [x + s, y], [x, y + s], [x, y]]],
    }


def broken_world(fault: str) -> dict[str, Any]:
    fc, codes = build_world_geojson()
    a2 = next(f for f in fc["features"] if f["properties"]["code"] == codes["A2"])
    x, y, s = LON0, LAT0, STEP
    if fault == "self_intersection":
        a2["geometry"] = bowtie()
    elif fault == "grids_overlap":
        a2["geometry"] = square(x + 0.5 * s, y, x + 2 * s, y + s)
    elif fault == "outside_community":
        a2["geometry"] = square(x + s, y, x + 2 * s, y + 2 * s)
    elif fault == "bad_code":
        a2["properties"]["code"] = "12345"
    elif fault == "duplicate_code":
        a2["properties"]["code"] = codes["A1"]
    elif fault == "unknown_community":
        a2["properties"]["code"] = "321002901009001"
    elif fault == "wrong_type":
        a2["geometry"] = {"type": "Point", "coordinates": [x, y]}
    elif fault == "swapped_lonlat":
        a2["geometry"] = {
            "type": "Polygon",
            "coordinates": [[[p[1], p[0]] for p in a2["geometry"]["coordinates"][0]]],
        }
    elif fault == "bad_count":
        a2["properties"]["population"] = -5
    return fc


FAULTS = [
    "self_intersection",
    "grids_overlap",
    "outside_community",
    "bad_code",
    "duplicate_code",
    "unknown_community",
    "wrong_type",
    "swapped_lonlat",
    "bad_count",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_bad_feature_rejects_the_whole_file(app: Flask, fault: str) -> None:
    from server.services.territory.grids_import import ImportRejected

    with pytest.raises(ImportRejected) as info:
        run_import(app, broken_world(fault))
    problems = info.value.report.problems
    assert fault in [p.code for p in problems], [p.as_dict() for p in problems]
    assert all(p.message and p.message_zh for p in problems)
    assert counts(app) == {"subdistricts": 0, "communities": 0, "grids": 0}


def test_self_intersection_is_reported_where(app: Flask) -> None:
    from server.services.territory.grids_import import ImportRejected

    with pytest.raises(ImportRejected) as info:
        run_import(app, broken_world("self_intersection"))
    problem = next(p for p in info.value.report.problems if p.code == "self_intersection")
    assert problem.location == pytest.approx((LON0 + STEP / 2, LAT0 + STEP / 2), abs=1e-6)


def test_skip_invalid_imports_the_rest(app: Flask) -> None:
    report = run_import(app, broken_world("grids_overlap"), skip_invalid=True)
    assert report.skipped == 1
    assert counts(app) == {"subdistricts": 2, "communities": 3, "grids": 3}


def test_overlap_with_a_grid_already_in_the_database(app: Flask) -> None:
    from server.services.territory.grids_import import ImportRejected

    fc, codes = build_world_geojson()
    run_import(app, fc)
    x, y, s = LON0, LAT0, STEP
    extra = {
        "type": "FeatureCollection",
        "features": [
            feature(codes["A"] + "003", "新网格", square(x + 0.2 * s, y, x + 0.8 * s, y + 0.5 * s))
        ],
    }
    with pytest.raises(ImportRejected) as info:
        run_import(app, extra)
    assert [p.code for p in info.value.report.problems] == ["grids_overlap"]
    assert counts(app)["grids"] == 4


def test_not_geojson_at_all(app: Flask) -> None:
    from server.services.territory.grids_import import ImportRejected

    with pytest.raises(ImportRejected) as info:
        run_import(app, "this is not json")
    assert info.value.report.problems[0].code == "invalid_json"


def test_cli_import_reports_and_exit_codes(app: Flask, tmp_path: Path) -> None:
    good, _ = build_world_geojson()
    bad = broken_world("grids_overlap")
    runner = app.test_cli_runner()
    bad_path = tmp_path / "bad.geojson"
    bad_path.write_text(json.dumps(bad), encoding="utf-8")
    result = runner.invoke(args=["grids", "import", str(bad_path)])
    assert result.exit_code == 1
    assert "grids_overlap" in result.output and "重叠" in result.output
    assert counts(app)["grids"] == 0
    good_path = tmp_path / "good.geojson"
    good_path.write_text(json.dumps(good), encoding="utf-8")
    result = runner.invoke(args=["grids", "import", str(good_path)])
    assert result.exit_code == 0, result.output
    assert "grid 4" in result.output
