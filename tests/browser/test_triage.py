"""The dispatcher's day in Chromium: triage 20 new cases (today's flow against the new one,
in page loads and seconds), routing rules with auto-dispatch, keyboard shortcuts and the next
case, per-role views whose counts are links to exactly those cases, the live queue, the inbox
page; axe-core on each page."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import World, login
from flask import Flask
from helpers import B1, new_case, ok, report

FIGURES = Path(__file__).resolve().parents[2] / "artifacts" / "triage-figures.json"


def _tokens(app: Flask) -> dict[str, str]:
    client = app.test_client()
    return {
        name: login(client, name)
        for name in ("collector", "collector2", "dispatcher", "staff", "admin")
    }


def _loads(page: Any) -> list[str]:
    """Count the page's top-level document loads from now on."""
    seen: list[str] = []
    page.on(
        "framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None
    )
    return seen


def _statuses(app: Flask) -> dict[str, int]:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Case

    with app.app_context():
        rows = db.session.execute(select(Case.status, func.count()).group_by(Case.status)).all()
        db.session.remove()
    return dict(rows)  # type: ignore[arg-type]


def test_twenty_new_cases_today_against_bulk_accept_and_dispatch(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app)
    batch = [new_case(client, tokens, description=f"旧流程 {i}") for i in range(20)]
    login_as(page, "dispatcher")

    # Today's flow: open each case, accept it (confirm), back to the queue; then tick all
    # and dispatch them in bulk.
    loads = _loads(page)
    started = time.perf_counter()
    for case in batch:
        page.goto(f"/console/cases/{case['id']}")
        page.get_by_text("受理立案", exact=True).filter(visible=True).first.click()
        page.get_by_role("button", name="受理立案").click()
        page.wait_for_load_state()
    page.goto("/console/cases?status=accepted")
    page.locator("#select-all").check()
    page.get_by_label("派遣至单位").select_option(label="城管中队")
    page.get_by_role("button", name="派遣所选").click()
    assert "已派遣 20 个事项" in page.get_by_role("status").first.inner_text()
    old_seconds, old_loads = time.perf_counter() - started, len(loads)
    assert _statuses(app).get("dispatched") == 20

    # The new flow: the "new" view, tick all, accept and dispatch in one step.
    batch = [new_case(client, tokens, description=f"新流程 {i}") for i in range(20)]
    loads.clear()
    started = time.perf_counter()
    page.goto("/console/cases")
    page.get_by_role("link", name="新上报").click()
    assert page.locator("[data-view=new]").get_attribute("aria-current") == "true"
    page.locator("#select-all").check()
    page.get_by_label("派遣至单位").select_option(label="城管中队")
    page.get_by_role("button", name="受理并派遣").click()
    assert "已受理并派遣 20 个事项" in page.get_by_role("status").first.inner_text()
    new_seconds, new_loads = time.perf_counter() - started, len(loads)
    assert _statuses(app).get("dispatched") == 40
    check_a11y(page)
    screenshot(page, "triage-bulk")

    figures = {
        "cases": 20,
        "today": {"page_loads": old_loads, "seconds": round(old_seconds, 2)},
        "bulk_accept_and_dispatch": {"page_loads": new_loads, "seconds": round(new_seconds, 2)},
    }
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=1))
    print("\ntriage figures:", json.dumps(figures))
    assert new_loads <= 4 < old_loads
    assert new_seconds < old_seconds


def test_routing_rule_suggests_and_auto_dispatches_then_next_case_by_keyboard(
    app: Flask, world: World, page: Any, new_page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app)
    # the admin adds a rule: sanitation in community B → 城管中队, dispatched on accept
    admin = new_page()
    login_as(admin, "admin")
    admin.goto("/console/admin/routing")
    check_a11y(admin)
    admin.get_by_label("事项类别").select_option(label="环境卫生")
    admin.get_by_label("办理单位").select_option(label="城管中队")
    admin.get_by_label("限定社区（可选）").select_option(label="乙村")
    admin.get_by_label("受理即派遣").check()
    admin.get_by_role("button", name="添加规则").click()
    assert "已添加分派规则" in admin.get_by_role("status").first.inner_text()
    assert "城管中队" in admin.get_by_role("table").inner_text()
    check_a11y(admin)

    older = ok(report(client, tokens["collector2"], at=B1, description="B 区一"), 201)["case"]
    plain = new_case(client, tokens, description="A 区")  # no rule in community A
    newer = ok(report(client, tokens["collector2"], at=B1, description="B 区二"), 201)["case"]

    login_as(page, "dispatcher")
    page.goto("/console/cases?status=reported")
    row = page.locator(f"tr[data-case-id='{newer['id']}']")
    assert "建议: 城管中队 (自动)" in row.inner_text()
    # keyboard: j selects the first row (newest), Enter opens it
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/cases/{newer['id']}?list=status%3Dreported")
    check_a11y(page)
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="键盘快捷键").is_visible()
    page.keyboard.press("Escape")
    # a: accept (confirmed) → auto-dispatched by the rule → the next case of the filter opens
    page.keyboard.press("a")
    page.wait_for_url(f"**/console/cases/{plain['id']}?list=status%3Dreported")
    status_text = page.get_by_role("status").all_inner_texts()
    assert any("按分派规则已自动派遣至 城管中队" in s for s in status_text), status_text
    with app.app_context():
        from server.extensions import db
        from server.models import Case

        done = db.session.get(Case, newer["id"])
        assert done is not None and done.status == "dispatched"
        db.session.remove()
    # d: open the dispatch form of accept-and-dispatch with its unit picker focused
    page.keyboard.press("d")
    focused = page.evaluate("() => document.activeElement && document.activeElement.name")
    assert focused == "unit_id"
    # j on a case page: the next case
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("j")
    page.wait_for_url(f"**/console/cases/{older['id']}?list=status%3Dreported")
    # / focuses the search on the queue
    page.goto("/console/cases")
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.name") == "q"


