"""New patrols in a push go set-wise (every one checked first, the accepted ones written
with one flush), with the answers the one-by-one path gave (each through `apply` in a
savepoint of its own): on both backends, the same push applied both ways leaves the same
answer, rows, rejections, change log and next pulls (the phone's and a colleague's)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import World
from flask import Flask
from helpers import A1, B1, ok
from phones import Phone
from sqlalchemy import select

from tests.sync.test_push_refusals import patrol_raw, push
from tests.sync.test_sync_basics import empty, now_ms


@contextmanager
def one_by_one(app: Flask, table: str, hook: str = "apply_many") -> Iterator[None]:
    """`table` without its set-wise path (each record through `apply` in a savepoint of
    its own, as before)."""
    from server.services.syncing import sync

    with app.app_context():
        spec = sync.engine().registry.get(table)
    assert spec is not None and getattr(spec, hook) is not None
    kept = getattr(spec, hook)
    object.__setattr__(spec, hook, None)
    try:
        yield
    finally:
        object.__setattr__(spec, hook, kept)


def untag(value: Any, tag: str) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str).replace(f"-{tag}-", "-"))


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two answers differ (for the assertion message)."""
    if type(a) is not type(b):
        return [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'first' if k in a else 'second'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def masked(title: str) -> str:
    """An inbox title without what differs between two runs of a scenario: the case's
    number and a deadline's minute (a dispatch a minute later has a deadline a minute later)."""
    return re.sub(r"\d\d-\d\d \d\d:\d\d", "…", re.sub(r"MQ-\d+-\d+", "MQ-…", title))


PATROL_COLUMNS = (
    "collector_id",
    "grid_id",
    "subdistrict_id",
    "device_id",
    "status",
    "points",
    "distance_m",
    "duration_s",
    "time_inside_s",
    "coverage",
    "plausible",
    "flags",
)


def patrols_stored(app: Flask, ids: list[str], start: int = 0) -> dict[str, Any]:
    """Each patrol's columns (times in whole minutes from `start`, the track as text), its
    change-log entry and its rejections."""
    from geoalchemy2.shape import to_shape

    from server.extensions import db
    from server.models import SYNC_TABLES, Patrol

    rows, rej = SYNC_TABLES.rows, SYNC_TABLES.rejections
    out: dict[str, Any] = {}
    with app.app_context():
        for rid in ids:
            p = db.session.get(Patrol, rid)
            entry = db.session.execute(
                select(
                    rows.c.origin_device,
                    rows.c.creator_device,
                    rows.c.deleted,
                    rows.c.scope_key,
                    rows.c.prev_scope_key,
                ).where(rows.c.table_name == "patrols", rows.c.record_id == rid)
            ).one_or_none()
            out[rid] = {
                "patrol": None
                if p is None
                else {
                    **{c: getattr(p, c) for c in PATROL_COLUMNS},
                    "duration_s": None if p.duration_s is None else round(p.duration_s / 60),
                    "started_at": minutes(p.started_at, start),
                    "ended_at": None if p.ended_at is None else minutes(p.ended_at, start),
                    "track": None if p.track is None else to_shape(p.track).wkt,
                },
                "change_log": None if entry is None else list(entry),
                "rejections": sorted(
                    list(r)
                    for r in db.session.execute(
                        select(rej.c.operation, rej.c.code, rej.c.field, rej.c.record_exists).where(
                            rej.c.table_name == "patrols", rej.c.record_id == rid
                        )
                    )
                ),
            }
        db.session.remove()
    return out


def minutes(moment: Any, start: int) -> int:
    return round((moment.timestamp() * 1000 - start) / 60_000)


def patrol_scenario(
    app: Flask, phone: Phone, colleague: Phone, world: World, tag: str, start: int
) -> dict[str, Any]:
    """One push of new patrols in every way a new patrol can go: accepted (active, active
    with a track, ended with a track, a start in the future), refused by the engine (an
    unknown column), by the adapter (a NaN in the track, a bad time, a missing grid), by
    the use case (a grid not the collector's, an end before the start, a short id, a track
    point out of range), and one id sent twice (the second copy goes one by one)."""
    a1, b1 = str(world.grid_ids["A1"]), str(world.grid_ids["B1"])
    track = [[A1[0] + k * 1e-5, A1[1], start + k * 60_000, 5] for k in range(5)]

    def p(name: str, **extra: Any) -> dict[str, Any]:
        raw = patrol_raw(f"patrol-{tag}-{name}", a1, started_at=start, track=json.dumps(track[:1]))
        return {**raw, **extra}

    created = [
        p("active"),
        p("tracked", track=json.dumps(track)),
        p("ended", status="ended", ended_at=start + 25 * 60_000, track=json.dumps(track)),
        p("ended-no-end", status="ended", track=json.dumps(track[:2])),
        p("future", started_at=now_ms() + 3_600_000, track="[]"),
        p("unknown-col", colour="red"),
        p("nan", track=json.dumps([[A1[0], math.nan, start, 5]], allow_nan=True)),
        p("bad-time", started_at="yesterday"),
        p("no-grid", grid_id=None),
        p("theirs", grid_id=b1),
        p("before", status="ended", ended_at=start - 60_000),
        p("bad-end", status="ended", ended_at="soon", grid_id=b1),  # the grid is checked first
        p("out", track=json.dumps([[500.0, A1[1], start, 5]])),
        p("twice", track=json.dumps(track[:2])),
        p("twice", track=json.dumps(track[:3])),
        patrol_raw(f"p-{tag}-x", a1, started_at=start),  # too short an id for the use case
    ]
    answer = push(phone, {"patrols": {**empty(), "created": created}})
    ids = sorted({r["id"] for r in created})
    pulled = phone.pull()["changes"]["patrols"]
    seen = colleague.pull()["changes"]["patrols"]

    def brief(items: list[Any]) -> list[Any]:
        return sorted(
            (i, None) if isinstance(i, str) else (i["id"], i["status"], i["track"]) for i in items
        )

    return untag(
        {
            "answer": answer,
            "stored": patrols_stored(app, ids, start),
            "pulled": {kind: brief(pulled[kind]) for kind in ("created", "updated", "deleted")},
            "colleague": {kind: brief(seen[kind]) for kind in ("created", "updated", "deleted")},
        },
        tag,
    )


def test_new_patrols_in_one_push_answer_as_one_by_one(
    app: Flask, make_phone: Any, world: World
) -> None:
    phone, colleague = make_phone("collector"), make_phone("collector")
    phone.pull()
    colleague.pull()
    start = now_ms() - 30 * 60_000  # the same times both ways
    setwise = patrol_scenario(app, phone, colleague, world, "set", start)
    with one_by_one(app, "patrols"):
        single = patrol_scenario(app, phone, colleague, world, "one", start)
    assert setwise == single, differences(setwise, single)
    stored = setwise["stored"]
    assert stored["patrol-active"]["patrol"]["status"] == "active"
    assert len(stored["patrol-active"]["patrol"]["points"]) == 1
    assert len(stored["patrol-tracked"]["patrol"]["points"]) == 5
    ended = stored["patrol-ended"]["patrol"]
    assert ended["status"] == "ended" and ended["distance_m"] > 0 and ended["track"]
    assert stored["patrol-ended-no-end"]["patrol"]["status"] == "ended"
    assert len(stored["patrol-twice"]["patrol"]["points"]) == 3  # both copies applied
    refused = {
        "patrol-unknown-col": "sync_unknown_column",
        "patrol-nan": "bad_track",
        "patrol-bad-time": "sync_bad_value",
        "patrol-no-grid": "sync_missing_value",
        "patrol-theirs": "outside_your_grids",
        "patrol-before": "validation_error",
        "patrol-bad-end": "outside_your_grids",
        "patrol-out": "bad_track",
        "p-x": "validation_error",
    }
    for rid, code in refused.items():
        assert stored[rid]["patrol"] is None and stored[rid]["change_log"] is None, rid
        assert [r[1] for r in stored[rid]["rejections"]] == [code], rid
    assert sorted(setwise["answer"]["experimentalRejectedIds"]["patrols"]) == sorted(refused)
    # the phone gets back what the server made of its patrols (distance, coverage…), its
    # collector's other phone gets them as new
    kept = {rid for rid, found in stored.items() if found["patrol"] is not None}
    assert {r[0] for r in setwise["pulled"]["updated"]} == kept
    assert {r[0] for r in setwise["colleague"]["created"]} == kept


def test_new_patrols_take_a_fixed_number_of_statements(
    app: Flask, phone: Phone, world: World
) -> None:
    """100 new patrols in one push: the statements do not grow with their number."""
    from sqlalchemy import event

    from server.extensions import db

    phone.pull()
    a1 = str(world.grid_ids["A1"])
    start = now_ms() - 30 * 60_000
    raws = [
        patrol_raw(
            f"patrol-many-{i:04d}",
            a1,
            started_at=start,
            **({"status": "ended", "ended_at": start + 60_000} if i % 2 else {}),
        )
        for i in range(100)
    ]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert ok(phone.push({"patrols": {**empty(), "created": raws}})) == {}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) < 40, statements  # one by one: ~6 a patrol (savepoints, reads)
    stored = patrols_stored(app, [raws[0]["id"], raws[1]["id"]])
    assert stored[raws[0]["id"]]["patrol"]["status"] == "active"
    assert stored[raws[1]["id"]]["patrol"]["status"] == "ended"


