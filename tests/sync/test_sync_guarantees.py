"""The sync engine's guarantees, one test (or more) each, on both backends unless noted."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, assert_error, ok
from phones import Phone, ids
from sqlalchemy import event, func, select, text

from server.services.uow import unit_of_work
from tests.sync.test_sync_basics import empty, log_raw, now_ms


def count(app: Flask, model: Any) -> int:
    from server.extensions import db

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def case_raw(case_id: str, category_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "category_id": category_id,
        "description": "井盖缺失",
        "lon": A1[0],
        "lat": A1[1],
        "crs": "wgs84",
        "photos": "[]",
        "reported_at": now_ms() - 120_000,
        "collector_note": None,
        "_status": "created",
        "_changed": "",
        **extra,
    }


# --- 1. Nothing lost ---------------------------------------------------------------------


def test_a_commit_in_flight_during_a_pull_reaches_the_next_pull(
    app: Flask, backend: str, phone: Phone, world: World
) -> None:
    """Writer A takes its cursor, then stalls before COMMIT; writer B commits meanwhile;
    a pull runs in between. The clock row lock makes B wait for A, and the pull's
    timestamp stays below A's cursor, so the next pull carries both (PostgreSQL only:
    SQLite has one writer at a time)."""
    if backend != "postgis":
        pytest.skip("concurrent writers: PostgreSQL")
    from server.domain.roles import Role
    from server.extensions import db
    from server.models import Category
    from server.services.people.principal import Principal

    phone.pull()
    stall, stalled = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def principal() -> Principal:
        return Principal(
            user_id=world.user_ids["collector"],
            username="collector",
            role=Role.COLLECTOR,
            subdistrict_id=world.subdistrict_id,
            grid_ids=frozenset({world.grid_ids["A1"]}),
        )

    def write(log_id: str, hold: bool) -> None:
        from server.services.patrolling.patrols import LogInput, create_log
        from server.services.uow import unit_of_work

        try:
            with app.app_context():
                conn = db.session.connection()
                if hold:

                    @event.listens_for(conn, "commit")
                    def _pause(_conn: Any) -> None:
                        stalled.set()
                        assert stall.wait(20)

                with unit_of_work() as uow:
                    create_log(
                        uow, principal(), LogInput(text=log_id, lon=A1[0], lat=A1[1], id=log_id)
                    )
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=write, args=("log-writer-a", True))
    a.start()
    assert stalled.wait(20), "writer A never reached its commit"
    b = threading.Thread(target=write, args=("log-writer-b", False))
    b.start()
    time.sleep(0.5)
    assert b.is_alive(), "writer B should wait on the clock row until A commits"
    during = phone.pull()  # A holds cursor n uncommitted; B waits
    assert during["changes"]["patrol_logs"]["created"] == []
    stall.set()
    a.join(20)
    b.join(20)
    assert not errors, errors
    after = phone.pull()
    # the collector's own logs written online (no device): they come as created
    assert ids(after, "patrol_logs", "created") == ["log-writer-a", "log-writer-b"]
    with app.app_context():
        cursors = db.session.execute(
            text("SELECT record_id, cursor FROM sync_rows WHERE table_name='patrol_logs'")
        ).all()
    by_id = dict(cursors)
    assert by_id["log-writer-a"] < by_id["log-writer-b"]  # cursor order = commit order
    assert during["timestamp"] < by_id["log-writer-a"]
    del Category


def test_cursors_are_server_assigned_and_never_wall_clock(phone: Phone) -> None:
    first = phone.pull()
    assert ok(phone.push({"patrol_logs": {**empty(), "created": [log_raw("log-cursor-1")]}})) == {}
    second = phone.pull()
    assert 1 <= first["timestamp"] < second["timestamp"] < 10**6  # a counter, not ms


# --- 2. Nothing duplicated (see also test_sync_basics) -----------------------------------


def test_a_retried_case_report_creates_one_case(app: Flask, phone: Phone) -> None:
    from server.models import Case

    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    changes = {"cases": {**empty(), "created": [case_raw("case-offline-01", category)]}}
    for _ in range(3):
        assert ok(phone.push(changes)) == {}
    assert count(app, Case) == 1
    back = phone.pull()  # the server's number and status come back, as an update
    assert back["changes"]["cases"]["created"] == []
    [case] = back["changes"]["cases"]["updated"]
    assert case["status"] == "reported" and case["number"]


# --- 3. Atomic ------------------------------------------------------------------------


def test_a_conflicting_push_applies_nothing(app: Flask, phone: Phone, make_phone: Any) -> None:
    from server.models import PatrolLog

    phone.pull()
    raw = log_raw("log-atomic-01")
    assert ok(phone.push({"patrol_logs": {**empty(), "created": [raw]}})) == {}
    other = make_phone("collector")
    other.pull()
    edit = {**raw, "text": "别人改的", "_status": "updated", "_changed": "text"}
    ok(other.push({"patrol_logs": {**empty(), "updated": [edit]}}))
    mine = {**raw, "text": "我改的", "_status": "updated", "_changed": "text"}
    fresh = log_raw("log-atomic-02")
    response = phone.push({"patrol_logs": {**empty(), "created": [fresh], "updated": [mine]}})
    assert_error(response, 409, "sync_conflict")
    assert count(app, PatrolLog) == 1  # the new log in the same push was not applied


def test_a_push_that_fails_midway_leaves_nothing(
    app: Flask, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.models import PatrolLog
    from server.services.patrolling import patrols

    phone.pull()
    real, real_many = patrols.create_log, patrols.create_logs

    def crash_on_second(uow: Any, principal: Any, data: Any) -> Any:
        if data.id == "log-crash-002":
            raise RuntimeError("the disk is full")  # not a refusal: a failure
        return real(uow, principal, data)

    def crash_after_the_first(uow: Any, principal: Any, items: Any) -> Any:
        real_many(uow, principal, items[:1])  # the first log is written, then …
        raise RuntimeError("the disk is full")  # … a failure, not a refusal

    monkeypatch.setattr(patrols, "create_log", crash_on_second)
    monkeypatch.setattr(patrols, "create_logs", crash_after_the_first)
    changes = {
        "patrol_logs": {**empty(), "created": [log_raw("log-crash-001"), log_raw("log-crash-002")]}
    }
    with pytest.raises(RuntimeError):  # the test app propagates errors (a 500 in service)
        phone.push(changes)
    assert count(app, PatrolLog) == 0  # the first log, applied before the crash, is gone
    monkeypatch.setattr(patrols, "create_log", real)
    monkeypatch.setattr(patrols, "create_logs", real_many)
    assert ok(phone.push(changes)) == {}  # the same push, retried, now applies whole
    assert count(app, PatrolLog) == 2


# --- 4. No echo ----------------------------------------------------------------------


def test_own_records_never_come_back_as_created(app: Flask, phone: Phone) -> None:
    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    changes = {
        "patrol_logs": {**empty(), "created": [log_raw("log-echo-0001")]},
        "cases": {**empty(), "created": [case_raw("case-echo-001", category)]},
    }
    ok(phone.push(changes))
    again = phone.pull()
    for table in ("patrol_logs", "cases"):
        assert again["changes"][table]["created"] == [], table
    # and after a restore from a first sync, the same device gets them as created again
    fresh = phone.pull(since=None)
    assert "log-echo-0001" in ids(fresh, "patrol_logs", "created")


# --- 5. No poison ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, code",
    [
        ({"lon": 200.0}, "outside_subdistrict"),
        ({"lon": "east"}, "sync_bad_value"),
        ({"colour": "red"}, "sync_unknown_column"),
        ({"logged_at": 10**16}, "sync_bad_value"),
    ],
)
def test_refusals_are_kept_and_later_pushes_go_through(
    app: Flask, phone: Phone, bad: dict[str, Any], code: str, client: FlaskClient
) -> None:
    phone.pull()
    refused = {**log_raw("log-poison-01"), **bad}
    response = phone.push({"patrol_logs": {**empty(), "created": [refused]}})
    assert ok(response) == {"experimentalRejectedIds": {"patrol_logs": ["log-poison-01"]}}
    # the device pushes it again (WatermelonDB keeps rejected records dirty) with a new one
    later = phone.push({"patrol_logs": {**empty(), "created": [refused, log_raw("log-poison-02")]}})
    assert ok(later) == {"experimentalRejectedIds": {"patrol_logs": ["log-poison-01"]}}
    pulled = phone.pull()
    [rejection] = pulled["changes"]["sync_rejections"]["created"]  # kept once
    assert rejection["code"] == code and rejection["message_zh"]
    assert pulled["changes"]["patrol_logs"]["deleted"] == ["log-poison-01"]


def test_an_illegal_transition_is_refused_and_the_truth_comes_back(
    app: Flask, phone: Phone, client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    ok(phone.push({"cases": {**empty(), "created": [case_raw("case-verify-01", category)]}}))
    phone.pull()
    action = {
        "id": "action-verify-01",
        "case_id": "case-verify-01",
        "action": "verify_ok",
        "note": "现场已处理",
        "photos": "[]",
        "acted_at": now_ms(),
        "outcome": None,
        "_status": "created",
        "_changed": "",
    }
    response = phone.push({"case_actions": {**empty(), "created": [action]}})
    assert ok(response) == {"experimentalRejectedIds": {"case_actions": ["action-verify-01"]}}
    pulled = phone.pull()
    [rejection] = pulled["changes"]["sync_rejections"]["created"]
    assert rejection["code"] == "illegal_transition"
    # a dispatcher's work makes the action legal: the same case, handled, verified offline
    d, s = tokens["dispatcher"], tokens["staff"]
    case = ok(client.get("/api/v1/cases/case-verify-01", headers=bearer(d)))
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=app_world_unit(app)))
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="已补装井盖"))
    phone.pull()
    action2 = {**action, "id": "action-verify-02"}
    assert ok(phone.push({"case_actions": {**empty(), "created": [action2]}})) == {}
    final = phone.pull()
    [case_row] = final["changes"]["cases"]["updated"]
    assert case_row["status"] == "awaiting_rating"


def app_world_unit(app: Flask) -> int:
    from server.extensions import db
    from server.models import Unit

    with app.app_context():
        return int(db.session.scalar(select(Unit.id).where(Unit.code == "U1")))


def test_server_columns_cannot_be_changed_from_a_phone(app: Flask, phone: Phone) -> None:
    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    raw = case_raw("case-columns-1", category)
    ok(phone.push({"cases": {**empty(), "created": [raw]}}))
    phone.pull()
    sneaky = {**raw, "status": "closed", "collector_note": "先记下", "_status": "updated"}
    sneaky["_changed"] = "status,collector_note"
    response = phone.push({"cases": {**empty(), "updated": [sneaky]}})
    # not listed (WatermelonDB would keep the edit pending and winning for ever): the
    # phone marks it synced, the note is kept, the status refused, the truth comes back
    assert ok(response) == {}
    pulled = phone.pull()
    [case] = pulled["changes"]["cases"]["updated"]
    assert (case["status"], case["collector_note"]) == ("reported", "先记下")
    [rejection] = pulled["changes"]["sync_rejections"]["created"]
    assert (rejection["code"], rejection["field"]) == ("sync_column_read_only", "status")
    note = {
        **raw,
        "collector_note": "居民说已三天",
        "_status": "updated",
        "_changed": "collector_note",
    }
    assert ok(phone.push({"cases": {**empty(), "updated": [note]}})) == {}


# --- 6. Bounded cost ---------------------------------------------------------------------


def test_a_pull_runs_the_same_queries_whatever_the_history(app: Flask, phone: Phone) -> None:
    """Statement count of an incremental pull with 2 new changes, after 5 and after 60
    older changes: equal (the cost follows the changes, not the history)."""
    from server.extensions import db

    def statements_for_two_new(history: int, prefix: str) -> int:
        for start in range(0, history, 20):
            batch = [log_raw(f"{prefix}-{i:05d}") for i in range(start, min(history, start + 20))]
            ok(phone.push({"patrol_logs": {**empty(), "created": batch}}))
        phone.pull()
        other = log_raw(f"{prefix}-new-1"), log_raw(f"{prefix}-new-2")
        ok(phone.push({"patrol_logs": {**empty(), "created": list(other)}}))
        seen: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            phone.pull()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len([s for s in seen if "sync_log" not in s and "sync_devices" not in s])

    small = statements_for_two_new(5, "hist-a")
    large = statements_for_two_new(60, "hist-b")
    assert small == large


def test_first_sync_is_bounded_by_the_horizon(app: Flask, phone: Phone, world: World) -> None:
    from datetime import timedelta

    from server.domain.roles import Role
    from server.extensions import db
    from server.models import PatrolLog
    from server.models.base import utcnow
    from server.services.patrolling.patrols import LogInput, create_log
    from server.services.people.principal import Principal
    from server.services.uow import unit_of_work

    who = Principal(
        user_id=world.user_ids["collector"],
        username="collector",
        role=Role.COLLECTOR,
        subdistrict_id=world.subdistrict_id,
        grid_ids=frozenset({world.grid_ids["A1"]}),
    )
    with app.app_context():
        horizon = app.config["SYNC_HORIZON_DAYS"]
        with unit_of_work() as uow:
            create_log(
                uow,
                who,
                LogInput(
                    text="old",
                    lon=A1[0],
                    lat=A1[1],
                    id="log-old-00001",
                    logged_at=utcnow() - timedelta(days=horizon + 5),
                ),
            )
        with unit_of_work() as uow:
            create_log(
                uow,
                who,
                LogInput(
                    text="new",
                    lon=A1[0],
                    lat=A1[1],
                    id="log-new-00001",
                    logged_at=utcnow() - timedelta(days=1),
                ),
            )
        assert db.session.scalar(select(func.count()).select_from(PatrolLog)) == 2
    first = phone.pull()
    assert ids(first, "patrol_logs", "created") == ["log-new-00001"]


# --- 7. Never hard-deleted ------------------------------------------------------------------


def test_phones_cannot_delete_cases_and_closed_cases_stay(
    app: Flask, phone: Phone, client: FlaskClient, tokens: dict[str, str]
) -> None:
    from server.models import Case

    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    ok(phone.push({"cases": {**empty(), "created": [case_raw("case-keep-0001", category)]}}))
    phone.pull()
    response = phone.push({"cases": {**empty(), "deleted": ["case-keep-0001"]}})
    # not listed as rejected (WatermelonDB would re-push a rejected deletion forever); the
    # phone drops its copy and the next pull brings the case back, with the reason
    assert ok(response) == {}
    assert count(app, Case) == 1
    back = phone.pull()
    assert ids(back, "cases", "created") == ["case-keep-0001"]
    [rejection] = back["changes"]["sync_rejections"]["created"]
    assert rejection["code"] == "sync_delete_refused"
    d = tokens["dispatcher"]
    case = ok(client.get("/api/v1/cases/case-keep-0001", headers=bearer(d)))
    ok(act(client, d, case, "reject", reason="重复上报"))
    pulled = phone.pull()
    assert [c["status"] for c in pulled["changes"]["cases"]["updated"]] == ["rejected"]
    assert pulled["changes"]["cases"]["deleted"] == []


def test_bad_requests_are_clear_errors(phone: Phone, client: FlaskClient) -> None:
    h = {**bearer(phone.token), "Content-Type": "application/json"}
    assert_error(client.post("/api/v1/sync/push", data="{", headers=h), 400, "sync_bad_json")
    assert_error(
        client.post("/api/v1/sync/push", data='{"nope": {}}', headers=h),
        400,
        "sync_unknown_table",
        "nope",
    )
    assert_error(
        client.post(
            "/api/v1/sync/push", data='{"patrol_logs": {"created": [{"id": 5}]}}', headers=h
        ),
        400,
        "sync_bad_record_id",
    )
    assert_error(
        client.get("/api/v1/sync/pull?last_pulled_at=abc", headers=bearer(phone.token)),
        422,
        "validation_error",
        "last_pulled_at",
    )


def test_user_tokens_cannot_sync(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/v1/sync/pull", headers=bearer(tokens["collector"]))
    assert_error(response, 403, "forbidden")
    response = client.get("/api/v1/sync/pull", headers=bearer(tokens["dispatcher"]))
    assert response.status_code == 403


def test_records_of_any_shape_never_break_a_push(app: Flask, phone: Phone) -> None:
    """Every column of every pushable table set to values of the wrong type: each record
    is refused on its own, the push answers 200, and a good record beside them applies."""
    from server.models import PatrolLog

    body = phone.pull()
    schema = phone.client.get("/api/v1/sync/schema", headers=bearer(phone.token)).get_json()
    category = body["changes"]["categories"]["created"][0]["id"]
    odd_values: list[Any] = [None, -1.5, "x" * 3000, {"a": 1}, True, [1, [2]]]
    pushable = ("patrols", "patrol_logs", "cases", "case_actions")
    n = 0
    for table in schema["tables"]:
        if table["name"] not in pushable:
            continue
        for column in table["columns"]:
            created = []
            for value in odd_values:
                n += 1
                base = (
                    case_raw(f"odd-{n:06d}", category)
                    if table["name"] == "cases"
                    else {
                        **log_raw(f"odd-{n:06d}"),
                        "case_id": "nope",
                        "action": "verify_ok",
                        "acted_at": now_ms(),
                        "grid_id": "1",
                        "status": "active",
                        "started_at": now_ms(),
                        "track": "[]",
                    }
                )
                base = {
                    k: v
                    for k, v in base.items()
                    if k in {c["name"] for c in table["columns"]} | {"id", "_status", "_changed"}
                }
                created.append({**base, column["name"]: value})
            response = phone.push({table["name"]: {**empty(), "created": created}})
            assert response.status_code == 200, (
                table["name"],
                column["name"],
                response.get_data(as_text=True),
            )
    good = phone.push({"patrol_logs": {**empty(), "created": [log_raw("log-after-odd")]}})
    assert ok(good) == {}
    assert count(app, PatrolLog) >= 1


def test_two_phones_pushing_the_same_record_at_once(
    app: Flask, backend: str, make_phone: Any
) -> None:
    """Two phones of one collector edit the same log and push at the same moment: one
    wins, the other gets 409 (never both applied, never a deadlock or a 500)."""
    a, b = make_phone("collector"), make_phone("collector")
    a.pull()
    raw = log_raw("log-race-0001")
    ok(a.push({"patrol_logs": {**empty(), "created": [raw]}}))
    a.pull()
    b.pull()
    a.client, b.client = app.test_client(), app.test_client()
    results: dict[str, int] = {}

    def push(phone: Phone, text_: str, name: str) -> None:
        edit = {**raw, "text": text_, "_status": "updated", "_changed": "text"}
        fresh = [log_raw(f"log-race-{name}") for _ in range(1)]
        results[name] = phone.push(
            {"patrol_logs": {**empty(), "created": fresh, "updated": [edit]}}
        ).status_code

    threads = [
        threading.Thread(target=push, args=(a, "甲改", "a")),
        threading.Thread(target=push, args=(b, "乙改", "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == [200, 409], results
    winner = "a" if results["a"] == 200 else "b"
    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        stored = db.session.get(PatrolLog, "log-race-0001")
        assert stored is not None and stored.text == ("甲改" if winner == "a" else "乙改")
        loser_new = db.session.get(PatrolLog, "log-race-" + ("b" if winner == "a" else "a"))
        assert loser_new is None  # the losing push applied nothing


def test_a_stranger_cannot_disturb_records_outside_their_scope(
    app: Flask, phone: Phone, make_phone: Any
) -> None:
    """A collector of another subdistrict pushing an edit of this collector's log (its id
    leaked): refused, and the owner's next push is not turned into a 409."""
    phone.pull()
    raw = log_raw("log-victim-001")
    ok(phone.push({"patrol_logs": {**empty(), "created": [raw]}}))
    phone.pull()
    stranger = make_phone("collector3")
    stranger.pull()
    forged = {**raw, "text": "x", "_status": "updated", "_changed": "text"}
    ok(stranger.push({"patrol_logs": {**empty(), "updated": [forged]}}))
    assert_error(
        stranger.push({"patrol_logs": {**empty(), "updated": [forged]}}, since=10**12),
        409,
        "sync_conflict",
    )  # a cursor the server never gave cannot skip the conflict check
    mine = {**raw, "text": "我的修改", "_status": "updated", "_changed": "text"}
    assert ok(phone.push({"patrol_logs": {**empty(), "updated": [mine]}})) == {}
    logs = phone.pull()["changes"]["patrol_logs"]
    assert [r["text"] for r in logs["updated"]] == ["我的修改"] and not logs["deleted"]


