"""Residents kept informed, in Chromium: a resident who lost the link finds the case by its
number and the last four digits (refused past the limit), copies the link; the handling unit
sees the caller's phone only with consent, and the navigation links; axe-core on each page."""

from __future__ import annotations

from typing import Any

from conftest import World, login
from flask import Flask
from helpers import A1, act, ok


def _resident_case(client: Any, consent: bool) -> dict[str, Any]:
    body = {
        "category": "sanitation",
        "description": "井盖缺失",
        "lon": A1[0],
        "lat": A1[1],
        "reporter_phone": "13912345678",
        "phone_consent": consent,
    }
    return ok(client.post("/api/v1/cases", json=body), 201)["case"]  # type: ignore[no-any-return]


def test_lookup_then_copy_the_link_and_refusal_past_the_limit(
    app: Flask, world: World, phone_page: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    case = _resident_case(client, False)
    page = phone_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/report")
    page.get_by_role("link", name="查询我的事项").click()
    assert page.get_by_role("heading", name="查询我的事项").is_visible()
    check_a11y(page)
    page.get_by_label("事项编号").fill(case["number"])
    page.get_by_label("手机号后四位").fill("5678")
    page.get_by_role("button", name="查询").click()
    assert case["number"] in page.get_by_role("heading", level=1).inner_text()
    link = page.url
    assert "/r/" in link
    page.get_by_role("button", name="复制链接").click()
    page.get_by_text("已复制链接").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    check_a11y(page)

    limit = int(app.config["CASE_LOOKUPS_PER_HOUR"])
    for _ in range(limit - 1):  # one was used above
        page.goto("/lookup")
        page.get_by_label("事项编号").fill(case["number"])
        page.get_by_label("手机号后四位").fill("0000")
        page.get_by_role("button", name="查询").click()
        assert "没有找到" in page.get_by_role("alert").inner_text()
    page.goto("/lookup")
    page.get_by_label("事项编号").fill(case["number"])
    page.get_by_label("手机号后四位").fill("5678")  # right this time, but too many tries
    response_status = []
    page.on("response", lambda r: response_status.append(r.status) if "/lookup" in r.url else None)
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    assert "查询过于频繁" in page.get_by_role("alert").inner_text()
    assert 429 in response_status
    assert "/r/" not in page.url
    check_a11y(page)


def test_the_unit_sees_the_phone_with_consent_and_navigation_links(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    tokens = {n: login(client, n) for n in ("dispatcher",)}
    shown = {}
    for consent in (True, False):
        case = _resident_case(client, consent)
        case = ok(act(client, tokens["dispatcher"], case, "accept"))
        ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
        shown[consent] = case
    login_as(page, "staff")
    page.goto(f"/console/cases/{shown[True]['id']}")
    assert page.get_by_role("link", name="13912345678").get_attribute("href") == "tel:13912345678"
    assert page.locator("a[data-nav=geo]").get_attribute("href").startswith("geo:")
    for key in ("amap", "baidu", "tencent"):
        assert page.locator(f"a[data-nav={key}]").get_attribute("href").startswith("https://")
    check_a11y(page)
    page.goto(f"/console/cases/{shown[False]['id']}")
    details = page.get_by_role("region", name="事项详情").inner_text()
    assert "139****5678" in details and "13912345678" not in details
    assert page.get_by_role("link", name="13912345678").count() == 0