# --- case actions ----------------------------------------------------------------------------


def action_raw(action_id: str, case_id: str, action: str = "verify_ok", **extra: Any) -> Any:
    return {
        "id": action_id,
        "case_id": case_id,
        "action": action,
        "note": None,
        "photos": "[]",
        "acted_at": now_ms() - 60_000,
        "outcome": None,
        "_status": "created",
        "_changed": "",
        **extra,
    }


def handled_cases(
    app: Flask, phone: Phone, client: Any, tokens: dict[str, str], ids: list[str]
) -> None:
    """Cases the phone reported, then accepted, dispatched and handled through the API."""
    from conftest import bearer
    from helpers import act

    from server.extensions import db
    from server.models import Category
    from tests.sync.test_sync_guarantees import app_world_unit, case_raw

    with app.app_context():
        category = str(db.session.scalar(select(Category.id).where(Category.code == "sanitation")))
        db.session.remove()
    phone.pull()
    raws = [case_raw(i, category) for i in ids]
    ok(phone.push({"cases": {**empty(), "created": raws}}))
    d, s = tokens["dispatcher"], tokens["staff"]
    unit = app_world_unit(app)
    for case_id in ids:
        case = ok(client.get(f"/api/v1/cases/{case_id}", headers=bearer(d)))
        case = ok(act(client, d, case, "accept"))
        case = ok(act(client, d, case, "dispatch", unit_id=unit))
        case = ok(act(client, s, case, "acknowledge"))
        ok(act(client, s, case, "report_done", result="已处理"))
    phone.pull()


