"""Deliberation in a real browser on a 360-px phone: a resident gives a view and comments
with a code in 群议, a reused code is refused, then evaluates in 评议; the board lists the
topic. Staff steps go through the API (there is no console page for topics yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import bearer
from flask.testing import FlaskClient
from helpers import A1, ok


def staff(
    client: FlaskClient, token: str, topic: dict[str, Any], action: str, **body: Any
) -> dict[str, Any]:
    body.setdefault("version", topic["version"])
    return ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/actions/{action}",
            json=body,
            headers=bearer(token),
        )
    )


def test_a_resident_takes_part_on_a_phone(
    phone_page: Any,
    client: FlaskClient,
    world: Any,
    tokens: dict[str, str],
    check_a11y: Any,
    screenshot: Any,
) -> None:
    d = tokens["dispatcher"]
    topic = ok(
        client.post(
            "/api/v1/deliberations",
            json={
                "community_id": world.community_ids["A"],
                "title": "安置小区加装电梯",
                "description": "5 幢老人多，希望加装电梯",
                "lon": A1[0],
                "lat": A1[1],
            },
            headers=bearer(d),
        ),
        201,
    )
    topic = staff(client, d, topic, "accept")
    week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    topic = staff(client, d, topic, "open_consultation", closes_at=week)
    codes = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/codes", json={"count": 2}, headers=bearer(d)
        ),
        201,
    )["codes"]
    page = phone_page
    page.goto(f"/t/{topic['public_token']}")
    check_a11y(page)
    page.locator("#view-form").get_by_label("议事码（见社区发放的议事卡）").fill(codes[0])
    page.get_by_label("支持").check()
    page.get_by_role("button", name="提交意见").click()
    page.get_by_text("已记录您的意见，谢谢！").wait_for()
    assert page.locator('[data-view="support"]').inner_text() == "1"
    # the same code again: refused in plain words
    page.locator("#view-form").get_by_label("议事码（见社区发放的议事卡）").fill(codes[0].lower())
    page.get_by_label("反对").check()
    page.get_by_role("button", name="提交意见").click()
    page.get_by_text("该议事码已使用过").wait_for()
    page.locator("#comment-form #f-comment-code").fill(codes[1])
    page.get_by_label("评论内容").fill("希望一楼住户的意见也被考虑")
    page.get_by_role("button", name="发表评论").click()
    page.get_by_text("希望一楼住户的意见也被考虑").wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(page)
    screenshot(page, "topic-consultation")
    # the council decides, implementation done (no case needed), residents evaluate
    topic = ok(client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(d)))
    topic = staff(client, d, topic, "close_consultation")
    topic = staff(
        client,
        d,
        topic,
        "decide",
        votes_for=9,
        votes_against=2,
        votes_abstain=0,
        minutes="同意加装",
    )
    topic = staff(client, d, topic, "complete", closes_at=week)
    page.goto(f"/t/{topic['public_token']}")
    assert page.locator("#topic-outcome").inner_text() == "通过"
    page.locator("#evaluation-form").get_by_label("议事码").fill(codes[0])
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交评议").click()
    page.get_by_text("已记录您的评议，谢谢！").wait_for()
    assert page.locator("#eval-score").inner_text() == "100.0"
    check_a11y(page)
    page.goto("/board")
    page.locator("#board-topics").get_by_role("link", name="安置小区加装电梯").first.wait_for()
