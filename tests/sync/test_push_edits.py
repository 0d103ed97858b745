"""Edits of existing patrol logs in a push go set-wise (`patrols.edit_logs`, one read and
one flush for all of them), with the answers the one-by-one path gave: on both backends,
the same push applied both ways leaves the same rows, rejections, change log and pulls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from helpers import B1, ok
from phones import Phone
from sqlalchemy import select

from tests.sync.test_sync_basics import empty, log_raw


def edit(raw: dict[str, Any], changed: str, **values: Any) -> dict[str, Any]:
    return {**raw, **values, "_status": "updated", "_changed": changed}


def as_held(pull: dict[str, Any], raws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the phone holds them after a pull (the server's grid filled in)."""
    changes = pull["changes"]["patrol_logs"]
    got = {r["id"]: r for r in changes["created"] + changes["updated"]}
    return [{**raw, **got.get(raw["id"], {})} for raw in raws]


@contextmanager
def one_by_one(app: Flask) -> Iterator[None]:
    """The patrol-log table without its set-wise edit path (each edit through `apply` in a
    savepoint of its own, as before)."""
    from server.services.syncing import sync

    with app.app_context():
        spec = sync.engine().registry.get("patrol_logs")
    assert spec is not None and spec.apply_edits is not None
    kept = spec.apply_edits
    object.__setattr__(spec, "apply_edits", None)
    try:
        yield
    finally:
        object.__setattr__(spec, "apply_edits", kept)


def stored(app: Flask, ids: list[str]) -> dict[str, Any]:
    """Each log's text and photos, its change-log entry, and its rejections."""
    from server.extensions import db
    from server.models import SYNC_TABLES, PatrolLog

    rows, rej = SYNC_TABLES.rows, SYNC_TABLES.rejections
    out: dict[str, Any] = {}
    with app.app_context():
        for rid in ids:
            log = db.session.get(PatrolLog, rid)
            entry = db.session.execute(
                select(rows.c.origin_device, rows.c.deleted, rows.c.scope_key).where(
                    rows.c.table_name == "patrol_logs", rows.c.record_id == rid
                )
            ).one_or_none()
            out[rid] = {
                "log": None if log is None else (log.text, list(log.photos or [])),
                "change_log": None if entry is None else tuple(entry),
                "rejections": sorted(
                    tuple(r)
                    for r in db.session.execute(
                        select(rej.c.operation, rej.c.code, rej.c.field).where(
                            rej.c.table_name == "patrol_logs", rej.c.record_id == rid
                        )
                    )
                ),
            }
        db.session.remove()
    return out


def scenario(app: Flask, phone: Phone, colleague: Phone, tag: str) -> dict[str, Any]:
    """Six logs of the phone's collector and one of a colleague, then one push editing
    all seven in every way an edit can go; what the push answered, what is stored and what
    the phone pulls next, with the tag taken out of the ids."""
    mine = [log_raw(f"log-{tag}-{i:04d}", text=f"原文{i}") for i in range(6)]
    ok(phone.push({"patrol_logs": {**empty(), "created": mine}}))
    colleague.pull()
    theirs = log_raw(f"log-{tag}-them", text="同事的", at=B1)
    theirs_answer = ok(colleague.push({"patrol_logs": {**empty(), "created": [theirs]}}))
    mine = as_held(phone.pull(), mine)
    before = phone.last_pulled_at
    updated = [
        edit(mine[0], "text", text="  改了  "),  # edited, tidied: comes back
        edit(mine[1], "text"),  # nothing changed
        edit(mine[2], "text,lon", text="改了也挪了", lon=mine[2]["lon"] + 0.001),  # lon: refused
        edit(mine[3], "text", text=""),  # refused, nothing kept
        edit(mine[4], "photos", photos=json.dumps(["0" * 64])),  # an unknown photo: refused
        edit(theirs, "text", text="不是我的"),  # someone else's id
    ]
    again = {**mine[5], "text": "答复丢了，又改了"}  # `created` again: an edit too
    changes = {"patrol_logs": {**empty(), "created": [again], "updated": updated}}
    answer = ok(phone.push(changes))
    pulled = phone.pull(since=before)["changes"]["patrol_logs"]
    ids = [r["id"] for r in mine] + [theirs["id"]]

    def untag(value: Any) -> Any:
        return json.loads(json.dumps(value, ensure_ascii=False).replace(f"-{tag}-", "-"))

    return untag(
        {
            "colleague": theirs_answer,
            "answer": answer,
            "stored": stored(app, ids),
            "pulled": {
                kind: sorted(
                    (r if kind == "deleted" else (r["id"], r["text"], r["photos"]))
                    for r in pulled[kind]
                )
                for kind in ("created", "updated", "deleted")
            },
        }
    )


