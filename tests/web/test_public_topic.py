"""The public topic page /t/<token> (views, comments, evaluation with a code; no inline
scripts or styles) and the deliberation and notices on /board."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import World, bearer
from flask.testing import FlaskClient
from helpers import A1, ok

CSRF = "test-csrf-token-0123456789"


def with_csrf(client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["csrf"] = CSRF


def in_consultation(
    client: FlaskClient, tokens: dict[str, str], world: World
) -> tuple[dict[str, Any], list[str]]:
    d = bearer(tokens["dispatcher"])
    topic = ok(
        client.post(
            "/api/v1/deliberations",
            json={
                "community_id": world.community_ids["A"],
                "title": "小区停车位划线",
                "description": "在 2 号楼前划 12 个车位",
                "lon": A1[0],
                "lat": A1[1],
                "proposer_name": "孙小美",
            },
            headers=d,
        ),
        201,
    )
    topic = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/actions/accept",
            json={"version": topic["version"]},
            headers=d,
        )
    )
    closes = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    topic = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/actions/open_consultation",
            json={"version": topic["version"], "closes_at": closes},
            headers=d,
        )
    )
    codes = ok(
        client.post(f"/api/v1/deliberations/{topic['id']}/codes", json={"count": 3}, headers=d), 201
    )["codes"]
    return topic, codes


def test_a_resident_gives_a_view_and_comments_with_a_code(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic, codes = in_consultation(client, tokens, world)
    url = f"/t/{topic['public_token']}"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "小区停车位划线" in html and "群议" in html
    assert "孙**" in html and "孙小美" not in html
    assert "<script" not in html.split("</header>")[-1] or "<script>" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline scripts
    assert "style=" not in html and "<style" not in html  # no inline styles
    assert page.headers["Cache-Control"] == "no-store"
    with_csrf(client)
    # without CSRF: refused
    assert client.post(f"{url}/view", data={"code": codes[0], "choice": "support"}).status_code in (
        400,
        403,
    )
    done = client.post(
        f"{url}/view", data={"code": codes[0], "choice": "support", "csrf_token": CSRF}
    )
    assert done.status_code == 302 and "done=view" in done.headers["Location"]
    html = client.get(f"{url}?done=view").get_data(as_text=True)
    assert "已记录您的意见" in html
    assert re.search(r'data-view="support">1<', html)
    reused = client.post(
        f"{url}/view", data={"code": codes[0], "choice": "oppose", "csrf_token": CSRF}
    )
    assert reused.status_code == 409 and "该议事码已使用过" in reused.get_data(as_text=True)
    forged = client.post(
        f"{url}/view", data={"code": "ABCDEFGH23", "choice": "oppose", "csrf_token": CSRF}
    )
    assert forged.status_code == 403 and "议事码无效" in forged.get_data(as_text=True)
    assert codes[0] not in reused.get_data(as_text=True)  # the code is not echoed
    missing = client.post(f"{url}/view", data={"code": codes[1], "csrf_token": CSRF})
    assert missing.status_code == 422 and "请选择您的意见" in missing.get_data(as_text=True)
    posted = client.post(
        f"{url}/comment",
        data={"code": codes[1], "body": "建议留出消防通道", "name": "周杰", "csrf_token": CSRF},
    )
    assert posted.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "建议留出消防通道" in html and "周*" in html
    # English
    client.set_cookie("minqing_lang", "en")
    assert "Give your view" in client.get(url).get_data(as_text=True)


def test_unknown_topic_link(client: FlaskClient, world: World) -> None:
    assert client.get("/t/nope").status_code == 404


def test_the_board_shows_open_topics_decisions_and_notices(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic, _ = in_consultation(client, tokens, world)
    now = datetime.now(UTC)
    d = bearer(tokens["dispatcher"])
    for title, start, end in [
        ("本月党费收缴公示", now - timedelta(days=1), now + timedelta(days=6)),
        ("下月的公告", now + timedelta(days=3), now + timedelta(days=9)),
        ("过期的公告", now - timedelta(days=9), now - timedelta(days=1)),
    ]:
        ok(
            client.post(
                "/api/v1/notices",
                json={
                    "community_id": world.community_ids["A"],
                    "category": "party",
                    "title": title,
                    "body": "详见公示栏",
                    "published_from": start.isoformat(),
                    "published_until": end.isoformat(),
                },
                headers=d,
            ),
            201,
        )
    html = client.get("/board").get_data(as_text=True)
    assert "小区停车位划线" in html and f"/t/{topic['public_token']}" in html
    assert "[党务] 本月党费收缴公示" in html
    assert "下月的公告" not in html and "过期的公告" not in html
    assert "style=" not in html
