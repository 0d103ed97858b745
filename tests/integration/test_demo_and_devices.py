"""Demo seed (idempotent, plausible) and device tokens (issue, use, revoke)."""

from __future__ import annotations

import json

from conftest import World, bearer
from flask import Flask
from sqlalchemy import func, select


def table_counts(app: Flask) -> dict[str, int]:
    from server.extensions import db

    with app.app_context():
        return {
            t.name: db.session.scalar(select(func.count()).select_from(t)) or 0
            for t in db.metadata.sorted_tables
        }


def test_demo_seed_builds_qujiang_once(app: Flask) -> None:
    from server.extensions import db
    from server.models import Community, Grid, Patrol, SentimentIndex, User

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed", "--history-days", "4"])
    assert result.exit_code == 0, result.output
    assert "collector01" in result.output and "dispatcher" in result.output
    assert "history 历史 (4 days)" in result.output
    first = table_counts(app)
    with app.app_context():
        kinds = dict(
            db.session.execute(select(Community.kind, func.count()).group_by(Community.kind)).all()
        )
        assert kinds == {"village": 6, "community": 14}
        assert 200 <= first["grids"] <= 500
        collectors = db.session.scalar(select(func.count()).where(User.role == "collector"))
        assert collectors == 42
        assert first["collector_grids"] == first["grids"]  # every grid has a collector
        area_km2 = db.session.scalar(select(func.sum(Community.area_m2))) / 1e6
        assert 11.0 < area_km2 < 14.0
        grid_area_km2 = db.session.scalar(select(func.sum(Grid.area_m2))) / 1e6
        assert abs(grid_area_km2 - area_km2) < 0.01 * area_km2
        # history: patrols on most days, and the index for every day of it
        assert db.session.scalar(select(func.count()).select_from(Patrol)) > 100
        days = db.session.scalars(select(SentimentIndex.day).distinct()).all()
        assert len(days) == 4
    again = runner.invoke(args=["demo", "seed", "--history-days", "4"])
    assert again.exit_code == 0
    assert "nothing changed" in again.output
    assert table_counts(app) == first


def test_demo_login_works(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed", "--history-days", "0"]).exit_code == 0
    client = app.test_client()
    response = client.post(
        "/api/v1/auth/token",
        json={"username": "collector07", "password": app.config["DEMO_PASSWORD"]},
    )
    assert response.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(response.get_json()["access_token"])).get_json()
    assert len(me["grid_ids"]) >= 5


def test_device_token_issue_use_revoke(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["devices", "issue", "--collector", "collector", "--json"])
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert issued["token"].startswith("mqd_")
    assert issued["pair_url"].endswith(f"/app/#pair={issued['token']}")
    client = app.test_client()
    me = client.get("/api/v1/me", headers=bearer(issued["token"]))
    assert me.status_code == 200
    from server.extensions import db
    from server.models import Device

    with app.app_context():
        seen = db.session.get(Device, issued["device_id"])
        assert seen is not None and seen.last_seen_at is not None
    assert me.get_json()["device_id"] == issued["device_id"]
    assert me.get_json()["grid_ids"] == [world.grid_ids["A1"]]

    with app.app_context():
        device = db.session.get(Device, issued["device_id"])
        assert device is not None
        assert issued["token"] not in (device.token_hash, device.token_hint)  # stored hashed
    result = runner.invoke(args=["devices", "revoke", issued["device_id"]])
    assert result.exit_code == 0
    response = client.get("/api/v1/me", headers=bearer(issued["token"]))
    assert response.status_code == 401
    assert response.get_json()["code"] == "device_revoked"


def test_device_issue_refuses_non_collectors(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    before = table_counts(app)["devices"]
    result = runner.invoke(args=["devices", "issue", "--collector", "dispatcher", "--json"])
    assert result.exit_code == 1
    assert "民情收集员" in result.output
    assert table_counts(app)["devices"] == before


def test_device_qr_png(app: Flask, world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    png = tmp_path / "device.png"
    result = app.test_cli_runner().invoke(
        args=["devices", "issue", "--collector", "collector", "--png", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "mqd_" in result.output
    with Image.open(png) as image:
        assert image.size[0] > 100


def test_users_create_cli_validates(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "newbie",
            "--role",
            "collector",
            "--name",
            "新人",
            "--password",
            "long-enough-pw",
            "--subdistrict",
            "321002901",
            "--grids",
            world.grid_codes["A2"],
        ]
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "other",
            "--role",
            "collector",
            "--name",
            "另一",
            "--password",
            "long-enough-pw",
            "--subdistrict",
            "321002901",
            "--grids",
            world.grid_codes["C1"],
        ]
    )
    assert bad.exit_code == 1
    assert "街道" in bad.output
    from server.extensions import db
    from server.models import User

    with app.app_context():  # nothing half-written: no user without their grids
        assert db.session.scalar(select(User).where(User.username == "other")) is None
    short = runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "x2z",
            "--role",
            "dispatcher",
            "--name",
            "短",
            "--password",
            "short",
            "--subdistrict",
            "321002901",
        ]
    )
    assert short.exit_code == 1 and "password" in short.output