@contextmanager
def tasks_sent() -> Iterator[list[Any]]:
    """The after-commit tasks the pushes release (recorded, not run)."""
    from sqlalchemy import event

    from server.extensions import AppSession

    sent: list[Any] = []

    def capture(session: Any) -> None:
        if not session.in_nested_transaction():
            for task, args, _ in session.info.pop("minqing.after_commit", []):
                sent.append((task.name, args))

    event.listen(AppSession, "after_commit", capture, insert=True)
    try:
        yield sent
    finally:
        event.remove(AppSession, "after_commit", capture)


def cases_stored(app: Flask, case_ids: list[str], action_ids: list[str]) -> dict[str, Any]:
    """Each case's state, events, inbox entries and webhook deliveries; each action's row,
    change-log entry and rejections."""
    from server.extensions import db
    from server.models import (
        SYNC_TABLES,
        Case,
        CaseAction,
        CaseEvent,
        Notification,
        WebhookDelivery,
    )

    rows, rej = SYNC_TABLES.rows, SYNC_TABLES.rejections
    out: dict[str, Any] = {"cases": {}, "actions": {}}
    with app.app_context():
        for cid in case_ids:
            c = db.session.get(Case, cid)
            assert c is not None
            events = db.session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq)
            ).all()
            out["cases"][cid] = {
                "state": [c.status, c.version, c.rework_count, c.verified_at is not None],
                "events": [
                    [e.seq, e.action, e.from_status, e.to_status, e.actor_role, sorted(e.payload)]
                    for e in events
                ],
                "inbox": sorted(
                    [n.user_id, n.event, masked(n.title)]
                    for n in db.session.scalars(
                        select(Notification).where(Notification.case_id == cid)
                    )
                ),
                "webhooks": sorted(
                    [w.event, w.status, w.payload.get("case", {}).get("status")]
                    for w in db.session.scalars(select(WebhookDelivery))
                    if json.dumps(w.payload).find(cid) >= 0
                ),
                "change_log": [
                    list(r)
                    for r in db.session.execute(
                        select(rows.c.origin_device, rows.c.creator_device, rows.c.scope_key).where(
                            rows.c.table_name == "cases", rows.c.record_id == cid
                        )
                    )
                ],
            }
        for aid in action_ids:
            a = db.session.get(CaseAction, aid)
            entry = db.session.execute(
                select(rows.c.origin_device, rows.c.creator_device, rows.c.scope_key).where(
                    rows.c.table_name == "case_actions", rows.c.record_id == aid
                )
            ).one_or_none()
            out["actions"][aid] = {
                "row": None if a is None else [a.case_id, a.action, a.outcome, a.grid_id, a.note],
                "change_log": None if entry is None else list(entry),
                "rejections": sorted(
                    list(r)
                    for r in db.session.execute(
                        select(rej.c.operation, rej.c.code, rej.c.field).where(
                            rej.c.table_name == "case_actions", rej.c.record_id == aid
                        )
                    )
                ),
            }
        db.session.remove()
    return out


