"""Conformance: the published WatermelonDB 0.28 client, in Node, syncs with a real server.

Each device is `device.js` in a child process: the real `synchronize()` with its LokiJS
adapter in memory, against gunicorn serving this test's database (both backends). Every
scenario looks at both sides: the device's local records and the server's tables.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSWORD, World
from factories import LAT0, LON0, STEP
from flask import Flask
from sqlalchemy import text
from watermelon_device import WatermelonDevice

from server.services.uow import unit_of_work

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

A1 = (LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP)  # inside grid A1 (collector's)
MS = 1000


def now_ms() -> int:
    return int(time.time() * MS)


# --- the server side ---------------------------------------------------------------------------


def http(
    method: str, url: str, token: str | None = None, body: Any = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    """One request to the live server: (status, parsed JSON or text). `raw`: a binary body."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        kind = "application/octet-stream" if raw is not None else "application/json"
        request.add_header("Content-Type", kind)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read()
    try:
        return status, json.loads(answer) if answer else None
    except ValueError:
        return status, answer.decode(errors="replace")


@dataclass
class Field:
    """The server, its database and the phones started in one test."""

    app: Flask
    world: World
    url: str
    log_dir: Path
    phones: list[WatermelonDevice]
    device_ids: dict[str, str]  # phone name -> server device id

    def phone(self, collector: str, name: str) -> WatermelonDevice:
        """Issue a device for `collector` (as an admin would) and start WatermelonDB on it."""
        from server.services.people.devices import issue_device

        with self.app.app_context():
            with unit_of_work() as uow:
                issued = issue_device(uow, collector, name=f"conformance {name}")
            device_id, token = issued.device.id, issued.token
        device = WatermelonDevice(self.url, token, name, self.log_dir)
        self.phones.append(device)
        self.device_ids[name] = device_id
        return device

    def login(self, username: str) -> str:
        status, body = http(
            "POST",
            self.url + "/api/v1/auth/token",
            body={"username": username, "password": TEST_PASSWORD},
        )
        assert status == 200, body
        return str(body["access_token"])

    def sql(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Rows as the server's database holds them now (a fresh session each time)."""
        from server.extensions import db

        with self.app.app_context():
            rows = db.session.execute(text(query), params).mappings().all()
            result = [dict(r) for r in rows]
            db.session.remove()
        return result

    def row(self, table: str, record_id: str) -> dict[str, Any] | None:
        rows = self.sql(f"SELECT * FROM {table} WHERE id = :id", id=record_id)
        return rows[0] if rows else None

    def sync_log(self, phone: str) -> list[dict[str, Any]]:
        return self.sql(
            "SELECT kind, counts FROM sync_log WHERE device_id = :d ORDER BY id",
            d=self.device_ids[phone],
        )


@pytest.fixture
def field(app: Flask, world: World, live_server: Any, tmp_path: Path) -> Iterator[Field]:
    started = Field(app, world, live_server.url, tmp_path, [], {})
    try:
        yield started
    finally:
        for device in started.phones:
            device.close()


# --- what a collector makes offline ------------------------------------------------------------


def grid_a1(world: World) -> str:
    return str(world.grid_ids["A1"])


def category_id(field: Field) -> str:
    rows = field.sql("SELECT id FROM categories WHERE code = 'sanitation'")
    return str(rows[0]["id"])


def offline_patrol(phone: WatermelonDevice, world: World) -> str:
    started = now_ms() - 20 * 60 * MS
    track = [[A1[0], A1[1], started, 5.0], [A1[0] + 0.0005, A1[1], started + 60 * MS, 5.0]]
    return phone.create(
        "patrols",
        grid_id=grid_a1(world),
        status="active",
        started_at=started,
        track=json.dumps(track),
        crs="wgs84",
    )


def offline_log(phone: WatermelonDevice, field: Field, patrol_id: str | None, text_: str) -> str:
    return phone.create(
        "patrol_logs",
        patrol_id=patrol_id,
        grid_id=grid_a1(field.world),
        category_id=category_id(field),
        text=text_,
        lon=A1[0],
        lat=A1[1],
        crs="wgs84",
        photos="[]",
        logged_at=now_ms() - 10 * 60 * MS,
    )


def offline_case(phone: WatermelonDevice, field: Field, description: str) -> str:
    return phone.create(
        "cases",
        grid_id=grid_a1(field.world),
        category_id=category_id(field),
        description=description,
        lon=A1[0],
        lat=A1[1],
        crs="wgs84",
        photos="[]",
        reported_at=now_ms() - 5 * 60 * MS,
    )


def ids(report: dict[str, Any], table: str, kind: str, where: str = "pulled") -> list[str]:
    return list(((report.get(where) or {}).get(table) or {}).get(kind) or [])


def nothing_rejected(field: Field, report: dict[str, Any]) -> None:
    if report.get("rejected"):
        reasons = field.sql("SELECT table_name, record_id, code, message FROM sync_rejections")
        pytest.fail(f"the server refused {report['rejected']}: {reasons}")


def no_protocol_complaints(report: dict[str, Any]) -> None:
    """WatermelonDB logs (does not throw) when the server breaks the protocol's promises,
    and silently coerces pulled values that do not match the schema's types."""
    complaints = [w for w in report.get("warnings", []) if "[Sync]" in w]
    assert not complaints, complaints
    assert report.get("problems") == [], report.get("problems")


# --- scenarios ---------------------------------------------------------------------------------


def test_schema_comes_from_the_server(field: Field) -> None:
    phone = field.phone("collector", "A")
    status, schema = http("GET", field.url + "/api/v1/sync/schema", phone.token)
    assert status == 200, schema
    built = phone.ready["schema"]
    assert built["version"] == schema["version"] >= 1
    assert set(built["tables"]) == {t["name"] for t in schema["tables"]}
    for table in schema["tables"]:
        assert built["tables"][table["name"]] == [c["name"] for c in table["columns"]]
        for column in table["columns"]:
            assert column["type"] in ("string", "number", "boolean"), column
    for name in (
        "communities",
        "grids",
        "categories",
        "units",
        "patrols",
        "patrol_logs",
        "cases",
        "case_events",
        "sync_rejections",
    ):
        assert name in built["tables"], name
    for name in ("lon", "lat", "crs"):
        assert name in built["tables"]["patrol_logs"]
    # the first pull gives the collector's own grid, with its polygon, as reference data
    report = phone.sync_ok()
    no_protocol_complaints(report)
    grids = phone.records("grids")
    assert set(grids) == {grid_a1(field.world)}
    assert json.loads(grids[grid_a1(field.world)]["polygon"])["type"] == "Polygon"
    assert report["pushed"] is None  # nothing made offline yet


def share_grid_a1(field: Field, collector: str) -> None:
    """Make another collector responsible for grid A1 too (as an admin would)."""
    from server.services.people.users import assign_grids

    with field.app.app_context(), unit_of_work() as uow:
        assign_grids(uow, collector, [field.world.grid_codes["A1"]])


def same_fields(
    mine: dict[str, Any], theirs: dict[str, Any], columns: list[str]
) -> dict[str, tuple[Any, Any]]:
    """Columns whose values differ between two devices' copies of a record."""
    return {c: (mine.get(c), theirs.get(c)) for c in columns if mine.get(c) != theirs.get(c)}


def test_offline_records_reach_another_device_of_the_grid(field: Field) -> None:
    world = field.world
    a = field.phone("collector", "A")
    a.sync_ok()  # first sync: reference data only
    patrol = offline_patrol(a, world)
    log = offline_log(a, field, patrol, "楼道堆放杂物 clutter in the stairwell")
    case = offline_case(a, field, "路灯不亮 street light out")

    report = a.sync_ok()
    no_protocol_complaints(report)
    assert ids(report, "patrols", "created", "pushed") == [patrol]
    assert ids(report, "patrol_logs", "created", "pushed") == [log]
    assert ids(report, "cases", "created", "pushed") == [case]
    nothing_rejected(field, report)
    for table, rid in (("patrols", patrol), ("patrol_logs", log), ("cases", case)):
        assert a.records(table)[rid]["_status"] == "synced", table

    # the server holds them under the device's ids, as the collector's
    collector_id = world.user_ids["collector"]
    server_patrol = field.row("patrols", patrol)
    assert server_patrol is not None
    assert server_patrol["collector_id"] == collector_id
    assert server_patrol["grid_id"] == world.grid_ids["A1"]
    server_log = field.row("patrol_logs", log)
    assert server_log is not None
    assert server_log["patrol_id"] == patrol
    assert server_log["text"] == "楼道堆放杂物 clutter in the stairwell"
    assert server_log["lon"] == pytest.approx(A1[0]) and server_log["lat"] == pytest.approx(A1[1])
    server_case = field.row("cases", case)
    assert server_case is not None
    assert server_case["status"] == "reported"
    assert server_case["reporter_id"] == collector_id
    assert server_case["description"] == "路灯不亮 street light out"
    assert server_case["number"]

    # the next pull brings what the server made of them (the case's number), never an echo
    again = a.sync_ok()
    no_protocol_complaints(again)
    for table in ("patrols", "patrol_logs", "cases"):
        assert ids(again, table, "created") == [], f"{table}: own records echoed as created"
    assert a.records("cases")[case]["number"] == server_case["number"]

    # device B: another collector given grid A1 pulls all three
    share_grid_a1(field, "collector2")
    b = field.phone("collector2", "B")
    pulled = b.sync_ok()
    no_protocol_complaints(pulled)
    assert patrol in ids(pulled, "patrols", "created")
    assert log in ids(pulled, "patrol_logs", "created")
    assert case in ids(pulled, "cases", "created")
    for table, rid in (("patrols", patrol), ("patrol_logs", log), ("cases", case)):
        mine, theirs = a.records(table)[rid], b.records(table)[rid]
        columns = [c for c in a.ready["schema"]["tables"][table]]
        if table == "patrols":
            # a track is personal location data: a colleague's phone gets the patrol without it
            assert json.loads(mine["track"]) and json.loads(theirs["track"]) == []
            assert theirs["plausible"] is None
            columns = [c for c in columns if c not in ("track", "plausible")]
        assert same_fields(mine, theirs, columns) == {}, table
        assert theirs["_status"] == "synced"


def test_second_sync_is_a_no_op(field: Field) -> None:
    a = field.phone("collector", "A")
    a.sync_ok()
    log = offline_log(a, field, None, "井盖松动 loose manhole cover")
    first = a.sync_ok()
    assert ids(first, "patrol_logs", "created", "pushed") == [log]
    settle = a.sync_ok()  # may carry back what the server filled in; never the log as created
    assert ids(settle, "patrol_logs", "created") == []

    second = a.sync_ok()
    assert second["pulled"] == {}, second["pulled"]
    assert second["pushed"] is None  # WatermelonDB had nothing to push
    no_protocol_complaints(second)
    log_rows = field.sync_log("A")
    assert log_rows, "the server keeps a log of the device's pulls and pushes"
    last = log_rows[-1]
    assert last["kind"] == "pull"
    counts = last["counts"] if isinstance(last["counts"], dict) else json.loads(last["counts"])
    assert not any(n for table in counts.values() for n in table.values()), counts
    assert a.records("patrol_logs")[log]["_status"] == "synced"


def test_updates_and_deletions_propagate(field: Field) -> None:
    """Edits made on a phone reach the server and the grid's other phones; records that
    leave a phone's scope (its collector loses the grid) are deleted there, and only there."""
    world = field.world
    share_grid_a1(field, "collector2")
    a = field.phone("collector", "A")
    b = field.phone("collector2", "B")
    a.sync_ok()
    patrol = offline_patrol(a, world)
    log = offline_log(a, field, patrol, "草坪积水 standing water")
    case = offline_case(a, field, "井盖缺失 missing manhole cover")
    a.sync_ok()
    b.sync_ok()
    assert log in b.records("patrol_logs") and case in b.records("cases")

    ended = now_ms()
    told = "草坪积水，已报物业 standing water, told the property office"
    a.update("patrols", patrol, status="ended", ended_at=ended)
    a.update("patrol_logs", log, text=told)
    a.update("cases", case, collector_note="已设警示 warning sign placed")
    report = a.sync_ok()
    no_protocol_complaints(report)
    assert ids(report, "patrols", "updated", "pushed") == [patrol]
    assert ids(report, "patrol_logs", "updated", "pushed") == [log]
    assert ids(report, "cases", "updated", "pushed") == [case]
    nothing_rejected(field, report)

    server_patrol = field.row("patrols", patrol)
    assert server_patrol is not None and server_patrol["status"] == "ended"
    assert server_patrol["ended_at"] is not None
    server_log = field.row("patrol_logs", log)
    assert server_log is not None and server_log["text"] == told
    server_case = field.row("cases", case)
    assert server_case is not None
    assert server_case["collector_note"] == "已设警示 warning sign placed"

    pulled = b.sync_ok()
    no_protocol_complaints(pulled)
    assert patrol in ids(pulled, "patrols", "updated")
    assert log in ids(pulled, "patrol_logs", "updated")
    assert case in ids(pulled, "cases", "updated")
    assert b.records("patrol_logs")[log]["text"] == told
    assert b.records("cases")[case]["collector_note"] == "已设警示 warning sign placed"
    patrol_b = b.records("patrols")[patrol]
    assert patrol_b["status"] == "ended" and patrol_b["ended_at"] == pytest.approx(ended, abs=1000)

    # the admin takes grid A1 away from collector2: B's next pull deletes what it held there
    from server.services.people.users import assign_grids

    with field.app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector2", [world.grid_codes["B1"]], replace=True)
    gone = b.sync_ok()
    no_protocol_complaints(gone)
    assert ids(gone, "patrols", "deleted") == [patrol]
    assert ids(gone, "patrol_logs", "deleted") == [log]
    assert ids(gone, "cases", "deleted") == [case]
    assert grid_a1(world) in ids(gone, "grids", "deleted")
    assert patrol not in b.records("patrols") and log not in b.records("patrol_logs")
    assert case not in b.records("cases")
    assert set(b.records("grids")) == {str(world.grid_ids["B1"])}
    # nothing was deleted on the server, and A (still in A1) keeps everything
    assert field.row("patrol_logs", log) is not None and field.row("cases", case) is not None
    unaffected = a.sync_ok()
    assert ids(unaffected, "patrol_logs", "deleted") == [] and log in a.records("patrol_logs")


def test_a_device_in_another_grid_sees_none_of_it(field: Field) -> None:
    world = field.world
    a = field.phone("collector", "A")
    a.sync_ok()
    patrol = offline_patrol(a, world)
    log = offline_log(a, field, patrol, "违章搭建 illegal structure")
    case = offline_case(a, field, "占道经营 street vendor blocking the road")
    a.sync_ok()
    mine = {"patrols": {patrol}, "patrol_logs": {log}, "cases": {case}}

    for collector, name, grid in (("collector2", "B1", "B1"), ("collector3", "C1", "C1")):
        other = field.phone(collector, name)
        report = other.sync_ok()
        no_protocol_complaints(report)
        for table, rids in mine.items():
            assert not rids & set(other.records(table)), (name, table)
            assert not rids & set(ids(report, table, "created")), (name, table)
        assert set(other.records("grids")) == {str(world.grid_ids[grid])}
        # and a later change to A's records does not leak either
        a.update("patrol_logs", log, text="违章搭建（已拆除） removed")
        a.sync_ok()
        later = other.sync_ok()
        assert later["pulled"] == {} or log not in json.dumps(later["pulled"]), later["pulled"]


def test_a_server_edit_between_pull_and_push_gives_409_then_a_clean_retry(field: Field) -> None:
    a = field.phone("collector", "A")
    a.sync_ok()
    case = offline_case(a, field, "垃圾清运不及时 rubbish not collected")
    a.sync_ok()
    a.sync_ok()  # the server's version of the report (number, status, version)
    a.update("cases", case, collector_note="居民说已三天 residents say three days")

    dispatcher = field.login("dispatcher")
    a.sync_until_pulled()
    status, current = http("GET", f"{field.url}/api/v1/cases/{case}", dispatcher)
    assert status == 200, current
    status, accepted = http(
        "POST",
        f"{field.url}/api/v1/cases/{case}/actions/accept",
        dispatcher,
        {"version": current["version"]},
    )
    assert status == 200, accepted
    refused = a.resume()
    assert refused["ok"] is False and refused["status"] == 409, refused
    assert refused["phase"] == "push"
    assert refused["error"]["code"] == "sync_conflict", refused["error"]
    server_case = field.row("cases", case)
    assert server_case is not None
    assert server_case["status"] == "accepted"
    assert not server_case["collector_note"]  # nothing of the push was applied
    local = a.records("cases")[case]
    assert local["_status"] == "updated"  # still waiting to be pushed
    assert local["collector_note"] == "居民说已三天 residents say three days"

    retry = a.sync_ok()
    no_protocol_complaints(retry)
    assert case in ids(retry, "cases", "updated")
    assert ids(retry, "cases", "updated", "pushed") == [case]
    nothing_rejected(field, retry)
    server_case = field.row("cases", case)
    assert server_case is not None
    assert server_case["status"] == "accepted"
    assert server_case["collector_note"] == "居民说已三天 residents say three days"
    local = a.records("cases")[case]
    assert local["status"] == "accepted" and local["_status"] == "synced"


def test_a_dispatchers_status_change_and_a_collectors_note_both_survive(field: Field) -> None:
    a = field.phone("collector", "A")
    a.sync_ok()
    case = offline_case(a, field, "下水道堵塞 blocked drain")
    a.sync_ok()
    a.sync_ok()
    # offline, the collector adds a note; meanwhile the dispatcher accepts the report
    a.update("cases", case, collector_note="已拍照，味道很大 photographed, it smells")
    dispatcher = field.login("dispatcher")
    _, current = http("GET", f"{field.url}/api/v1/cases/{case}", dispatcher)
    status, body = http(
        "POST",
        f"{field.url}/api/v1/cases/{case}/actions/accept",
        dispatcher,
        {"version": current["version"]},
    )
    assert status == 200, body

    report = a.sync_ok()
    no_protocol_complaints(report)
    nothing_rejected(field, report)
    server_case = field.row("cases", case)
    assert server_case is not None
    assert server_case["status"] == "accepted"
    assert server_case["collector_note"] == "已拍照，味道很大 photographed, it smells"
    events = field.sql("SELECT action FROM case_events WHERE case_id = :id ORDER BY seq", id=case)
    assert [e["action"] for e in events][-1] == "accept"
    local = a.records("cases")[case]
    assert local["status"] == "accepted"
    assert local["collector_note"] == "已拍照，味道很大 photographed, it smells"
    # and the next sync settles: the device and the server agree, nothing left to do
    settled = a.sync_ok()
    assert settled["pushed"] is None
    assert ids(settled, "cases", "created") == []
    assert a.records("cases")[case]["collector_note"] == server_case["collector_note"]


def test_a_locally_deleted_record_is_not_resurrected(field: Field) -> None:
    """WatermelonDB #649 / #1226: a pull that echoes a device's own push back as `created`
    makes WatermelonDB drop the pending local deletion and re-create the record
    (applyRemote.js: "already exists locally and is marked as deleted")."""
    a = field.phone("collector", "A")
    a.sync_ok()
    log = offline_log(a, field, None, "重复记录 duplicate entry")
    pushed = a.sync_ok()  # the pull at T1, then the push is stamped after T1
    assert ids(pushed, "patrol_logs", "created", "pushed") == [log]

    a.delete("patrol_logs", log)
    assert a.locally_deleted("patrol_logs") == [log]
    report = a.sync_ok()  # pulls since T1: its own push must not come back as created
    no_protocol_complaints(report)
    assert log not in ids(report, "patrol_logs", "created")
    assert log not in ids(report, "patrol_logs", "updated")
    assert ids(report, "patrol_logs", "deleted", "pushed") == [log]  # the deletion went out
    assert log not in a.records("patrol_logs")


def test_a_refused_deletion_is_undone_on_the_phone(field: Field) -> None:
    """Logs are kept on the server: a phone's deletion is refused (and listed as a rejection),
    and the phone must end up with the server's record again and nothing left to push."""
    a = field.phone("collector", "A")
    a.sync_ok()
    log = offline_log(a, field, None, "不该删的记录 should be kept")
    a.sync_ok()
    a.delete("patrol_logs", log)
    refused = a.sync_ok()
    no_protocol_complaints(refused)
    assert ids(refused, "patrol_logs", "deleted", "pushed") == [log]
    restored = a.sync_ok()
    no_protocol_complaints(restored)
    assert ids(restored, "patrol_logs", "created") == [log]
    rejections = a.records("sync_rejections")
    assert [r["record_id"] for r in rejections.values()] == [log]
    assert field.row("patrol_logs", log) is not None
    assert a.locally_deleted("patrol_logs") == []
    assert a.records("patrol_logs")[log]["_status"] == "synced"
    settled = a.sync_ok()
    assert settled["pulled"] == {} and settled["pushed"] is None


def test_a_revoked_device_gets_401_and_syncs_nothing(field: Field) -> None:
    from server.services.people.devices import revoke_device

    a = field.phone("collector", "A")
    a.sync_ok()
    log = offline_log(a, field, None, "吊销后的记录 written after revocation")
    with field.app.app_context(), unit_of_work() as uow:
        revoke_device(uow, field.device_ids["A"])

    report = a.sync()
    assert report["ok"] is False and report["status"] == 401, report
    assert report["error"]["code"] and report["error"]["message_zh"], report["error"]
    assert report["phase"] == "pull"
    assert report["pushed"] is None
    assert field.row("patrol_logs", log) is None
    assert a.records("patrol_logs")[log]["_status"] == "created"  # kept on the phone
    status, _ = http("GET", field.url + "/api/v1/sync/schema", a.token)
    assert status == 401
    status, _ = http("POST", field.url + "/api/v1/sync/push?last_pulled_at=1", a.token, {})
    assert status == 401


def test_a_refused_record_never_blocks_and_is_explained(field: Field) -> None:
    """A log outside the collector's grids is refused on its merits: the rest of the push
    goes through, the phone drops the refused record and pulls the reason; the server's
    version of an accepted record (GCJ-02 converted to WGS84) replaces the phone's."""
    world = field.world
    a = field.phone("collector", "A")
    a.sync_ok()
    b1 = (LON0 + 2.5 * STEP, LAT0 + 0.5 * STEP)  # collector2's grid, not collector's
    outside = a.create(
        "patrol_logs",
        grid_id=grid_a1(world),
        text="越界 outside my grids",
        lon=b1[0],
        lat=b1[1],
        crs="wgs84",
        photos="[]",
        logged_at=now_ms(),
    )
    gcj = (A1[0] + 0.0047, A1[1] - 0.0022)  # what a phone's map SDK reports near A1's centre
    converted = a.create(
        "patrol_logs",
        grid_id=grid_a1(world),
        text="高德坐标 a GCJ-02 point",
        lon=gcj[0],
        lat=gcj[1],
        crs="gcj02",
        photos="[]",
        logged_at=now_ms(),
    )
    refused = a.sync_ok()
    assert sorted(ids(refused, "patrol_logs", "created", "pushed")) == sorted([outside, converted])
    assert refused["rejected"] == {"patrol_logs": [outside]}
    assert field.row("patrol_logs", outside) is None
    server_log = field.row("patrol_logs", converted)
    assert server_log is not None
    assert abs(server_log["lon"] - gcj[0]) > 0.003  # converted, not stored as sent

    after = a.sync_ok()
    no_protocol_complaints(after)
    assert ids(after, "patrol_logs", "deleted") == [outside]
    assert ids(after, "patrol_logs", "updated") == [converted]
    assert outside not in a.records("patrol_logs")
    local = a.records("patrol_logs")[converted]
    assert local["crs"] == "wgs84" and local["_status"] == "synced"
    assert local["lon"] == pytest.approx(server_log["lon"], abs=1e-9)
    assert local["lat"] == pytest.approx(server_log["lat"], abs=1e-9)
    rejections = list(a.records("sync_rejections").values())
    assert [(r["table_name"], r["record_id"]) for r in rejections] == [("patrol_logs", outside)]
    assert rejections[0]["code"] and rejections[0]["message_zh"] and rejections[0]["message"]
    assert json.loads(rejections[0]["payload"])["text"] == "越界 outside my grids"

    settled = a.sync_ok()
    assert settled["pulled"] == {} and settled["pushed"] is None
    status, page = http("GET", field.url + "/api/v1/sync/rejections", field.login("dispatcher"))
    assert status == 200, page
    assert [i["record_id"] for i in page["items"]] == [outside]


def test_an_offline_verification_goes_through_the_case_loop(field: Field) -> None:
    """A collector verifies a handled case on site while offline (case_actions, create only):
    the server fires verify_ok through the state machine and the phone pulls the outcome."""
    world = field.world
    collector, dispatcher, staff = (field.login(u) for u in ("collector", "dispatcher", "staff"))
    status, body = http(
        "POST",
        field.url + "/api/v1/cases",
        collector,
        {"category": "sanitation", "description": "垃圾堆放 rubbish", "lon": A1[0], "lat": A1[1]},
    )
    assert status == 201, body
    case = body["case"]
    for token, action, extra in (
        (dispatcher, "accept", {}),
        (dispatcher, "dispatch", {"unit_id": world.unit_id}),
        (staff, "acknowledge", {}),
        (staff, "report_done", {"result": "已清运 cleared"}),
    ):
        status, case = http(
            "POST",
            f"{field.url}/api/v1/cases/{case['id']}/actions/{action}",
            token,
            {"version": case["version"], **extra},
        )
        assert status == 200, (action, case)
    assert case["status"] == "handled"

    a = field.phone("collector", "A")
    a.sync_ok()
    assert a.records("cases")[case["id"]]["status"] == "handled"
    action_id = a.create(
        "case_actions",
        case_id=case["id"],
        action="verify_ok",
        note="现场已清理干净 clean on site",
        photos="[]",
        acted_at=now_ms(),
    )
    report = a.sync_ok()
    nothing_rejected(field, report)
    assert ids(report, "case_actions", "created", "pushed") == [action_id]
    server_case = field.row("cases", case["id"])
    assert server_case is not None and server_case["status"] == "awaiting_rating"
    events = field.sql(
        "SELECT action, actor_role FROM case_events WHERE case_id = :id ORDER BY seq",
        id=case["id"],
    )
    assert events[-1] == {"action": "verify_ok", "actor_role": "collector"}

    pulled = a.sync_ok()
    no_protocol_complaints(pulled)
    assert a.records("cases")[case["id"]]["status"] == "awaiting_rating"
    assert a.records("case_actions")[action_id]["outcome"] == "applied"


def test_the_case_timeline_travels_with_the_case(field: Field) -> None:
    collector, dispatcher = field.login("collector"), field.login("dispatcher")
    status, body = http(
        "POST",
        field.url + "/api/v1/cases",
        collector,
        {
            "category": "sanitation",
            "description": "路面破损 broken pavement",
            "lon": A1[0],
            "lat": A1[1],
        },
    )
    assert status == 201, body
    case = body["case"]
    status, case = http(
        "POST",
        f"{field.url}/api/v1/cases/{case['id']}/actions/accept",
        dispatcher,
        {"version": case["version"]},
    )
    assert status == 200, case
    a = field.phone("collector", "A")
    first = a.sync_ok()
    no_protocol_complaints(first)

    def timeline() -> list[tuple[str, str]]:
        events = [e for e in a.records("case_events").values() if e["case_id"] == case["id"]]
        return [(e["action"], e["to_status"]) for e in sorted(events, key=lambda e: e["seq"])]

    assert timeline() == [("report", "reported"), ("accept", "accepted")]
    status, case = http(
        "POST",
        f"{field.url}/api/v1/cases/{case['id']}/actions/dispatch",
        dispatcher,
        {"version": case["version"], "unit_id": field.world.unit_id},
    )
    assert status == 200, case
    a.sync_ok()
    assert timeline()[-1] == ("dispatch", "dispatched")


def test_a_refused_edit_gives_way_to_the_servers_version(field: Field) -> None:
    """A phone may change only `collector_note` of a case: an edit of its description is
    refused (kept as a rejection), the note made with it is kept, and the phone ends up
    showing the server's description. Local edits of pull-only tables (a category, a
    rejection marked as read) give way the same way, instead of being pushed for ever."""
    a = field.phone("collector", "A")
    a.sync_ok()
    case = offline_case(a, field, "原描述 original")
    a.sync_ok()
    a.sync_ok()
    a.update(
        "cases", case, description="改过的描述 edited on the phone", collector_note="补充 more"
    )
    refused = a.sync_ok()
    assert ids(refused, "cases", "updated", "pushed") == [case]
    a.sync_ok()
    server_case = field.row("cases", case)
    assert server_case is not None and server_case["description"] == "原描述 original"
    assert server_case["collector_note"] == "补充 more"
    local = a.records("cases")[case]
    assert (local["description"], local["collector_note"]) == ("原描述 original", "补充 more")
    assert local["_status"] == "synced"
    rejections = a.records("sync_rejections")
    assert [r["record_id"] for r in rejections.values()] == [case]
    settled = a.sync_ok()
    assert settled["pulled"] == {} and settled["pushed"] is None

    category = category_id(field)
    a.update("categories", category, name_zh="本地改名 renamed locally")
    a.update("sync_rejections", next(iter(rejections)), message="已读 seen")
    a.sync_ok()
    a.sync_ok()
    assert a.records("categories")[category]["name_zh"] == "环境卫生"
    assert a.records("categories")[category]["_status"] == "synced"
    assert all(r["_status"] == "synced" for r in a.records("sync_rejections").values())
    assert field.sql("SELECT name_zh FROM categories") == [{"name_zh": "环境卫生"}]
    settled = a.sync_ok()
    assert settled["pulled"] == {} and settled["pushed"] is None


def test_a_push_retried_after_a_lost_answer_changes_nothing_twice(field: Field) -> None:
    """The network drops the push's answer: WatermelonDB keeps its records as created, the
    user edits one meanwhile, and the next sync pushes them again. The server holds each
    record once, with the edit."""
    world = field.world
    a = field.phone("collector", "A")
    a.sync_ok()
    patrol = offline_patrol(a, world)
    log = offline_log(a, field, patrol, "第一版 first draft")
    case = offline_case(a, field, "消防通道被占 fire lane blocked")
    lost = a.sync_losing_the_push_answer()
    assert lost["droppedPushResponse"] == {}
    assert field.row("patrol_logs", log) is not None  # applied, though the phone cannot know
    assert a.records("patrol_logs")[log]["_status"] == "created"
    a.update("patrol_logs", log, text="第二版 second draft")

    retry = a.sync_ok()
    no_protocol_complaints(retry)
    nothing_rejected(field, retry)
    assert ids(retry, "patrol_logs", "created", "pushed") == [log]
    for table in ("patrols", "patrol_logs", "cases"):
        assert ids(retry, table, "created") == [], f"{table}: own records echoed as created"
    server_log = field.row("patrol_logs", log)
    assert server_log is not None and server_log["text"] == "第二版 second draft"
    for table, rid in (("patrols", patrol), ("patrol_logs", log), ("cases", case)):
        assert field.sql(f"SELECT count(*) AS n FROM {table} WHERE id = :id", id=rid) == [{"n": 1}]
        assert a.records(table)[rid]["_status"] == "synced", table
    events = field.sql("SELECT action FROM case_events WHERE case_id = :id", id=case)
    assert [e["action"] for e in events] == ["report"]  # reported once
    a.sync_ok()
    assert a.records("patrol_logs")[log]["text"] == "第二版 second draft"


def test_a_grid_granted_later_arrives_whole(field: Field) -> None:
    """A phone that has synced already gets a newly assigned grid's records as created."""
    world = field.world
    a = field.phone("collector", "A")
    b = field.phone("collector2", "B")
    a.sync_ok()
    b.sync_ok()
    patrol = offline_patrol(a, world)
    log = offline_log(a, field, patrol, "路灯闪烁 flickering street light")
    case = offline_case(a, field, "树枝挡路 branches over the path")
    a.sync_ok()
    assert b.sync_ok()["pulled"] == {}  # not B's grid

    share_grid_a1(field, "collector2")
    granted = b.sync_ok()
    no_protocol_complaints(granted)
    assert grid_a1(world) in ids(granted, "grids", "created")
    assert ids(granted, "patrols", "created") == [patrol]
    assert ids(granted, "patrol_logs", "created") == [log]
    assert ids(granted, "cases", "created") == [case]
    assert set(b.records("grids")) == {grid_a1(world), str(world.grid_ids["B1"])}
    assert b.records("patrol_logs")[log]["text"] == "路灯闪烁 flickering street light"
    assert b.sync_ok()["pulled"] == {}


def photo_bytes(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def test_photos_travel_by_hash(field: Field) -> None:
    """The phone uploads a photo by its SHA-256, then pushes the log naming it; the grid's
    other phone pulls the same hash. A log naming a photo never uploaded is refused."""
    share_grid_a1(field, "collector2")
    a = field.phone("collector", "A")
    b = field.phone("collector2", "B")
    a.sync_ok()
    b.sync_ok()
    photo = photo_bytes((200, 30, 30))
    sha = hashlib.sha256(photo).hexdigest()
    url = f"{field.url}/api/v1/sync/attachments/{sha}"
    assert http("HEAD", url, a.token)[0] == 404
    status, body = http("PUT", url, a.token, raw=photo)
    assert status == 201, body
    assert http("PUT", url, a.token, raw=photo)[0] == 200  # idempotent
    assert http("HEAD", url, a.token)[0] == 200
    with_photo = offline_log(a, field, None, "有照片 with a photo")
    a.update("patrol_logs", with_photo, photos=json.dumps([sha]))
    missing = hashlib.sha256(photo_bytes((30, 200, 30))).hexdigest()  # never uploaded
    without = offline_log(a, field, None, "照片没传 photo not uploaded")
    a.update("patrol_logs", without, photos=json.dumps([missing]))

    report = a.sync_ok()
    assert report["rejected"] == {"patrol_logs": [without]}
    server_log = field.row("patrol_logs", with_photo)
    assert server_log is not None
    stored = server_log["photos"]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == [sha]
    pulled = b.sync_ok()
    assert ids(pulled, "patrol_logs", "created") == [with_photo]
    assert json.loads(b.records("patrol_logs")[with_photo]["photos"]) == [sha]
    a.sync_ok()
    assert without not in a.records("patrol_logs")
    assert [r["record_id"] for r in a.records("sync_rejections").values()] == [without]


def test_two_phones_of_one_collector_converge_after_a_conflict(field: Field) -> None:
    """The same collector edits one log on two phones offline. The second to sync gets 409,
    pulls the first one's version, keeps its own edited column, pushes it: both phones and
    the server end with the last edit."""
    a = field.phone("collector", "A")
    a2 = field.phone("collector", "A2")
    a.sync_ok()
    log = offline_log(a, field, None, "初稿 draft")
    a.sync_ok()
    a2.sync_ok()
    assert a2.records("patrol_logs")[log]["text"] == "初稿 draft"

    a2.update("patrol_logs", log, text="手机二 phone two")
    a2.sync_until_pulled()  # A2 has pulled; A's edit lands before A2 pushes
    a.update("patrol_logs", log, text="手机一 phone one")
    a.sync_ok()
    conflict = a2.resume()
    assert conflict["ok"] is False and conflict["status"] == 409, conflict
    assert conflict["error"]["code"] and conflict["error"]["message_zh"], conflict["error"]
    server_log = field.row("patrol_logs", log)
    assert server_log is not None and server_log["text"] == "手机一 phone one"

    retry = a2.sync_ok()
    assert log in ids(retry, "patrol_logs", "updated")
    assert ids(retry, "patrol_logs", "updated", "pushed") == [log]
    server_log = field.row("patrol_logs", log)
    assert server_log is not None and server_log["text"] == "手机二 phone two"
    a.sync_ok()
    for phone in (a, a2):
        local = phone.records("patrol_logs")[log]
        assert (local["text"], local["_status"]) == ("手机二 phone two", "synced"), phone.name


def test_a_day_of_offline_logs_in_one_push(field: Field) -> None:
    """200 logs made offline go in one push and reach the collector's other phone once each."""
    a = field.phone("collector", "A")
    b = field.phone("collector", "B")
    a.sync_ok()
    b.sync_ok()
    made = {
        a.create(
            "patrol_logs",
            grid_id=grid_a1(field.world),
            text=f"巡查记录 {i} log {i}",
            lon=A1[0] + (i % 10) * 0.0001,
            lat=A1[1],
            crs="wgs84",
            photos="[]",
            logged_at=now_ms() - i * MS,
        )
        for i in range(200)
    }
    report = a.sync_ok()
    nothing_rejected(field, report)
    assert set(ids(report, "patrol_logs", "created", "pushed")) == made
    on_server = field.sql(
        "SELECT count(*) AS n FROM patrol_logs WHERE collector_id = :c",
        c=field.world.user_ids["collector"],
    )
    assert on_server == [{"n": 200}]
    pulled = b.sync_ok()
    assert sorted(ids(pulled, "patrol_logs", "created")) == sorted(made)
    assert set(b.records("patrol_logs")) == made
    assert a.sync_ok()["pulled"] == {}