def test_edits_of_many_logs_in_one_push_answer_as_one_by_one(app: Flask, make_phone: Any) -> None:
    phone, colleague = make_phone("collector"), make_phone("collector2")
    phone.pull()
    setwise = scenario(app, phone, colleague, "set")
    with one_by_one(app):
        single = scenario(app, phone, colleague, "one")
    assert setwise == single
    logs = setwise["stored"]
    assert setwise["answer"] == {}  # refused edits are not listed (answered as synced)
    assert logs["log-0000"]["log"] == ["改了", []]
    assert logs["log-0001"]["log"] == ["原文1", []]
    assert logs["log-0002"]["log"] == ["改了也挪了", []]  # the text stays, the move is refused
    assert logs["log-0002"]["rejections"] == [["updated", "sync_column_read_only", "lon"]]
    assert logs["log-0003"]["log"] == ["原文3", []]
    assert logs["log-0003"]["rejections"] == [["updated", "sync_missing_value", "text"]]
    assert logs["log-0004"]["log"] == ["原文4", []]
    assert [r[1] for r in logs["log-0004"]["rejections"]] == ["unknown_attachment"]
    assert logs["log-them"]["log"] == ["同事的", []]
    assert logs["log-them"]["rejections"] == [["updated", "id_taken", "id"]]
    assert logs["log-0005"]["log"] == ["答复丢了，又改了", []]
    # the phone gets back what differs from what it holds: the tidied text, the refused
    # edits' server versions; not the record it sent exactly
    updated = [r[0] for r in setwise["pulled"]["updated"]]
    assert "log-0000" in updated and ["log-0000", "改了", "[]"] in setwise["pulled"]["updated"]
    assert {"log-0002", "log-0003", "log-0004"} <= set(updated)
    assert "log-0005" not in updated and "log-0001" not in updated


def test_a_refused_edit_leaves_nothing(app: Flask, phone: Phone) -> None:
    phone.pull()
    raws = [log_raw(f"log-keep-{i:04d}", text=f"原文{i}") for i in range(3)]
    ok(phone.push({"patrol_logs": {**empty(), "created": raws}}))
    raws = as_held(phone.pull(), raws)
    edits = [
        edit(raws[0], "text", text="好的修改"),
        edit(raws[1], "text", text="\x00坏"),  # refused
        edit(raws[2], "photos", photos="not json"),  # refused
    ]
    assert ok(phone.push({"patrol_logs": {**empty(), "updated": edits}})) == {}
    found = stored(app, [r["id"] for r in raws])
    assert found[raws[0]["id"]]["log"] == ("好的修改", [])
    assert found[raws[0]["id"]]["rejections"] == []
    for raw in raws[1:]:
        assert found[raw["id"]]["log"] == (raw["text"], [])
        assert [r[0] for r in found[raw["id"]]["rejections"]] == ["updated"]
    pulled = phone.pull()["changes"]["patrol_logs"]["updated"]
    # the refused ones come back as the server holds them; the good one is the phone's own
    assert sorted(r["id"] for r in pulled) == sorted(r["id"] for r in raws[1:])
    assert {r["text"] for r in pulled} == {raws[1]["text"], raws[2]["text"]}


def test_many_edits_take_a_fixed_number_of_statements(app: Flask, phone: Phone) -> None:
    """200 edits in one push: the statements do not grow with the number of logs."""
    from sqlalchemy import event

    from server.extensions import db

    phone.pull()
    raws = [log_raw(f"log-many-{i:04d}", text=f"原文{i}") for i in range(200)]
    ok(phone.push({"patrol_logs": {**empty(), "created": raws}}))
    phone.pull()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        edits = [edit(r, "text", text=f"改{i}") for i, r in enumerate(raws)]
        assert ok(phone.push({"patrol_logs": {**empty(), "updated": edits}})) == {}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) < 40, statements  # one by one: ~4 a log (savepoints, reads)
    found = stored(app, [raws[0]["id"], raws[-1]["id"]])
    assert found[raws[0]["id"]]["log"] == ("改0", [])
    assert found[raws[-1]["id"]]["log"] == ("改199", [])