def action_scenario(
    app: Flask, phone: Phone, client: Any, tokens: dict[str, str], tag: str
) -> dict[str, Any]:
    """Five handled cases, then one push of offline actions in every way one can go:
    verified, sent back for rework, refused (no reason for a rework, an action not for
    phones, an unknown case, an unknown photo, a bad time, an unknown column), two on one
    case (the second sees the first's result: illegal), one id sent twice (the second copy
    goes one by one: a retry)."""
    cases = [f"case-{tag}-{i:02d}" for i in range(5)]
    handled_cases(app, phone, client, tokens, cases)

    def a(name: str, case: int, action: str = "verify_ok", **extra: Any) -> Any:
        return {**action_raw(f"action-{tag}-{name}", cases[case], action), **extra}

    created = [
        a("ok", 0, note="现场已处理"),
        a("rework", 1, "verify_fail", note="仍有积水"),
        a("no-reason", 2, "verify_fail"),
        a("first", 3),
        a("second", 3, "verify_fail", note="又坏了"),
        a("close", 4, "close"),
        a("nowhere", 0, case_id=f"case-{tag}-missing"),
        a("photo", 4, photos=json.dumps(["0" * 64])),
        a("bad-time", 4, acted_at="today"),
        a("unknown-col", 4, colour="red"),
        a("twice", 4, note="第一次"),
        a("twice", 4, note="第二次"),
    ]
    with tasks_sent() as sent:
        answer = ok(phone.push({"case_actions": {**empty(), "created": created}}))
    pulled = phone.pull()["changes"]
    action_ids = sorted({r["id"] for r in created})

    def brief(table: str, key: str) -> dict[str, Any]:
        return {
            kind: sorted(
                r if isinstance(r, str) else [r["id"], r.get(key)] for r in pulled[table][kind]
            )
            for kind in ("created", "updated", "deleted")
        }

    return untag(
        {
            "answer": answer,
            "stored": cases_stored(app, cases, action_ids),
            "tasks": sorted(name for name, _ in sent),
            "pulled": {
                "cases": brief("cases", "status"),
                "case_actions": brief("case_actions", "outcome"),
                "case_events": len(pulled["case_events"]["created"]),
            },
        },
        tag,
    )


