"""The collector's web view /c/: today's schedule, a patrol with its track, a log and a case
with photos, the on-site check — and only the collector's own grids."""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any

import pytest
from conftest import TEST_PASSWORD, World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, B1, act, new_case, ok, report
from PIL import Image


def sign_in(client: FlaskClient, username: str) -> str:
    """Sign in through the login form; the session's CSRF token."""
    client.delete_cookie("minqing_session")
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    response = client.post(
        "/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:
        return str(session["csrf"])


@pytest.fixture
def collector(client: FlaskClient, world: World) -> tuple[FlaskClient, str]:
    return client, sign_in(client, "collector")


def png(colour: tuple[int, int, int] = (10, 120, 40)) -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, format="PNG")
    return out.getvalue()


def handled_case(
    client: FlaskClient, tokens: dict[str, str], world: World, at: tuple[float, float] = A1
) -> dict[str, Any]:
    reporter = tokens["collector"] if at == A1 else tokens["collector2"]
    case = ok(report(client, reporter, at=at), 201)["case"]
    d, s = tokens["dispatcher"], tokens["staff"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    return ok(act(client, s, case, "report_done", result="已修复"))


def test_signed_out_goes_to_login_and_other_roles_are_refused(
    client: FlaskClient, world: World
) -> None:
    response = client.get("/c/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    sign_in(client, "dispatcher")
    refused = client.get("/c/")
    assert refused.status_code == 403
    assert "您的角色无权访问此页面" in refused.text


def test_home_lists_grids_schedule_and_cases_to_check(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/patrol-schedules",
        json={
            "collector_id": world.user_ids["collector"],
            "grid_id": world.grid_ids["A1"],
            "times": ["00:01", "23:59"],
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "skip_holidays": False,
            "tolerance_minutes": 5,
        },
        headers=bearer(tokens["dispatcher"]),
    )
    assert created.status_code == 201, created.get_json()
    handled = handled_case(client, tokens, world)
    other = handled_case(client, tokens, world, at=B1)
    sign_in(client, "collector")
    html = client.get("/c/").text
    assert "甲社区第1网格" in html and "乙村第1网格" not in html.split("今日排班")[0]
    assert "00:01" in html and "23:59" in html
    assert html.count('class="badge state-') == 2
    assert handled["number"] in html
    assert other["number"] not in html  # another collector's grid


def test_slot_states_through_the_day(app: Flask, world: World) -> None:
    """Missed once the window closed without a patrol, done with one inside it, due ahead."""
    from datetime import datetime

    from server.extensions import db
    from server.models import Patrol, PatrolSchedule
    from server.services import collector_day
    from server.services.auth import login, resolve_bearer
    from server.services.case_deadlines import local_zone

    with app.app_context():
        zone = local_zone()
        today = datetime.now(zone).date()
        db.session.add(
            PatrolSchedule(
                collector_id=world.user_ids["collector"],
                grid_id=world.grid_ids["A1"],
                times=["09:00", "10:00", "15:00"],
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                tolerance_minutes=30,
                skip_holidays=False,
                valid_from=today,
                active=True,
            )
        )
        db.session.add(
            Patrol(
                id="patrol-at-ten-o-clock",
                collector_id=world.user_ids["collector"],
                grid_id=world.grid_ids["A1"],
                subdistrict_id=world.subdistrict_id,
                status="ended",
                started_at=datetime(today.year, today.month, today.day, 10, 10, tzinfo=zone),
                points=[],
                flags=[],
            )
        )
        db.session.commit()
        principal = resolve_bearer(login("collector", TEST_PASSWORD).access_token)
        noon = datetime(today.year, today.month, today.day, 12, 0, tzinfo=zone)
        slots = collector_day.today_slots(principal, now=noon)
        assert [(s.due_at.astimezone(zone).strftime("%H:%M"), s.state) for s in slots] == [
            ("09:00", "missed"),
            ("10:00", "done"),
            ("15:00", "due"),
        ]
        db.session.remove()


def test_patrol_start_points_end(
    app: Flask, world: World, collector: tuple[FlaskClient, str]
) -> None:
    client, csrf = collector
    from server.extensions import db
    from server.models import Patrol

    grid_id = world.grid_ids["A1"]
    started = client.post("/c/patrols", data={"grid_id": grid_id, "csrf_token": csrf})
    assert started.status_code == 303
    home = client.get("/c/").text
    assert "正在巡逻" in home and "结束巡逻" in home
    with app.app_context():
        patrol = db.session.query(Patrol).one()
        pid = patrol.id
    now = time.time()
    points = [[A1[0] + i * 0.0002, A1[1], now - 300 + i * 30, 8] for i in range(6)]
    url = f"/c/patrols/{pid}/points"
    refused = client.post(url, json={"points": points})  # no CSRF header
    assert refused.status_code == 400
    sent = client.post(url, json={"points": points}, headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 200 and sent.get_json() == {"id": pid, "points": 6}
    again = client.post(url, json={"points": points}, headers={"X-CSRF-Token": csrf})
    assert again.get_json()["points"] == 6  # a retried batch is harmless
    bad = client.post(url, json={"points": [[1, 2]]}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and bad.get_json()["code"] == "bad_track"
    ended = client.post(f"/c/patrols/{pid}/end", data={"csrf_token": csrf})
    assert ended.status_code == 303 and ended.headers["Location"].endswith(f"ended={pid}")
    summary = client.get(ended.headers["Location"]).text
    assert "巡逻已结束" in summary and "开始巡逻" in summary
    with app.app_context():
        patrol = db.session.get(Patrol, pid)
        assert patrol is not None and patrol.status == "ended" and patrol.distance_m > 0
    late = client.post(url, json={"points": points}, headers={"X-CSRF-Token": csrf})
    assert late.status_code == 409 and late.get_json()["code"] == "patrol_ended"
    with client.session_transaction() as session:
        del session["sid"]  # the session expired meanwhile
    gone = client.post(url, json={"points": points}, headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 401 and gone.get_json()["message_zh"] == "登录已过期，请重新登录"


def test_patrol_in_someone_elses_grid_is_refused(
    collector: tuple[FlaskClient, str], world: World
) -> None:
    client, csrf = collector
    refused = client.post("/c/patrols", data={"grid_id": world.grid_ids["B1"], "csrf_token": csrf})
    assert refused.status_code == 422
    assert "不是您负责的网格" in refused.text


def test_log_with_a_photo(app: Flask, collector: tuple[FlaskClient, str]) -> None:
    client, csrf = collector
    assert 'id="f-text"' in client.get("/c/log").text
    sent = client.post(
        "/c/log",
        data={
            "csrf_token": csrf,
            "text": "路灯不亮",
            "category": "sanitation",
            "lon": str(A1[0]),
            "lat": str(A1[1]),
            "photo": (BytesIO(png()), "lamp.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.text
    assert "日志已保存" in client.get(sent.headers["Location"]).text
    from server.extensions import db
    from server.models import PatrolLog

    with app.app_context():
        log = db.session.query(PatrolLog).one()
        assert log.text == "路灯不亮" and len(log.photos) == 1


def test_log_outside_own_grids_names_the_field(collector: tuple[FlaskClient, str]) -> None:
    client, csrf = collector
    sent = client.post(
        "/c/log", data={"csrf_token": csrf, "text": "x", "lon": str(B1[0]), "lat": str(B1[1])}
    )
    assert sent.status_code == 422
    assert "该位置不在您负责的网格内" in sent.text
    assert "x</textarea>" in sent.text  # the text is kept


def test_report_a_case_with_a_photo_then_see_it(
    app: Flask, collector: tuple[FlaskClient, str]
) -> None:
    client, csrf = collector
    sent = client.post(
        "/c/report",
        data={
            "csrf_token": csrf,
            "category": "sanitation",
            "description": "井盖松动",
            "priority": "high",
            "lon": str(A1[0]),
            "lat": str(A1[1]),
            "photo": (BytesIO(png((200, 10, 10))), "cover.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["Location"])
    assert page.status_code == 200
    assert "已上报" in page.text and "井盖松动" in page.text
    from server.extensions import db
    from server.models import Case, CaseAttachment

    with app.app_context():
        case = db.session.query(Case).one()
        assert (case.source, case.priority) == ("patrol", "high")
        sha = db.session.query(CaseAttachment.sha256).filter_by(case_id=case.id).scalar()
    assert f"/c/photos/{sha}" in page.text
    assert client.get(f"/c/photos/{sha}").status_code == 200
    assert client.get("/c/photos/" + "0" * 64).status_code == 404


def test_verify_ok_on_site(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = handled_case(client, tokens, world)
    csrf = sign_in(client, "collector")
    page = client.get(f"/c/cases/{case['id']}").text
    assert "现场核查" in page and 'value="verify_ok"' in page
    sent = client.post(
        f"/c/cases/{case['id']}/verify",
        data={
            "csrf_token": csrf,
            "action": "verify_ok",
            "version": case["version"],
            "photo": (BytesIO(png((1, 2, 3))), "ok.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303
    after = client.get(sent.headers["Location"]).text
    assert "核查通过" in after and "待评价" in after
    assert 'value="verify_ok"' not in after
    from server.extensions import db
    from server.models import Case, CaseAttachment

    with app.app_context():
        assert db.session.get(Case, case["id"]).status == "awaiting_rating"  # type: ignore[union-attr]
        roles = {a.role for a in db.session.query(CaseAttachment).filter_by(case_id=case["id"])}
        assert roles == {"verify"}


def test_verify_fail_needs_a_reason_and_a_stale_form_is_409(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = handled_case(client, tokens, world)
    csrf = sign_in(client, "collector")
    url = f"/c/cases/{case['id']}/verify"
    no_reason = client.post(
        url, data={"csrf_token": csrf, "action": "verify_fail", "version": case["version"]}
    )
    assert no_reason.status_code == 422
    assert "字段 reason" in no_reason.text
    stale = client.post(
        url, data={"csrf_token": csrf, "action": "verify_ok", "version": case["version"] - 1}
    )
    assert stale.status_code == 409
    assert "事项已被他人修改" in stale.text
    failed = client.post(
        url,
        data={
            "csrf_token": csrf,
            "action": "verify_fail",
            "version": case["version"],
            "reason": "垃圾还在",
        },
    )
    assert failed.status_code == 303
    assert "核查未通过" in client.get(failed.headers["Location"]).text


def test_another_grids_case_is_refused(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    other = handled_case(client, tokens, world, at=B1)
    csrf = sign_in(client, "collector")
    page = client.get(f"/c/cases/{other['id']}")
    assert page.status_code == 404
    assert "事项不存在" in page.text
    assert 'href="/c/" class="button primary"' in page.text  # back to the collector's day
    post = client.post(
        f"/c/cases/{other['id']}/verify",
        data={"csrf_token": csrf, "action": "verify_ok", "version": other["version"]},
    )
    assert post.status_code == 404
    mine = new_case(client, tokens)
    assert client.get(f"/c/cases/{mine['id']}").status_code == 200


def test_a_slot_due_now_can_be_started_from_the_list(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from datetime import datetime, timedelta

    from server.extensions import db
    from server.models import Patrol, PatrolSchedule
    from server.services.case_deadlines import local_zone

    with app.app_context():
        now = datetime.now(local_zone())
        if now.hour == 0 or now.hour == 23:
            pytest.skip("the slot's window would cross midnight")
        db.session.add(
            PatrolSchedule(
                collector_id=world.user_ids["collector"],
                grid_id=world.grid_ids["A1"],
                times=[now.strftime("%H:%M")],
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                tolerance_minutes=30,
                skip_holidays=False,
                valid_from=now.date() - timedelta(days=1),
                active=True,
            )
        )
        db.session.commit()
    csrf = sign_in(client, "collector")
    html = client.get("/c/").text
    assert "现在开始" in html and 'class="slot-start"' in html
    started = client.post("/c/patrols", data={"grid_id": world.grid_ids["A1"], "csrf_token": csrf})
    assert started.status_code == 303
    html = client.get("/c/").text
    assert "已巡" in html and "现在开始" not in html  # the slot counts as done at once
    with app.app_context():
        assert db.session.query(Patrol).count() == 1
