"""The reference client (`sync/client.py`) against a real server: WatermelonDB's merge rules,
409 then a clean retry, rejections taken as the server's truth, photos, retries, revocation."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from factories import LAT0, LON0, STEP
from flask import Flask

from sync.client import RetryPolicy, SyncClient, SyncError, Unauthorized

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from sync_chaos import LossyProxy, tiny_png

from server.services.uow import unit_of_work

FAST = RetryPolicy(attempts=10, base_s=0.02, cap_s=0.5)


def issue(app: Flask, username: str) -> str:
    from server.services.people.devices import issue_device

    with app.app_context():
        with unit_of_work() as uow:
            out = issue_device(uow, username)
        return out.token


def log(grid_id: int, text: str, at: tuple[float, float] | None = None, **extra: Any) -> dict:  # type: ignore[type-arg]
    lon, lat = at or (LON0 + 0.3 * STEP, LAT0 + 0.6 * STEP)  # inside A1
    return {
        "grid_id": str(grid_id),
        "text": text,
        "lon": lon,
        "lat": lat,
        "crs": "wgs84",
        "photos": "[]",
        "logged_at": int(time.time() * 1000),
        "patrol_id": None,
        "category_id": None,
        "case_id": None,
        **extra,
    }


def server_log(app: Flask, record_id: str) -> Any:
    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        row = db.session.get(PatrolLog, record_id)
        out = None if row is None else {"text": row.text, "lat": row.lat, "photos": row.photos}
        db.session.remove()
    return out


@pytest.fixture
def phones(app: Flask, world: World, live_server: Any) -> tuple[SyncClient, SyncClient]:
    """Two phones of the collector of grid A1, first sync done."""
    a = SyncClient(live_server.url, issue(app, "collector"), retry=FAST)
    b = SyncClient(live_server.url, issue(app, "collector"), retry=FAST)
    a.sync()
    b.sync()
    return a, b


def test_offline_changes_travel_and_a_second_sync_is_a_no_op(
    app: Flask, world: World, live_server: Any, phones: tuple[SyncClient, SyncClient]
) -> None:
    a, b = phones
    assert [g["id"] for g in a.all("grids")] == [str(world.grid_ids["A1"])]
    ids = [a.create("patrol_logs", log(world.grid_ids["A1"], f"离线记录{i}")) for i in range(3)]
    a.sync()
    assert all(a.status("patrol_logs", i) == ("synced", []) for i in ids)
    b.sync()
    assert sorted(r["id"] for r in b.all("patrol_logs")) == sorted(ids)
    assert b.get("patrol_logs", ids[0]) == a.get("patrol_logs", ids[0])

    a.update("patrol_logs", ids[0], {"text": "已更正"})
    a.sync()
    b.sync()
    assert b.get("patrol_logs", ids[0])["text"] == "已更正"  # type: ignore[index]
    assert server_log(app, ids[0])["text"] == "已更正"

    requests = b.stats.requests
    b.sync()  # nothing changed: one pull, no push
    assert b.stats.requests == requests + 1 and b.stats.pushes == 0
    assert b.get("patrol_logs", ids[0])["text"] == "已更正"  # type: ignore[index]

    other = SyncClient(live_server.url, issue(app, "collector2"), retry=FAST)
    other.sync()
    assert other.all("patrol_logs") == []  # grid B1 sees none of A1's logs


def test_local_edits_win_per_column(
    app: Flask, world: World, phones: tuple[SyncClient, SyncClient]
) -> None:
    """B edits the text offline while A adds a photo: B's pull keeps its text and takes A's
    photo; after B's push the server holds both."""
    a, b = phones
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "原文"))
    a.sync()
    b.sync()

    b.update("patrol_logs", x, {"text": "B 的文字"})
    digest = a.attach(tiny_png("photo of x"))
    a.update("patrol_logs", x, {"photos": json.dumps([digest])})
    a.sync()

    b.pull()
    assert b.get("patrol_logs", x)["text"] == "B 的文字"  # type: ignore[index]
    assert b.get("patrol_logs", x)["photos"] == json.dumps([digest])  # type: ignore[index]
    assert b.status("patrol_logs", x) == ("updated", ["text"])
    b.sync()
    assert server_log(app, x) == {
        "text": "B 的文字",
        "lat": pytest.approx(LAT0 + 0.6 * STEP),
        "photos": [digest],
    }
    a.sync()
    assert a.get("patrol_logs", x) == b.get("patrol_logs", x)


