"""The daily index for a small fixture worked out by hand; recomputing is identical."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case, ok
from sqlalchemy import select

from server.services.uow import unit_of_work

DAY = date(2026, 11, 20)


def shift_to_day(app: Flask, case_ids: list[str]) -> None:
    """Move the cases' whole history so that 'now' becomes 12:00 on DAY (local time)."""
    from server.extensions import db
    from server.models import Case, CaseEvent, Rating
    from server.models.base import utcnow

    target = datetime.combine(DAY, time(12), tzinfo=ZoneInfo("Asia/Shanghai"))
    delta = target - utcnow()
    columns = [
        "reported_at",
        "created_at",
        "accepted_at",
        "dispatched_at",
        "first_dispatched_at",
        "deadline_at",
        "handled_at",
        "verified_at",
        "closed_at",
    ]
    with app.app_context():
        for case in db.session.scalars(select(Case).where(Case.id.in_(case_ids))):
            for name in columns:
                value = getattr(case, name)
                if value is not None:
                    setattr(case, name, value + delta)
        for event in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(case_ids))):
            event.created_at = event.created_at + delta
        for rating in db.session.scalars(select(Rating).where(Rating.case_id.in_(case_ids))):
            rating.created_at = rating.created_at + delta
        db.session.commit()


def build(client: FlaskClient, world: World, tokens: dict[str, str]) -> list[str]:
    """A1: c1 handled on time and rated 满意; c2 urgent, due and not handled; c3 rejected."""
    d, s, c = tokens["dispatcher"], tokens["staff"], tokens["collector"]
    from server.models.base import utcnow

    c1 = ok(act(client, d, new_case(client, tokens), "accept"))
    c1 = ok(
        act(
            client,
            d,
            c1,
            "dispatch",
            unit_id=world.unit_id,
            deadline=(utcnow() + timedelta(hours=2)).isoformat(),
        )
    )
    c1 = ok(act(client, s, c1, "acknowledge"))
    c1 = ok(act(client, s, c1, "report_done", result="done"))
    c1 = ok(act(client, c, c1, "verify_ok"))
    link = ok(client.get(f"/api/v1/cases/{c1['id']}", headers=bearer(d)))["public_token"]
    ok(client.post(f"/api/v1/public/cases/{link}/rating", json={"verdict": "satisfied"}), 201)
    c2 = ok(act(client, d, new_case(client, tokens, priority="urgent"), "accept"))
    c2 = ok(
        act(
            client,
            d,
            c2,
            "dispatch",
            unit_id=world.unit_id,
            deadline=(utcnow() + timedelta(minutes=30)).isoformat(),
        )
    )
    c3 = ok(act(client, d, new_case(client, tokens), "reject", reason="重复"))
    return [c1["id"], c2["id"], c3["id"]]


def stored(app: Flask, level: str, area_id: int) -> Any:
    from server.extensions import db
    from server.models import SentimentIndex

    with app.app_context():
        row = db.session.scalar(
            select(SentimentIndex).where(
                SentimentIndex.day == DAY,
                SentimentIndex.level == level,
                SentimentIndex.area_id == area_id,
            )
        )
        assert row is not None
        return row.score, row.components, row.inputs