def test_views_count_links_list_exactly_what_they_count_and_staff_see_their_unit(
    app: Flask, world: World, page: Any, new_page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app)
    for i in range(3):
        new_case(client, tokens, description=f"新 {i}")
    login_as(page, "dispatcher")
    page.goto("/console/cases")
    for key, label in (("new", "新上报"), ("overdue_now", "当前超期"), ("to_verify", "待核查")):
        link = page.locator(f"a[data-view={key}]")
        count = int(link.locator("[data-count]").inner_text())
        link.click()
        rows = page.locator("table[data-queue] tbody tr[data-case-id]").count()
        assert rows == count, (label, rows, count)
    assert page.locator("a[data-view=new] [data-count]").inner_text() == "3"
    page.goto("/console/cases?status=handled")  # the views count what they link to, unfiltered
    assert page.locator("a[data-view=new] [data-count]").inner_text() == "3"
    # the overdue badge is a link too, to the same cases as the view
    page.goto("/console/cases")
    href = page.get_by_role("link", name="当前超期: 0").get_attribute("href")
    assert href and "overdue=1" in href and "stage=handle" in href
    # save the current filter, and find it again
    page.goto("/console/cases?status=reported")
    page.get_by_label("保存当前筛选为").fill("今日新件")
    page.get_by_role("button", name="保存", exact=True).click()
    page.get_by_role("link", name="今日新件").click()
    assert "status=reported" in page.url
    check_a11y(page)
    # the grid picker searches by name: one match left is chosen
    page.get_by_label("按名称或编码找网格").fill("乙村")
    chosen = page.evaluate(
        "() => { const s = document.getElementById('f-grid');"
        " return s.options[s.selectedIndex].text; }"
    )
    assert chosen.startswith("乙村"), chosen

    staff = new_page()
    login_as(staff, "staff")
    staff.goto("/console/cases")
    assert staff.locator(".brand .sub").inner_text() == "本单位"
    for label in ("待签收", "办理中", "即将到期"):
        assert staff.get_by_role("link", name=label).is_visible()
    check_a11y(staff)


def test_live_queue_sees_a_case_reported_elsewhere_and_the_inbox_page(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app)
    new_case(client, tokens, description="先有的")
    login_as(page, "dispatcher")
    page.goto("/console/cases")
    badge = page.locator("a[data-view=new] [data-count]")
    assert badge.inner_text() == "1"
    page.wait_for_timeout(500)  # the first poll sets the baseline
    started = time.perf_counter()
    new_case(client, tokens, description="别处上报的")
    page.get_by_role("link", name="有新的事项，点击刷新").wait_for(state="visible", timeout=15_000)
    page.wait_for_function(
        "() => document.querySelector('a[data-view=new] [data-count]').textContent === '2'"
    )
    seen_after = time.perf_counter() - started
    print(f"\nlive queue: a new case seen after {seen_after:.1f} s")
    assert seen_after < 12
    # the header badge counts unread notifications (two case.reported ones)
    page.wait_for_function("() => document.querySelector('[data-unread]').textContent === '2'")
    page.get_by_role("link", name="消息").first.click()
    assert page.get_by_role("heading", name="消息").is_visible()
    check_a11y(page)
    assert page.get_by_role("button", name="标为已读", exact=True).count() == 2
    page.get_by_role("button", name="标为已读", exact=True).first.click()
    assert page.get_by_role("button", name="标为已读", exact=True).count() == 1
    page.get_by_role("button", name="全部标为已读").click()
    assert "已将 1 条消息标为已读" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("button", name="标为已读", exact=True).count() == 0
    check_a11y(page)