def test_a_local_deletion_survives_the_pull_and_a_refused_one_comes_back(
    app: Flask, world: World, phones: tuple[SyncClient, SyncClient]
) -> None:
    """Logs stay on the server: B's deletion is not resurrected by its pull (A's edit of the
    same log arrives meanwhile); the server refuses it and B gets the server's log back."""
    a, b = phones
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "原文"))
    a.sync()
    b.sync()
    b.delete("patrol_logs", x)
    a.update("patrol_logs", x, {"text": "A 改了"})
    a.sync()

    b.pull()
    assert b.get("patrol_logs", x) is None and b.status("patrol_logs", x) == ("deleted", [])
    b.sync()  # the server refuses the deletion quietly (WatermelonDB would retry it forever)
    assert b.stats.rejected == 0 and b.status("patrol_logs", x) is None
    b.sync()  # and the next pull brings the log back
    assert b.get("patrol_logs", x)["text"] == "A 改了"  # type: ignore[index]
    assert b.status("patrol_logs", x) == ("synced", [])
    [rejection] = b.all("sync_rejections")
    assert (rejection["record_id"], rejection["code"]) == (x, "sync_delete_refused")
    assert server_log(app, x)["text"] == "A 改了"


def test_a_grid_taken_away_leaves_the_phone_edits_and_all(
    app: Flask, world: World, phones: tuple[SyncClient, SyncClient]
) -> None:
    """A remote delete destroys the local record, even with unpushed edits (as WatermelonDB)."""
    from server.services.people.users import assign_grids

    a, b = phones
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "甲"))
    a.sync()
    b.sync()
    b.update("patrol_logs", x, {"text": "乙改了"})
    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector", [world.grid_codes["A2"]], replace=True)
    b.sync()
    assert b.status("patrol_logs", x) is None
    assert [g["id"] for g in b.all("grids")] == [str(world.grid_ids["A2"])]
    assert not b.has_local_changes()
    assert server_log(app, x)["text"] == "甲"


def test_409_then_a_clean_retry(
    app: Flask, world: World, phones: tuple[SyncClient, SyncClient]
) -> None:
    """A's edit lands between B's pull and B's push: 409, B pulls again and pushes; B's
    locally edited column wins."""
    a, b = phones
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "原文"))
    a.sync()
    b.sync()
    b.update("patrol_logs", x, {"text": "B 离线改"})
    real_pull = b.pull
    calls = []

    def pull_then_a_writes() -> int:
        cursor = real_pull()
        if not calls:
            a.update("patrol_logs", x, {"text": "A 抢先改"})
            a.sync()
        calls.append(cursor)
        return cursor

    b.pull = pull_then_a_writes  # type: ignore[method-assign]
    b.sync()
    assert b.stats.conflicts == 1 and len(calls) == 2
    assert server_log(app, x)["text"] == "B 离线改"
    assert b.status("patrol_logs", x) == ("synced", [])
    a.sync()
    assert a.get("patrol_logs", x)["text"] == "B 离线改"  # type: ignore[index]


def test_a_refused_record_is_replaced_by_the_servers_truth(
    app: Flask, world: World, phones: tuple[SyncClient, SyncClient]
) -> None:
    a, _b = phones
    outside = (LON0 + 2.5 * STEP, LAT0 + 0.5 * STEP)  # in B1, not the collector's grid
    bad = a.create("patrol_logs", log(world.grid_ids["A1"], "网格外", at=outside))
    good = a.create("patrol_logs", log(world.grid_ids["A1"], "网格内"))
    a.sync()
    assert a.stats.rejected == 1
    assert a.get("patrol_logs", bad) is None  # never held by the server: gone here too
    assert a.status("patrol_logs", good) == ("synced", [])
    assert server_log(app, bad) is None and server_log(app, good) is not None
    [rejection] = a.all("sync_rejections")
    assert rejection["record_id"] == bad and rejection["table_name"] == "patrol_logs"
    assert rejection["message_zh"]

    # the refusal does not block later pushes
    later = a.create("patrol_logs", log(world.grid_ids["A1"], "之后的记录"))
    a.sync()
    assert server_log(app, later) is not None and not a.has_local_changes()


def test_photos_are_uploaded_before_the_record(
    app: Flask, world: World, live_server: Any, phones: tuple[SyncClient, SyncClient]
) -> None:
    a, b = phones
    photo = tiny_png(f"photo {random.random()}")
    digest = a.attach(photo)
    assert digest == hashlib.sha256(photo).hexdigest()
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "有照片", photos=json.dumps([digest])))
    a.sync()
    assert a.stats.uploads == 1
    assert server_log(app, x)["photos"] == [digest]
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/sync/attachments/{digest}",
        method="HEAD",
        headers={"Authorization": f"Bearer {a.token}"},
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200
    b.attach(photo)  # the same photo on another phone: the server has it, no second upload
    b.sync()
    assert b.stats.uploads == 0


def test_a_lost_response_is_retried_without_duplicates(
    app: Flask, world: World, live_server: Any
) -> None:
    proxy = LossyProxy(live_server.url, drop=0.0, dup=0.0, seed=1).start()
    try:
        a = SyncClient(proxy.url, issue(app, "collector"), retry=FAST)
        a.sync()
        x = a.create("patrol_logs", log(world.grid_ids["A1"], "只应一条"))
        # schema is known: the pull goes through, then the push is applied and its answer
        # lost, then sent again twice over (a duplicate retry)
        proxy.plan = [(False, False), (True, False), (False, True)]
        a.sync()
        assert proxy.counts["dropped"] == 1 and proxy.counts["duplicated"] == 1
        assert a.stats.retries == 1 and a.status("patrol_logs", x) == ("synced", [])
    finally:
        proxy.stop()
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PatrolLog)) == 1
        db.session.remove()


