"""On a real worker: a scheduled slot that passes with no patrol is marked missed, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import Worker, World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import ok
from sqlalchemy import func, select

pytestmark = pytest.mark.worker


def test_missed_slots_marked_once_on_the_worker(
    app: Flask, client: FlaskClient, worker: Worker, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import Notification, PatrolSlot
    from server.models.base import utcnow

    three_days_ago = (utcnow() - timedelta(days=3)).date().isoformat()
    ok(
        client.post(
            "/api/v1/patrol-schedules",
            headers=bearer(tokens["dispatcher"]),
            json={
                "collector_id": world.user_ids["collector"],
                "grid_id": world.grid_ids["A1"],
                "times": ["00:00", "06:00", "12:00", "18:00"],
                "tolerance_minutes": 5,
                "skip_holidays": False,
                "valid_from": three_days_ago,
            },
        ),
        201,
    )
    celery = app.extensions["celery"]

    def sweep() -> dict[str, int]:
        return celery.send_task("minqing.patrols.judge_slots", queue=worker.queue).get(timeout=60)  # type: ignore[no-any-return]

    first = sweep()
    second = sweep()
    with app.app_context():
        slots = db.session.scalars(select(PatrolSlot.status)).all()
        missed_notes = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == world.user_ids["collector"],
                Notification.event == "patrol.missed",
            )
        )
    # two days of four slots a day (the sweep looks back two days): 7 to 8 have closed
    assert 7 <= first["missed"] <= 8 and first["done"] == 0
    assert second == {"done": 0, "missed": 0}
    assert len(slots) == first["missed"] and set(slots) == {"missed"}
    assert missed_notes == first["missed"]