def test_index_of_a_day_by_hand(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.domain.index import IndexInputs, compute_index
    from server.services.patrolling import index

    shift_to_day(app, build(client, world, tokens))
    with app.app_context(), unit_of_work() as uow:
        result = index.compute_day(uow, DAY)
    assert (result.grids, result.communities) == (4, 3)

    expected = IndexInputs(
        population=1200,
        window_days=7,
        new_cases_by_priority={"normal": 1, "urgent": 1},
        due_count=2,
        closed_on_time=1,
        ratings_satisfied=1,
        ratings_basic=0,
        ratings_unsatisfied=0,
        handled_count=1,
        reworked_count=0,
        patrol_coverage=None,
        scheduled_patrols=0,
        patrols_done_on_time=0,
    )
    want = compute_index(expected)
    score, components, inputs = stored(app, "grid", world.grid_ids["A1"])
    assert inputs == expected.as_dict()
    assert score == want.score
    assert components == want.as_dict()["components"]
    # by hand: pressure p = (1 + 4) * 1000 / (1200 * 7) = 0.595 → 100·e^-0.595 = 55.1;
    # closure 1/2 → 50.0; satisfaction 1/1 → 100.0; rework 0/1 → 100.0; patrols missing.
    assert components["issue_pressure"]["score"] == 55.1
    assert components["on_time_closure"]["score"] == 50.0
    assert components["satisfaction"]["score"] == 100.0
    assert components["rework"]["score"] == 100.0
    assert components["patrol_coverage"]["missing"] is True
    # (0.30·55.1 + 0.20·50 + 0.25·100 + 0.10·100) / 0.85 = 61.53 / 0.85 = 72.39 → 72.4
    assert score == 72.4

    # a grid with nothing: pressure alone (no cases → 100)
    quiet_score, quiet, _ = stored(app, "grid", world.grid_ids["A2"])
    assert quiet["issue_pressure"]["score"] == 100.0 and quiet_score == 100.0

    # recomputing the day gives the same rows
    before = [stored(app, "grid", g) for g in world.grid_ids.values()]
    with app.app_context(), unit_of_work() as uow:
        index.compute_day(uow, DAY)
    assert [stored(app, "grid", g) for g in world.grid_ids.values()] == before

    # published, with no personal data, and the bulletin
    day = ok(client.get(f"/api/v1/index?date={DAY.isoformat()}&level=grid"))
    a1 = next(item for item in day["items"] if item["area_id"] == world.grid_ids["A1"])
    assert a1["score"] == 72.4
    history = ok(
        client.get(
            f"/api/v1/index/history?community={world.community_ids['A']}"
            f"&from={DAY.isoformat()}&to={DAY.isoformat()}"
        )
    )
    assert [point["day"] for point in history["items"]] == [DAY.isoformat()]
    bulletins = ok(client.get(f"/api/v1/bulletins?date={DAY.isoformat()}"))
    text = next(
        b["text"] for b in bulletins["items"] if b["community_id"] == world.community_ids["A"]
    )
    assert text.startswith("【甲社区】11月20日民情指数")
    assert "新增事项 2 件" in text and "超期 1 件" in text


def test_a_future_day_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    from server.errors import Invalid
    from server.services.patrolling import index

    with app.app_context():
        try:
            with unit_of_work() as uow:
                index.compute_day(uow, date.today() + timedelta(days=2))
        except Invalid as exc:
            assert exc.field == "date"
        else:
            raise AssertionError("a future day was computed")


def test_backfill_cli(app: Flask, world: World) -> None:
    from server.extensions import db
    from server.models import SentimentIndex

    result = app.test_cli_runner().invoke(
        args=["index", "backfill", "--from", "2026-11-01", "--to", "2026-11-03"]
    )
    assert result.exit_code == 0, result.output
    assert "computed 3 days" in result.output
    with app.app_context():
        days = set(db.session.scalars(select(SentimentIndex.day)))
        assert days == {date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)}


def test_compute_on_demand_over_the_api(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from helpers import assert_error

    body = {"date": DAY.isoformat()}
    done = ok(client.post("/api/v1/index/compute", json=body, headers=bearer(tokens["dispatcher"])))
    assert (done["grids"], done["communities"]) == (3, 2)  # the dispatcher's subdistrict
    assert_error(
        client.post("/api/v1/index/compute", json=body, headers=bearer(tokens["collector"])),
        403,
        "forbidden",
    )
    future = {"date": (date.today() + timedelta(days=3)).isoformat()}
    assert_error(
        client.post("/api/v1/index/compute", json=future, headers=bearer(tokens["dispatcher"])),
        422,
        "validation_error",
        "date",
    )
