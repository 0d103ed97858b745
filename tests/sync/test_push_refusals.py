"""A push's refused records leave nothing behind, one test per kind of refusal, on both
backends. Each record is applied in a savepoint of the push's one unit of work: a refusal
found after part of the record was written (a patrol started, then its end or its track
refused) undoes that part too, while the push's good records are applied."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from conftest import World
from flask import Flask
from helpers import A1, B1, ok
from phones import Phone
from sqlalchemy import func, select

from tests.sync.test_sync_basics import empty, log_raw, now_ms
from tests.sync.test_sync_guarantees import case_raw


def patrol_raw(patrol_id: str, grid_id: str, **extra: Any) -> dict[str, Any]:
    started = now_ms() - 20 * 60_000
    return {
        "id": patrol_id,
        "grid_id": grid_id,
        "status": "active",
        "started_at": started,
        "ended_at": None,
        "track": json.dumps([[A1[0], A1[1], started + 1000, 5]]),
        "crs": "wgs84",
        "distance_m": None,
        "coverage": None,
        "plausible": None,
        "_status": "created",
        "_changed": "",
        **extra,
    }


def push(phone: Phone, changes: dict[str, Any]) -> dict[str, Any]:
    """Push raw JSON (NaN allowed, as a careless client might send it)."""
    response = phone.client.post(
        f"/api/v1/sync/push?last_pulled_at={phone.last_pulled_at}",
        data=json.dumps(changes, allow_nan=True),
        headers={"Authorization": f"Bearer {phone.token}", "Content-Type": "application/json"},
    )
    return ok(response)


def left_behind(app: Flask, table: str, record_id: str) -> dict[str, Any]:
    """What the database holds of a record: its row, its change-log entry, its rejection."""
    from server.extensions import db
    from server.models import SYNC_TABLES, CaseAction, Patrol, PatrolLog

    model = {"patrols": Patrol, "patrol_logs": PatrolLog, "case_actions": CaseAction}[table]
    rows, rej = SYNC_TABLES.rows, SYNC_TABLES.rejections
    with app.app_context():
        found = {
            "row": db.session.get(model, record_id) is not None,
            "change_log": db.session.scalar(
                select(func.count())
                .select_from(rows)
                .where(rows.c.table_name == table, rows.c.record_id == record_id)
            ),
            "rejections": list(
                db.session.scalars(
                    select(rej.c.code).where(
                        rej.c.table_name == table, rej.c.record_id == record_id
                    )
                )
            ),
        }
        db.session.remove()
    return found


def grid_id(world: World, code: str) -> str:
    return str(world.grid_ids[code])


@pytest.mark.parametrize(
    ("name", "extra", "code"),
    [
        # The half-applied patrol of issue 10: started, then its end refused.
        (
            "ended_before_start",
            {"status": "ended", "ended_at": now_ms() - 40 * 60_000},
            "validation_error",
        ),
        # Started, then its track refused (a NaN coordinate).
        (
            "nan_in_track",
            {
                "track": json.dumps(
                    [[A1[0], A1[1], now_ms() - 60_000, 5], [math.nan, A1[1], now_ms(), 5]]
                )
            },
            None,
        ),
    ],
)
def test_a_refused_patrol_leaves_nothing(
    app: Flask, phone: Phone, world: World, name: str, extra: dict[str, Any], code: str | None
) -> None:
    phone.pull()
    bad = patrol_raw(f"patrol-{name.replace('_', '-')}", grid_id(world, "A1"), **extra)
    good = patrol_raw("patrol-good-0001", grid_id(world, "A1"))
    answer = push(phone, {"patrols": {**empty(), "created": [bad, good]}})
    assert answer == {"experimentalRejectedIds": {"patrols": [bad["id"]]}}
    found = left_behind(app, "patrols", bad["id"])
    assert found["row"] is False  # no `active` patrol kept behind the phone's back
    assert found["change_log"] == 0  # nothing to pull either
    assert len(found["rejections"]) == 1
    if code is not None:
        assert found["rejections"] == [code]
    assert left_behind(app, "patrols", good["id"])["row"] is True  # the rest of the push


def test_a_patrol_in_someone_elses_grid_leaves_nothing(
    app: Flask, phone: Phone, world: World
) -> None:
    phone.pull()
    bad = patrol_raw("patrol-out-of-scope", grid_id(world, "B1"))
    answer = push(phone, {"patrols": {**empty(), "created": [bad]}})
    assert answer == {"experimentalRejectedIds": {"patrols": [bad["id"]]}}
    found = left_behind(app, "patrols", bad["id"])
    assert (found["row"], found["change_log"]) == (False, 0)
    assert found["rejections"] == ["grid_not_assigned"] or len(found["rejections"]) == 1


def test_a_log_outside_the_collectors_grids_leaves_nothing(app: Flask, phone: Phone) -> None:
    phone.pull()
    bad = log_raw("log-out-of-scope", at=B1)
    answer = push(phone, {"patrol_logs": {**empty(), "created": [bad, log_raw("log-in-scope")]}})
    assert answer == {"experimentalRejectedIds": {"patrol_logs": [bad["id"]]}}
    found = left_behind(app, "patrol_logs", bad["id"])
    assert (found["row"], found["change_log"]) == (False, 0)
    assert found["rejections"] == ["outside_your_grids"]
    assert left_behind(app, "patrol_logs", "log-in-scope")["row"] is True


@pytest.mark.parametrize(
    ("lon", "lat"), [(500.0, 32.39), (119.43, -91.0), (0.0, 0.0)], ids=["lon", "lat", "far"]
)
def test_a_log_with_an_invalid_point_leaves_nothing(
    app: Flask, phone: Phone, lon: float, lat: float
) -> None:
    phone.pull()
    bad = {**log_raw("log-bad-point"), "lon": lon, "lat": lat}
    answer = push(phone, {"patrol_logs": {**empty(), "created": [bad]}})
    assert answer == {"experimentalRejectedIds": {"patrol_logs": [bad["id"]]}}
    found = left_behind(app, "patrol_logs", bad["id"])
    assert (found["row"], found["change_log"], len(found["rejections"])) == (False, 0, 1)


def test_an_illegal_offline_action_leaves_nothing(app: Flask, phone: Phone) -> None:
    from server.extensions import db
    from server.models import Case, CaseEvent

    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    push(phone, {"cases": {**empty(), "created": [case_raw("case-refusal-01", category)]}})
    phone.pull()
    action = {
        "id": "action-refused-01",
        "case_id": "case-refusal-01",
        "action": "verify_ok",  # the case is only reported: nothing to verify
        "note": "现场已处理",
        "photos": "[]",
        "acted_at": now_ms(),
        "outcome": None,
        "_status": "created",
        "_changed": "",
    }
    answer = push(phone, {"case_actions": {**empty(), "created": [action]}})
    assert answer == {"experimentalRejectedIds": {"case_actions": [action["id"]]}}
    found = left_behind(app, "case_actions", action["id"])
    assert (found["row"], found["change_log"]) == (False, 0)
    assert found["rejections"] == ["illegal_transition"]
    with app.app_context():
        case = db.session.get(Case, "case-refusal-01")
        assert case is not None and case.status == "reported" and case.version == 1
        events = db.session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id == "case-refusal-01")
        ).all()
        assert events == ["report"]


def _rejection_rows(app: Flask) -> list[dict[str, Any]]:
    from server.extensions import db
    from server.models import SYNC_TABLES

    rej = SYNC_TABLES.rejections
    with app.app_context():
        rows = db.session.execute(select(rej).order_by(rej.c.created_at, rej.c.id)).mappings()
        return [dict(r) for r in rows]


def test_identical_refusals_of_one_push_are_stored_once(app: Flask, phone: Phone) -> None:
    """Deletions refused alike (they carry nothing but the id) are one rejection listing the
    ids, not one row per id; the phone still gets every refused record back, and deletions
    of ids the server never had are answered as before (nothing comes back)."""
    phone.pull()
    logs = [log_raw(f"kept-log-{i}") for i in range(5)]
    assert ok(phone.push({"patrol_logs": {**empty(), "created": logs}})) == {}, _rejection_rows(app)
    phone.pull()
    unknown = [f"never-seen-{i}" for i in range(4)]
    deleted = [log["id"] for log in logs] + unknown
    assert ok(phone.push({"patrol_logs": {**empty(), "deleted": deleted}})) == {}
    rows = _rejection_rows(app)
    assert len(rows) == 2  # existing logs, ids never seen: two reasons (record exists or not)
    by_exists = {r["record_exists"]: r for r in rows}
    assert by_exists[True]["payload"] == {"ids": sorted(log["id"] for log in logs)}
    assert by_exists[False]["payload"] == {"ids": sorted(unknown)}
    assert {r["code"] for r in rows} == {"sync_delete_refused"}
    assert "(5 records)" in by_exists[True]["message"]
    assert "共 5 条" in by_exists[True]["message_zh"]
    back = phone.pull()["changes"]
    # every refused deletion of an existing log comes back as `created` (the phone destroyed
    # its copy); the unknown ids are confirmed deleted
    assert sorted(r["id"] for r in back["patrol_logs"]["created"]) == sorted(
        log["id"] for log in logs
    )
    assert sorted(back["patrol_logs"]["deleted"]) == sorted(unknown)
    assert len(back["sync_rejections"]["created"]) == 2
    # a lone refusal is stored as before: one row naming its record
    assert ok(phone.push({"patrol_logs": {**empty(), "deleted": ["kept-log-0"]}})) == {}
    [lone] = [
        r
        for r in _rejection_rows(app)
        if r["record_id"] == "kept-log-0" and "ids" not in r["payload"]
    ]
    assert lone["payload"] == {"id": "kept-log-0"}


def test_refused_creations_stay_one_each_with_what_was_typed(
    app: Flask, phone: Phone, world: World
) -> None:
    """Creations refused for the same reason keep one rejection each: each holds what was
    typed (the phone copies it into a new record), and each is listed for the phone."""
    phone.pull()
    outside = [log_raw(f"out-log-{i}", at=B1, text=f"越界 {i}") for i in range(3)]
    answer = ok(phone.push({"patrol_logs": {**empty(), "created": outside}}))
    assert sorted(answer["experimentalRejectedIds"]["patrol_logs"]) == [
        "out-log-0",
        "out-log-1",
        "out-log-2",
    ]
    rows = _rejection_rows(app)
    assert sorted(r["payload"]["text"] for r in rows) == ["越界 0", "越界 1", "越界 2"]
    back = phone.pull()["changes"]
    assert sorted(back["patrol_logs"]["deleted"]) == ["out-log-0", "out-log-1", "out-log-2"]
