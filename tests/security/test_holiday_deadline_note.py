"""A deadline counted in working days for a year whose holiday calendar is missing says so on
the case (API, console, resident page); the fact is recorded on the dispatch, so loading the
calendar afterwards does not rewrite what the case said."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case, ok

from tests.web.test_web_session import sign_in


def _reach_a_missing_year(app: Flask) -> int:
    """Make "sanitation" a working-day category whose limit, from today, ends in the first
    year the calendar does not cover; that year."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Category
    from server.services.caseloop.case_deadlines import calendar, local_zone

    with app.app_context():
        cal = calendar()
        today = datetime.now(local_zone()).date()
        missing = next(y for y in range(today.year, 2200) if not cal.covers(y))
        target = max(date(missing, 1, 10), today + timedelta(days=10))
        amount = cal.workdays_between(today, target)
        category = db.session.scalar(select(Category).where(Category.code == "sanitation"))
        category.deadline_unit = "workdays"
        category.deadline_hours = {p: amount for p in ("low", "normal", "high", "urgent")}
        db.session.commit()
    return missing


def _fake_year(year: int) -> str:
    """Test data only, labelled as such (not a published notice)."""
    return json.dumps(
        {
            "years": {
                str(year): {
                    "holidays": [f"{year}-01-01"],
                    "workdays": [],
                    "source": "测试数据，非真实通知 / test data, not a real notice",
                }
            }
        }
    )


def _load(app: Flask, text: str) -> None:
    from server.services.territory import holidays
    from server.services.uow import unit_of_work

    with app.app_context(), unit_of_work() as uow:
        holidays.load_file(uow, text)


def _dispatch(client: FlaskClient, tokens: dict[str, str], world: World, **body: Any) -> Any:
    case = new_case(client, tokens)
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    return ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id, **body))


def _detail(client: FlaskClient, tokens: dict[str, str], case_id: str) -> dict[str, Any]:
    from conftest import bearer

    return ok(client.get(f"/api/v1/cases/{case_id}", headers=bearer(tokens["dispatcher"])))


def test_the_note_is_recorded_at_dispatch_and_outlives_loading_the_year(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    missing = _reach_a_missing_year(app)
    case = _dispatch(client, tokens, world)
    note = case["deadline_note"]
    assert note["code"] == "deadline_weekends_only" and note["years"] == [missing]
    assert note["message_zh"] == f"截止时间按周末计算（{missing}年节假日未载入）"
    assert (
        note["message"] == f"deadline counted with weekends only (holidays of {missing} not loaded)"
    )
    (dispatched,) = [e for e in case["events"] if e["action"] == "dispatch"]
    assert dispatched["payload"]["weekends_only_years"] == [missing]

    _load(app, _fake_year(missing))  # the notice arrives later
    again = _detail(client, tokens, case["id"])
    assert again["deadline_note"]["years"] == [missing]  # history is not rewritten
    assert again["deadline_at"] == case["deadline_at"]

    later = _dispatch(client, tokens, world)  # computed with the calendar now loaded
    (event,) = [e for e in later["events"] if e["action"] == "dispatch"]
    assert missing not in event["payload"].get("weekends_only_years", [])
    assert later["deadline_note"] is None or missing not in later["deadline_note"]["years"]


def test_no_note_for_a_typed_deadline_nor_after_an_extension(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.models.base import utcnow

    _reach_a_missing_year(app)
    typed = (utcnow() + timedelta(days=3)).isoformat()
    case = _dispatch(client, tokens, world, deadline=typed)
    assert case["deadline_note"] is None
    (event,) = [e for e in case["events"] if e["action"] == "dispatch"]
    assert "weekends_only_years" not in event["payload"]

    case = _dispatch(client, tokens, world)
    assert case["deadline_note"] is not None
    staff = tokens["staff"]
    case = ok(act(client, staff, case, "acknowledge"))
    until = (datetime.fromisoformat(case["deadline_at"]) + timedelta(days=5)).isoformat()
    case = ok(act(client, staff, case, "request_extension", deadline=until, reason="需采购配件"))
    assert case["deadline_note"] is not None  # still the dispatch's deadline
    case = ok(act(client, tokens["dispatcher"], case, "approve_extension"))
    assert case["deadline_note"] is None  # a date someone chose, not a count


def test_hours_deadlines_have_no_note(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = _dispatch(client, tokens, world)  # sanitation counts hours in the test world
    assert case["deadline_note"] is None
    (event,) = [e for e in case["events"] if e["action"] == "dispatch"]
    assert "weekends_only_years" not in event["payload"]


def test_console_and_resident_pages_show_the_note(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    missing = _reach_a_missing_year(app)
    case = _dispatch(client, tokens, world)
    _load(app, _fake_year(missing))
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{case['id']}").text
    assert f"截止时间按周末计算（{missing}年节假日未载入）" in page
    resident = app.test_client().get(f"/r/{case['public_token']}")
    assert resident.status_code == 200
    assert f"截止时间按周末计算（{missing}年节假日未载入）" in resident.text
    public = app.test_client().get(f"/api/v1/public/cases/{case['public_token']}").get_json()
    assert public["deadline_note"]["years"] == [missing]