def test_new_case_actions_in_one_push_answer_as_one_by_one(
    app: Flask, make_phone: Any, client: Any, tokens: dict[str, str], world: World
) -> None:
    from server.extensions import db
    from server.models import WebhookSubscription

    with app.app_context():
        db.session.add(
            WebhookSubscription(
                subdistrict_id=world.subdistrict_id,
                name="全部",
                url="http://127.0.0.1:9/hook",
                secret="s" * 32,
                events=["*"],
                active=True,
            )
        )
        db.session.commit()
        db.session.remove()
    phone = make_phone("collector")
    setwise = action_scenario(app, phone, client, tokens, "set")
    with one_by_one(app, "case_actions"):
        single = action_scenario(app, phone, client, tokens, "one")
    assert setwise == single, differences(setwise, single)
    cases, actions = setwise["stored"]["cases"], setwise["stored"]["actions"]
    assert cases["case-00"]["state"][0] == "awaiting_rating"
    assert cases["case-01"]["state"][0] == "dispatched" and cases["case-01"]["state"][2] == 1
    assert cases["case-03"]["state"][0] == "awaiting_rating"  # the first of its two
    for name in ("ok", "rework", "first", "twice"):
        assert actions[f"action-{name}"]["row"][2] == "applied", name
        assert actions[f"action-{name}"]["rejections"] == [], name
    refused = {
        "no-reason": "validation_error",
        "second": "illegal_transition",
        "close": "action_not_allowed",
        "nowhere": "not_found",
        "photo": "unknown_attachment",
        "bad-time": "sync_bad_value",
        "unknown-col": "sync_unknown_column",
    }
    for name, code in refused.items():
        found = actions[f"action-{name}"]
        assert found["row"] is None and found["change_log"] is None, name
        assert [r[1] for r in found["rejections"]] == [code], name
    assert sorted(setwise["answer"]["experimentalRejectedIds"]["case_actions"]) == sorted(
        f"action-{name}" for name in refused
    )
    assert any(w[0] == "case.rework" for w in cases["case-01"]["webhooks"])
    assert "minqing.webhooks.deliver" in setwise["tasks"]


def test_new_case_actions_take_fewer_statements_than_one_by_one(
    app: Flask, phone: Phone, client: Any, tokens: dict[str, str]
) -> None:
    """20 actions on 20 cases: no savepoint, no read of an action, a case or what its news
    names alone; what remains per action is its case's event (its sequence, the audit
    chain's previous hash, the insert), its case's update and the webhook subscribers."""
    from sqlalchemy import event

    from server.extensions import db

    def counted(tag: str) -> list[str]:
        cases = [f"case-{tag}-{i:02d}" for i in range(20)]
        handled_cases(app, phone, client, tokens, cases)
        raws = [action_raw(f"action-{tag}-{i:02d}", c) for i, c in enumerate(cases)]
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert ok(phone.push({"case_actions": {**empty(), "created": raws}})) == {}
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return statements

    setwise = counted("set")
    with one_by_one(app, "case_actions"):
        single = counted("one")
    assert not [s for s in setwise if "SAVEPOINT" in s.upper()]
    assert len(setwise) <= 20 + 20 * 5, len(setwise)
    assert len(setwise) < len(single) / 2, (len(setwise), len(single))


# --- cases -----------------------------------------------------------------------------------