def test_a_photo_seen_in_a_colleagues_log_cannot_be_claimed(
    app: Flask, client: FlaskClient, make_phone: Any, world: World
) -> None:
    import hashlib
    import io

    from PIL import Image

    from server.services.people.users import assign_grids

    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector2", [world.grid_codes["A1"]])
    owner, colleague = make_phone("collector"), make_phone("collector2")
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 10)).save(buffer, "JPEG")
    photo = buffer.getvalue()
    sha = hashlib.sha256(photo).hexdigest()
    assert (
        client.put(
            f"/api/v1/sync/attachments/{sha}", data=photo, headers=bearer(owner.token)
        ).status_code
        == 201
    )
    owner.pull()
    ok(
        owner.push(
            {
                "patrol_logs": {
                    **empty(),
                    "created": [{**log_raw("log-photo-0001"), "photos": json.dumps([sha])}],
                }
            }
        )
    )
    body = colleague.pull()
    [seen] = body["changes"]["patrol_logs"]["created"]
    assert json.loads(seen["photos"]) == [sha]  # the hash travels
    category = body["changes"]["categories"]["created"][0]["id"]
    claim = case_raw("case-claim-001", category, photos=json.dumps([sha]))
    response = colleague.push({"cases": {**empty(), "created": [claim]}})
    assert ok(response) == {"experimentalRejectedIds": {"cases": ["case-claim-001"]}}
    # reading it is fine (a log's photos are the grid's collectors' to see); claiming is not
    assert (
        client.get(f"/api/v1/attachments/{sha}", headers=bearer(colleague.token)).status_code == 200
    )
