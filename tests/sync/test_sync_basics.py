"""The sync protocol end to end on the test client: schema, first pull, push, echo, scope."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import World, bearer
from flask import Flask
from helpers import A1, B1, assert_error, ok
from phones import Phone, ids

from server.services.uow import unit_of_work


def now_ms() -> int:
    return int(time.time() * 1000)


def log_raw(log_id: str, at: tuple[float, float] = A1, text: str = "路灯不亮") -> dict[str, Any]:
    return {
        "id": log_id,
        "patrol_id": None,
        "grid_id": None,
        "category_id": None,
        "text": text,
        "lon": at[0],
        "lat": at[1],
        "crs": "wgs84",
        "photos": "[]",
        "case_id": None,
        "logged_at": now_ms() - 60_000,
        "_status": "created",
        "_changed": "",
    }


def empty() -> dict[str, Any]:
    return {"created": [], "updated": [], "deleted": []}


def test_schema_lists_the_tables_with_watermelon_types(client: Any, phone: Phone) -> None:
    schema = ok(client.get("/api/v1/sync/schema", headers=bearer(phone.token)))
    names = [t["name"] for t in schema["tables"]]
    for table in (
        "communities",
        "grids",
        "categories",
        "units",
        "patrols",
        "patrol_logs",
        "cases",
        "case_actions",
        "case_events",
        "sync_rejections",
    ):
        assert table in names
    for table in schema["tables"]:
        for column in table["columns"]:
            assert column["type"] in ("string", "number", "boolean")
            assert set(column) == {"name", "type", "isOptional", "isIndexed"}


def test_first_pull_holds_the_collectors_grid_and_reference_data(
    phone: Phone, world: World
) -> None:
    body = phone.pull()
    assert body["timestamp"] >= 1
    assert ids(body, "grids", "created") == [str(world.grid_ids["A1"])]
    grid = body["changes"]["grids"]["created"][0]
    assert json.loads(grid["polygon"])["type"] == "Polygon"
    assert [c["id"] for c in body["changes"]["communities"]["created"]] == [
        str(world.community_ids["A"])
    ]
    assert [u["id"] for u in body["changes"]["units"]["created"]] == [str(world.unit_id)]
    assert len(body["changes"]["categories"]["created"]) == 1


def test_push_applies_and_is_not_echoed_and_reaches_the_other_phone(
    app: Flask, phone: Phone, make_phone: Any, world: World
) -> None:
    phone.pull()
    other = make_phone("collector")  # the same collector's second phone
    other.pull()
    response = phone.push({"patrol_logs": {**empty(), "created": [log_raw("log-0000001")]}})
    assert ok(response) == {}
    again = phone.pull()  # the server located it in a grid: that much comes back, as updated
    logs = again["changes"]["patrol_logs"]
    assert logs["created"] == [] and logs["deleted"] == []
    [located] = logs["updated"]
    assert located["grid_id"] == str(world.grid_ids["A1"])
    exact = {**located, "_status": "created", "_changed": ""}  # an exact copy of the truth
    ok(phone.push({"patrol_logs": {**empty(), "created": [{**exact, "id": "log-0000002"}]}}))
    assert phone.pull()["changes"]["patrol_logs"] == empty(), "a phone's own push came back"
    seen = other.pull()
    assert ids(seen, "patrol_logs", "created") == ["log-0000001", "log-0000002"]
    assert seen["changes"]["patrol_logs"]["created"][0]["text"] == "路灯不亮"


def test_a_retried_push_changes_nothing(app: Flask, phone: Phone) -> None:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import PatrolLog

    phone.pull()
    changes = {"patrol_logs": {**empty(), "created": [log_raw("log-0000002")]}}
    assert ok(phone.push(changes)) == {}
    assert ok(phone.push(changes)) == {}  # the answer was lost: the phone tries again
    phone.pull()
    assert ok(phone.push(changes)) == {}  # …even after a pull in between
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PatrolLog)) == 1


def test_a_refused_record_does_not_block_the_rest(app: Flask, phone: Phone, client: Any) -> None:
    phone.pull()
    bad = log_raw("log-outside1", at=B1)  # collector2's grid, not this collector's
    good = log_raw("log-inside01")
    response = phone.push({"patrol_logs": {**empty(), "created": [bad, good]}})
    assert ok(response) == {"experimentalRejectedIds": {"patrol_logs": ["log-outside1"]}}
    body = phone.pull()
    rejections = body["changes"]["sync_rejections"]["created"]
    assert [r["record_id"] for r in rejections] == ["log-outside1"]
    assert rejections[0]["code"] == "outside_your_grids"
    assert json.loads(rejections[0]["payload"])["text"] == "路灯不亮"
    assert body["changes"]["patrol_logs"]["deleted"] == ["log-outside1"]
    # a dispatcher lists it
    login = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": "test-password-1"}
    ).get_json()["access_token"]
    listed = ok(client.get("/api/v1/sync/rejections", headers=bearer(login)))
    assert [r["record_id"] for r in listed["items"]] == ["log-outside1"]


def test_conflict_when_the_server_changed_the_record_after_the_pull(
    app: Flask, phone: Phone, make_phone: Any
) -> None:
    phone.pull()
    raw = log_raw("log-0000003")
    assert ok(phone.push({"patrol_logs": {**empty(), "created": [raw]}})) == {}
    other = make_phone("collector")
    other.pull()
    edited = {**raw, "text": "改过了", "_status": "updated", "_changed": "text"}
    assert ok(other.push({"patrol_logs": {**empty(), "updated": [edited]}})) == {}
    stale = {**raw, "text": "旧的修改", "_status": "updated", "_changed": "text"}
    response = phone.push({"patrol_logs": {**empty(), "updated": [stale]}})
    body = assert_error(response, 409, "sync_conflict")
    assert body["details"]["records"] == {"patrol_logs": ["log-0000003"]}
    got = phone.pull()
    assert got["changes"]["patrol_logs"]["updated"][0]["text"] == "改过了"
    assert ok(phone.push({"patrol_logs": {**empty(), "updated": [stale]}})) == {}


def test_granting_and_revoking_a_grid_reaches_the_phone(
    app: Flask, phone: Phone, world: World, make_phone: Any
) -> None:
    from server.services.people.users import assign_grids

    colleague = make_phone("collector2")
    colleague.pull()
    assert (
        ok(
            colleague.push(
                {"patrol_logs": {**empty(), "created": [log_raw("log-b1-00001", at=B1)]}}
            )
        )
        == {}
    )
    phone.pull()
    with app.app_context(), unit_of_work() as uow:
        assign_grids(
            uow, "collector", [world.grid_codes["A1"], world.grid_codes["B1"]], replace=True
        )
    gained = phone.pull()
    assert str(world.grid_ids["B1"]) in ids(gained, "grids", "created")
    assert "log-b1-00001" in ids(gained, "patrol_logs", "created")
    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector", [world.grid_codes["A1"]], replace=True)
    lost = phone.pull()
    assert str(world.grid_ids["B1"]) in lost["changes"]["grids"]["deleted"]
    assert "log-b1-00001" in lost["changes"]["patrol_logs"]["deleted"]


def test_a_revoked_device_cannot_sync(app: Flask, phone: Phone) -> None:
    from server.services.people.devices import revoke_device

    with app.app_context(), unit_of_work() as uow:
        revoke_device(uow, phone.device_id)
    response = phone.client.get("/api/v1/sync/pull", headers=bearer(phone.token))
    assert response.status_code == 401


def test_the_case_timeline_travels_with_the_case(
    client: Any, phone: Phone, tokens: dict[str, str]
) -> None:
    from helpers import act, new_case

    phone.pull()
    case = new_case(client, tokens)
    ok(act(client, tokens["dispatcher"], case, "accept"))
    body = phone.pull()
    events = body["changes"]["case_events"]["created"]
    timeline = sorted(events, key=lambda e: e["seq"])
    assert [(e["case_id"], e["seq"], e["to_status"]) for e in timeline] == [
        (case["id"], 1, "reported"),
        (case["id"], 2, "accepted"),
    ]
    fresh = phone.pull(since=None)
    assert len(fresh["changes"]["case_events"]["created"]) == len(events)


def test_a_local_edit_of_reference_data_gives_way_to_the_server(phone: Phone) -> None:
    body = phone.pull()
    category = dict(body["changes"]["categories"]["created"][0])
    edited = {**category, "name_zh": "改了", "_status": "updated", "_changed": "name_zh"}
    assert ok(phone.push({"categories": {**empty(), "updated": [edited]}})) == {}
    back = phone.pull()
    assert [c["name_zh"] for c in back["changes"]["categories"]["updated"]] == ["环境卫生"]
    [rejection] = back["changes"]["sync_rejections"]["created"]
    assert rejection["code"] == "sync_read_only_table"
    fake = {"id": "my-own-rejection", "code": "x", "_status": "created", "_changed": ""}
    response = phone.push({"sync_rejections": {**empty(), "created": [fake]}})
    assert ok(response) == {"experimentalRejectedIds": {"sync_rejections": ["my-own-rejection"]}}
    assert "my-own-rejection" in phone.pull()["changes"]["sync_rejections"]["deleted"]