def reports_stored(app: Flask, ids: list[str]) -> dict[str, Any]:
    """Each case's columns (its number's sequence apart), events, inbox entries, webhook
    deliveries, change-log entry and rejections."""
    from server.extensions import db
    from server.models import SYNC_TABLES, Case, CaseEvent, Notification, WebhookDelivery

    rows, rej = SYNC_TABLES.rows, SYNC_TABLES.rejections
    out: dict[str, Any] = {}
    with app.app_context():
        for cid in ids:
            c = db.session.get(Case, cid)
            entry = db.session.execute(
                select(rows.c.origin_device, rows.c.creator_device, rows.c.scope_key).where(
                    rows.c.table_name == "cases", rows.c.record_id == cid
                )
            ).one_or_none()
            out[cid] = {
                "case": None
                if c is None
                else [
                    c.status,
                    c.priority,
                    c.source,
                    c.grid_id,
                    c.community_id,
                    c.collector_note,
                    c.version,
                    c.deadline_at is not None,
                    re.sub(r"\d{4}$", "…", c.number),
                ],
                "events": [
                    [e.seq, e.action, e.from_status, e.to_status, e.actor_role, sorted(e.payload)]
                    for e in db.session.scalars(
                        select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq)
                    )
                ],
                "inbox": sorted(
                    [n.user_id, n.event, masked(n.title)]
                    for n in db.session.scalars(
                        select(Notification).where(Notification.case_id == cid)
                    )
                ),
                "webhooks": sorted(
                    w.event
                    for w in db.session.scalars(select(WebhookDelivery))
                    if json.dumps(w.payload).find(cid) >= 0
                ),
                "change_log": None if entry is None else list(entry),
                "rejections": sorted(
                    list(r)
                    for r in db.session.execute(
                        select(rej.c.operation, rej.c.code, rej.c.field).where(
                            rej.c.table_name == "cases", rej.c.record_id == cid
                        )
                    )
                ),
            }
        numbers = [
            n
            for (n,) in db.session.execute(
                select(Case.number).where(Case.id.in_(ids)).order_by(Case.created_at, Case.number)
            )
        ]
        db.session.remove()
    sequence = [int(n[-4:]) for n in numbers]
    out["numbers"] = [s - sequence[0] for s in sequence]  # consecutive, in the order sent
    return out


def report_scenario(
    app: Flask, phone: Phone, colleague: Phone, world: World, tag: str
) -> dict[str, Any]:
    """One push of new cases in every way a report can go: accepted (with a note, without,
    urgent), refused by the engine (an unknown column), by the adapter (no description, a
    bad time, an unknown category), by the use case (outside the collector's grids, an
    unknown photo, a bad priority), and one id sent twice (the second copy goes one by
    one: a note on the case just reported)."""
    from server.extensions import db
    from server.models import Category
    from tests.sync.test_sync_guarantees import case_raw

    with app.app_context():
        category = str(db.session.scalar(select(Category.id).where(Category.code == "sanitation")))
        db.session.remove()

    def c(name: str, **extra: Any) -> Any:
        return {**case_raw(f"case-{tag}-{name}", category, reported_at=START), **extra}

    created = [
        c("noted", collector_note="已拍照"),
        c("plain"),
        c("urgent", priority="urgent"),
        c("unknown-col", colour="red"),
        c("no-text", description=""),
        c("bad-time", reported_at="today"),
        c("no-category", category_id="999999"),
        c("theirs", lon=B1[0], lat=B1[1]),  # another collector's grid
        c("photo", photos=json.dumps(["0" * 64])),
        c("priority", priority="zzz"),
        c("twice"),
        c("twice", collector_note="补充说明"),
    ]
    with tasks_sent() as sent:
        answer = ok(phone.push({"cases": {**empty(), "created": created}}))
    ids = sorted({r["id"] for r in created})
    pulled = phone.pull()["changes"]
    seen = colleague.pull()["changes"]

    def brief(changes: dict[str, Any], table: str) -> dict[str, Any]:
        return {
            kind: sorted(
                r if isinstance(r, str) else [r["id"], r.get("status")]
                for r in changes[table][kind]
            )
            for kind in ("created", "updated", "deleted")
        }

    return untag(
        {
            "answer": answer,
            "stored": reports_stored(app, ids),
            "tasks": sorted(name for name, _ in sent),
            "pulled": brief(pulled, "cases"),
            "events": len(pulled["case_events"]["created"]),
            "colleague": brief(seen, "cases"),
        },
        tag,
    )


START = now_ms() - 3_600_000


