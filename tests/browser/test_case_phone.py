"""The case page on a phone: the actions the signed-in role may take now are above the fold
(the 主要操作 bar) and work; at desktop width the usual two columns without the bar; on paper
(交办单) no bar."""

from __future__ import annotations

from typing import Any

from conftest import World, login
from flask import Flask
from helpers import dispatched, new_case

SMALL_PHONE = {"width": 375, "height": 667}
TALL_PHONE = {"width": 390, "height": 844}


def _tokens(app: Flask) -> dict[str, str]:
    client = app.test_client()
    return {name: login(client, name) for name in ("collector", "dispatcher", "staff")}


def _status(app: Flask, case_id: str) -> str:
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        status = db.session.get(Case, case_id).status
        db.session.remove()
    return str(status)


def _above_the_fold(page: Any, selector: str) -> dict[str, float]:
    """The element's box, asserted whole within the first viewport height (not scrolled)."""
    assert page.evaluate("() => window.scrollY") == 0
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    height = page.viewport_size["height"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (
        f"{selector} at y={box['y']:.0f}+{box['height']:.0f}, below the fold ({height} px)"
    )
    return box


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"sideways scroll: {width} px"


def test_dispatcher_on_a_phone_accepts_then_dispatches_from_the_bar(
    app: Flask, world: World, new_page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    client = app.test_client()
    case = new_case(client, _tokens(app), description="楼道堆物，影响通行" * 6)
    page = new_page(SMALL_PHONE)
    login_as(page, "dispatcher")
    page.goto(f"/console/cases/{case['id']}")
    bar = page.locator("[data-main-actions]")
    assert bar.is_visible()
    assert bar.get_by_role("heading", name="主要操作").is_visible()
    _above_the_fold(page, "button[data-quick-action=accept]")
    _above_the_fold(page, "button[data-quick-action=accept_dispatch]")
    # the bar comes before the details; the full forms are still on the page, a jump away
    assert page.evaluate(
        "() => document.querySelector('[data-main-actions]').compareDocumentPosition("
        "document.getElementById('h-details')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert bar.get_by_role("link", name="全部操作").get_attribute("href") == "#h-actions"
    _no_sideways_scroll(page)
    check_a11y(page)
    screenshot(page, "console-case-phone-dispatcher", full_page=False)

    bar.get_by_role("button", name="受理立案").click()
    page.wait_for_load_state()
    assert "已完成：受理立案" in page.get_by_role("status").first.inner_text()
    assert _status(app, case["id"]) == "accepted"

    # accepted: dispatch from the bar, its unit picker beside the button
    _above_the_fold(page, "button[data-quick-action=dispatch]")
    _above_the_fold(page, "#quick-dispatch-unit_id")
    bar.get_by_label("派往单位").select_option(label="城管中队")
    bar.get_by_role("button", name="派遣").click()
    page.wait_for_load_state()
    assert _status(app, case["id"]) == "dispatched"
    check_a11y(page)


def test_unit_staff_on_a_phone_acknowledge_then_jump_to_report_done(
    app: Flask, world: World, new_page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    client = app.test_client()
    case = dispatched(client, _tokens(app), world)
    for viewport in (SMALL_PHONE, TALL_PHONE):
        page = new_page(viewport)
        login_as(page, "staff")
        page.goto(f"/console/cases/{case['id']}")
        _above_the_fold(page, "button[data-quick-action=acknowledge]")
        _no_sideways_scroll(page)
        check_a11y(page)
    screenshot(page, "console-case-phone-staff", full_page=False)
    # in English too (longer words): still above the fold, no sideways scroll
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Main actions").is_visible()
    _above_the_fold(page, "button[data-quick-action=acknowledge]")
    _no_sideways_scroll(page)
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()

    page.locator("[data-main-actions]").get_by_role("button", name="签收").click()
    page.wait_for_load_state()
    assert _status(app, case["id"]) == "in_progress"

    # in progress: 办结反馈 needs a result, so the bar jumps to its full form (opened)
    jump = page.locator("a[data-jump=report_done]")
    _above_the_fold(page, "a[data-jump=report_done]")
    jump.click()
    form = page.locator("#act-report_done")
    form.get_by_label("办理结果").fill("已清理楼道堆物")
    form.get_by_role("button", name="办结反馈").click()
    page.wait_for_load_state()
    assert _status(app, case["id"]) == "handled"
    check_a11y(page)


def test_desktop_keeps_two_columns_without_the_bar_and_paper_without_it(
    app: Flask, world: World, page: Any, login_as: Any
) -> None:
    client = app.test_client()
    case = new_case(client, _tokens(app))
    login_as(page, "dispatcher")
    page.goto(f"/console/cases/{case['id']}")
    assert page.locator("[data-main-actions]").count() == 1
    assert not page.locator("[data-main-actions]").is_visible()
    details = page.locator("#h-details").bounding_box()
    actions = page.locator("#h-actions").bounding_box()
    assert details is not None and actions is not None
    # the action panel beside the details, at the same height
    assert actions["x"] > details["x"] + details["width"]
    assert abs(actions["y"] - details["y"]) < 5
    page.get_by_text("受理立案", exact=True).filter(visible=True).click()  # open the form
    assert page.get_by_role("button", name="受理立案").is_visible()

    # on paper (交办单): no bar at any width
    for viewport in (SMALL_PHONE, {"width": 1280, "height": 860}):
        page.set_viewport_size(viewport)
        page.emulate_media(media="print")
        assert not page.locator("[data-main-actions]").is_visible()
        assert page.locator(".signatures").is_visible()
        page.emulate_media(media="screen")
    page.set_viewport_size(SMALL_PHONE)
    assert page.locator("[data-main-actions]").is_visible()


def test_from_the_queue_the_bar_goes_on_to_the_next_case(
    app: Flask, world: World, new_page: Any, login_as: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app)
    older = new_case(client, tokens, description="先报的")
    newer = new_case(client, tokens, description="后报的")
    page = new_page(SMALL_PHONE)
    login_as(page, "dispatcher")
    page.goto(f"/console/cases/{newer['id']}?list=status%3Dreported")
    _above_the_fold(page, "button[data-quick-action=accept]")
    page.locator("[data-main-actions]").get_by_role("button", name="受理立案").click()
    # like the full form's default for triage actions: the next case of the same filter
    page.wait_for_url(f"**/console/cases/{older['id']}?list=status%3Dreported")
    assert _status(app, newer["id"]) == "accepted"
    assert _status(app, older["id"]) == "reported"
