"""The public board /board: the latest index per community with its bulletin, the trend,
closed-case statistics (阳光公开) — and no personal data."""

from __future__ import annotations

import json
import re

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, ok, report

from server.services.uow import unit_of_work


def closed_resident_case(client: FlaskClient, tokens: dict[str, str], world: World) -> None:
    body = ok(report(client, None, reporter_phone="13812345678", description="秘密的描述"), 201)
    case, d, s = body["case"], tokens["dispatcher"], tokens["staff"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="已清理"))
    case = ok(act(client, tokens["collector"], case, "verify_ok"))
    rated = client.post(
        f"/api/v1/public/cases/{body['public_token']}/rating", json={"verdict": "satisfied"}
    )
    assert rated.status_code == 201


def compute_today(app: Flask) -> str:
    from server.extensions import db
    from server.models.base import utcnow
    from server.services.caseloop.case_deadlines import local_zone
    from server.services.patrolling import index

    with app.app_context():
        day = utcnow().astimezone(local_zone()).date()
        with unit_of_work() as uow:
            index.compute_day(uow, day, publish=False)
        db.session.remove()
    return day.isoformat()


def test_before_any_index(client: FlaskClient, world: World) -> None:
    page = client.get("/board")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "指数尚未发布" in html
    assert "甲社区" in html and "乙村" in html  # the statistics table lists every community


def test_latest_index_bulletin_trend_and_closed_cases(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    closed_resident_case(client, tokens, world)
    day = compute_today(app)
    html = client.get("/board").get_data(as_text=True)
    assert f"<strong>{day}</strong>" in html
    assert "甲社区" in html and "乙村" in html and "丙社区" in html
    assert re.search(r'class="score">\d+\.\d', html), "a score per community"
    from server.extensions import db
    from server.models import Bulletin

    with app.app_context():
        texts = [b.text for b in db.session.query(Bulletin).all()]
    assert texts and all(t in html for t in texts)
    data = json.loads(re.search(r'id="trend-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["days"][-1] == day and len(data["days"]) == 30
    assert {s["name"] for s in data["series"]} == {"甲社区", "乙村", "丙社区"}
    table = re.search(r'<table class="responsive" id="sunshine-table">(.*?)</table>', html, re.S)
    assert table is not None
    row = re.search(r"甲社区</th>(.*?)</tr>", table.group(1), re.S)
    assert row is not None
    cells = re.findall(r">([^<]*)</td>", row.group(1))
    assert cells[:2] == ["1", "1"]  # reported, closed
    assert "100%" in cells  # satisfied
    # no personal data: not the phone, not the description, not a user's name
    for secret in ("13812345678", "138****5678", "秘密的描述", "测试collector", "测试staff"):
        assert secret not in html


def test_echarts_is_served_by_the_app_when_there_is_a_trend(
    app: Flask, client: FlaskClient, world: World
) -> None:
    compute_today(app)
    html = client.get("/board").get_data(as_text=True)
    if 'id="trend-chart"' in html:  # node_modules installed
        assert "/assets/vendor/echarts.min.js" in html
        assert client.get("/assets/vendor/echarts.min.js").status_code == 200
    assert "http://" not in re.sub(r'href="http://[^"]*"', "", html.split("<main")[1])


def test_bad_subdistrict_is_a_named_422(client: FlaskClient, world: World) -> None:
    page = client.get("/board?subdistrict=abc")
    assert page.status_code == 422
    assert "subdistrict" in page.get_data(as_text=True)


def test_one_subdistrict_only(client: FlaskClient, world: World) -> None:
    html = client.get(f"/board?subdistrict={world.other_subdistrict_id}").get_data(as_text=True)
    assert "丙社区" in html and "甲社区" not in html
    assert f'href="/board?subdistrict={world.other_subdistrict_id}" aria-current="true"' in html
    assert "测试街道" in html  # the way to the other subdistrict