def test_new_cases_in_one_push_answer_as_one_by_one(
    app: Flask, make_phone: Any, world: World
) -> None:
    from server.extensions import db
    from server.models import WebhookSubscription

    with app.app_context():
        db.session.add(
            WebhookSubscription(
                subdistrict_id=world.subdistrict_id,
                name="全部",
                url="http://127.0.0.1:9/hook",
                secret="s" * 32,
                events=["*"],
                active=True,
            )
        )
        db.session.commit()
        db.session.remove()
    phone, colleague = make_phone("collector"), make_phone("collector")
    phone.pull()
    colleague.pull()
    setwise = report_scenario(app, phone, colleague, world, "set")
    with one_by_one(app, "cases"):
        single = report_scenario(app, phone, colleague, world, "one")
    assert setwise == single, differences(setwise, single)
    stored = setwise["stored"]
    assert stored["numbers"] == [0, 1, 2, 3]  # numbered in the order sent, none skipped
    assert stored["case-noted"]["case"][5] == "已拍照"
    assert stored["case-twice"]["case"][5] == "补充说明"  # the second copy: its note
    assert stored["case-urgent"]["case"][1] == "urgent"
    assert [e[1] for e in stored["case-plain"]["events"]] == ["report"]
    assert stored["case-plain"]["webhooks"] == ["case.reported"]
    refused = {
        "case-unknown-col": "sync_unknown_column",
        "case-no-text": "sync_missing_value",
        "case-bad-time": "sync_bad_value",
        "case-no-category": "unknown_category",
        "case-theirs": "outside_your_grids",
        "case-photo": "unknown_attachment",
        "case-priority": "validation_error",
    }
    for rid, code in refused.items():
        found = stored[rid]
        assert found["case"] is None and found["change_log"] is None, rid
        assert found["events"] == [] and found["inbox"] == [] and found["webhooks"] == [], rid
        assert [r[1] for r in found["rejections"]] == [code], rid
    assert sorted(setwise["answer"]["experimentalRejectedIds"]["cases"]) == sorted(refused)
    assert setwise["tasks"].count("minqing.webhooks.deliver") == 4


def test_new_logs_written_set_wise_are_stored_as_the_orm_stores_them(
    app: Flask, world: World
) -> None:
    """`patrols._insert_logs` (one INSERT … SELECT from a JSON text: json_to_recordset or
    json_each) stores exactly what the ORM (an executemany of bound values) would: the same
    texts, numbers to the last bit, times, photos and point bytes."""
    import random

    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point
    from sqlalchemy import func

    from server.extensions import db
    from server.models import PatrolLog
    from server.models.base import SRID, utcnow
    from server.services.patrolling import patrols

    rng = random.Random(7)
    collector = world.user_ids["collector"]
    rows = [
        {
            "id": f"log-json-{i:03d}",
            "patrol_id": None,
            "collector_id": collector,
            "grid_id": world.grid_ids["A1"],
            "subdistrict_id": world.subdistrict_id,
            "category_id": None,
            "text": f'巡查 {i} "引号" \\ 反斜杠 \u00e9',
            "lon": A1[0] + rng.uniform(-1e-3, 1e-3),  # full-precision doubles
            "lat": A1[1] + rng.uniform(-1e-3, 1e-3),
            "photos": ["a" * 64] if i % 2 else [],
            "logged_at": utcnow(),
        }
        for i in range(20)
    ]
    with app.app_context():
        patrols._insert_logs(db.session, rows)
        now = utcnow()
        for r in rows:
            db.session.add(
                PatrolLog(
                    **{**r, "id": r["id"].replace("json", "orm")},
                    point=from_shape(Point(r["lon"], r["lat"]), srid=SRID),
                    created_at=now,
                    updated_at=now,
                )
            )
        db.session.commit()
        point = (
            func.hex(PatrolLog.point)
            if db.engine.dialect.name == "sqlite"
            else func.ST_AsEWKB(PatrolLog.point)
        )
        columns = (
            PatrolLog.text,
            PatrolLog.lon,
            PatrolLog.lat,
            PatrolLog.photos,
            PatrolLog.logged_at,
            PatrolLog.grid_id,
            point,
        )

        def stored(kind: str) -> list[Any]:
            return [
                tuple(r)
                for r in db.session.execute(
                    select(*columns)
                    .where(PatrolLog.id.like(f"log-{kind}-%"))
                    .order_by(PatrolLog.id)
                )
            ]

        by_json, by_orm = stored("json"), stored("orm")
        db.session.remove()
    assert len(by_json) == 20 and by_json == by_orm