def test_network_errors_back_off_with_jitter_then_give_up() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    slept: list[float] = []
    client = SyncClient(
        f"http://127.0.0.1:{port}",
        "mq_dev_nothing",
        retry=RetryPolicy(attempts=5, base_s=0.1, cap_s=0.3),
        rng=random.Random(3),
        sleep=slept.append,
    )
    with pytest.raises(SyncError, match="gave up after 5 attempts"):
        client.sync()
    assert client.stats.retries == 4 and len(slept) == 4
    assert all(0 <= d <= cap for d, cap in zip(slept, [0.1, 0.2, 0.3, 0.3], strict=True))
    assert len(set(slept)) == 4  # jittered, not a fixed ladder
    assert sum(client.stats.errors.values()) == 5


def test_sync_survives_a_server_crash(app: Flask, world: World, live_server: Any) -> None:
    a = SyncClient(live_server.url, issue(app, "collector"), retry=RetryPolicy(attempts=14))
    a.sync()
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "服务器重启时"))
    live_server.stop(hard=True)
    threading.Timer(1.0, live_server.start).start()
    a.sync()  # connection refused until the server is back
    assert a.stats.retries >= 1 and a.status("patrol_logs", x) == ("synced", [])
    assert server_log(app, x) is not None


def test_a_revoked_device_syncs_nothing(app: Flask, world: World, live_server: Any) -> None:
    from server.services.people.devices import issue_device, revoke_device

    with app.app_context():
        with unit_of_work() as uow:
            issued = issue_device(uow, "collector")
        token, device_id = issued.token, issued.device.id
    a = SyncClient(live_server.url, token, retry=FAST)
    a.sync()
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "吊销后"))
    with app.app_context(), unit_of_work() as uow:
        revoke_device(uow, device_id)
    with pytest.raises(Unauthorized):
        a.sync()
    assert a.status("patrol_logs", x) == ("created", []) and server_log(app, x) is None


def test_an_edit_made_after_a_lost_push_reaches_the_server(
    app: Flask, world: World, live_server: Any
) -> None:
    """The push is applied but its answer is lost and the phone gives up (offline again);
    the user edits the log, which is still `created` locally; the next push must carry it."""
    proxy = LossyProxy(live_server.url, drop=0.0, dup=0.0, seed=2).start()
    try:
        a = SyncClient(proxy.url, issue(app, "collector"), retry=RetryPolicy(attempts=1))
        a.sync()
        x = a.create("patrol_logs", log(world.grid_ids["A1"], "第一版"))
        proxy.plan = [(False, False), (True, False)]  # the pull answers, the push's answer is lost
        with pytest.raises(SyncError):
            a.sync()
        assert server_log(app, x)["text"] == "第一版"
        a.update("patrol_logs", x, {"text": "第二版"})
        assert a.status("patrol_logs", x) == ("created", ["text"])
        a.sync()
        assert a.status("patrol_logs", x) == ("synced", [])
        assert server_log(app, x)["text"] == "第二版"
    finally:
        proxy.stop()


def case_report(category_id: str, text: str) -> dict[str, Any]:
    return {
        "category_id": category_id,
        "description": text,
        "lon": LON0 + 0.3 * STEP,
        "lat": LAT0 + 0.6 * STEP,
        "crs": "wgs84",
        "photos": "[]",
        "reported_at": int(time.time() * 1000),
        "collector_note": None,
    }


def test_a_case_reported_offline_converges_after_a_note_edit(
    app: Flask, world: World, live_server: Any, phones: tuple[SyncClient, SyncClient]
) -> None:
    a, _b = phones
    [category] = a.all("categories")
    x = a.create("cases", case_report(category["id"], "路灯不亮"))
    a.sync()
    a.sync()
    assert a.get("cases", x)["number"]  # type: ignore[index]  # what the server made of it
    a.update("cases", x, {"collector_note": "已联系物业"})
    a.sync()
    a.sync()
    fresh = SyncClient(live_server.url, issue(app, "collector"), retry=FAST)
    fresh.sync()
    assert a.get("cases", x) == fresh.get("cases", x)


def test_a_log_the_server_tidies_comes_back_tidied(
    app: Flask, world: World, live_server: Any, phones: tuple[SyncClient, SyncClient]
) -> None:
    a, _b = phones
    x = a.create("patrol_logs", log(world.grid_ids["A1"], "  两边有空格  "))
    a.sync()
    a.sync()
    assert server_log(app, x)["text"] == "两边有空格"
    assert a.get("patrol_logs", x)["text"] == "两边有空格"  # type: ignore[index]
