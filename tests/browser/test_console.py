"""The dispatcher console in Chromium: the case loop's console half, refusals, screenshots,
accessibility on every console page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from conftest import World, login
from flask import Flask
from helpers import act, new_case, ok


def _photo(tmp_path: Path) -> Path:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 140, 60)).save(buf, "PNG")
    path = tmp_path / "result.png"
    path.write_bytes(buf.getvalue())
    return path


def _tokens(app: Flask, world: World) -> dict[str, str]:
    client = app.test_client()
    return {name: login(client, name) for name in ("collector", "dispatcher", "staff")}


def test_dispatcher_accepts_and_dispatches_then_staff_report_done(
    app: Flask,
    world: World,
    page: Any,
    new_page: Any,
    login_as: Any,
    screenshot: Any,
    check_a11y: Any,
    tmp_path: Path,
) -> None:
    client = app.test_client()
    tokens = _tokens(app, world)
    case = new_case(client, tokens)
    new_case(client, tokens, description="路灯不亮")  # a second, to see a queue

    login_as(page, "dispatcher")
    page.goto("/console/cases")
    assert page.get_by_role("heading", name="事项队列").is_visible()
    check_a11y(page)
    page.get_by_role("link", name=case["number"]).click()
    assert page.get_by_role("heading", name=case["number"]).is_visible()
    check_a11y(page)
    page.get_by_text("受理立案", exact=True).filter(visible=True).first.click()  # open the action
    page.locator("#accept-go-next").uncheck()  # stay on this case (default: the next one)
    page.get_by_role("button", name="受理立案").click()
    assert "已完成" in page.get_by_role("status").first.inner_text()
    assert "已立案" in page.get_by_role("heading", level=1).inner_text()

    page.goto("/console/cases")
    page.get_by_label(f"选择 {case['number']}").check()
    page.get_by_label("派遣至单位").select_option(label="城管中队")
    page.get_by_role("button", name="派遣所选").click()
    assert "已派遣 1 个事项" in page.get_by_role("status").first.inner_text()
    screenshot(page, "console-queue")

    staff = new_page()
    login_as(staff, "staff")
    staff.goto("/console/cases")
    assert staff.get_by_role("heading", name="本单位事项").is_visible()
    check_a11y(staff)
    staff.get_by_role("link", name=case["number"]).click()
    staff.get_by_text("签收", exact=True).filter(visible=True).first.click()
    staff.get_by_role("button", name="签收").click()
    assert "办理中" in staff.get_by_role("heading", level=1).inner_text()
    staff.get_by_text("办结反馈", exact=True).first.click()
    staff.get_by_label("办理结果").fill("已清运，现场恢复整洁")
    staff.get_by_label("照片（可多选）").set_input_files(str(_photo(tmp_path)))
    staff.get_by_role("button", name="办结反馈").click()
    assert "已办结待核查" in staff.get_by_role("heading", level=1).inner_text()
    image = staff.get_by_role("img", name="事项照片 1（办理结果）")
    assert image.is_visible()
    # a lazy image may still be loading on a busy machine: wait for it, then check it decoded
    staff.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=15_000
    )
    check_a11y(staff)

    page.goto(f"/console/cases/{case['id']}")
    timeline = page.get_by_role("region", name="办理过程").inner_text()
    for step in ("上报", "受理立案", "派遣", "签收", "办结反馈"):
        assert step in timeline
    screenshot(page, "console-case")


def test_stale_action_shows_the_case_as_it_is_now(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    tokens = _tokens(app, world)
    case = new_case(client, tokens)
    login_as(page, "dispatcher")
    page.goto(f"/console/cases/{case['id']}")
    ok(act(client, tokens["dispatcher"], case, "accept"))  # another dispatcher, meanwhile
    page.get_by_text("受理立案", exact=True).filter(visible=True).first.click()
    page.get_by_role("button", name="受理立案").click()
    # The case page as it is now, with the refusal on top (server/web/forms.py show_refused).
    assert "事项已被他人修改" in page.get_by_role("alert").inner_text()
    check_a11y(page)
    assert "已立案" in page.get_by_role("heading", level=1).inner_text()


def test_collector_opening_another_grids_case_is_refused(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    client = app.test_client()
    case = new_case(client, _tokens(app, world))  # grid A1
    login_as(page, "collector2")  # grid B1
    response = page.goto(f"/console/cases/{case['id']}")
    assert response.status == 404
    assert "事项不存在" in page.get_by_role("alert").inner_text()
    check_a11y(page)


def test_post_without_csrf_is_refused_page(
    world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    login_as(page, "dispatcher")
    page.goto("/console/cases")
    # A form from elsewhere: same fields, no token.
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post';
                   f.action = '/logout'; document.body.appendChild(f); f.submit(); }"""
    )
    page.wait_for_load_state()
    assert "表单已过期或并非来自本站" in page.get_by_role("alert").inner_text()
    check_a11y(page)
    page.goto("/console/cases")
    assert "/console/cases" in page.url  # still signed in


def test_map_and_kpis(
    app: Flask,
    world: World,
    page: Any,
    phone_page: Any,
    login_as: Any,
    screenshot: Any,
    check_a11y: Any,
) -> None:
    client = app.test_client()
    case = new_case(client, _tokens(app, world))
    login_as(page, "dispatcher")
    page.goto("/console/map?colour=cases")
    check_a11y(page)
    screenshot(page, "console-map")
    page.locator("#grid-map[data-ready='1']").wait_for()
    page.get_by_role("button", name=case["number"]).click()  # the case's pin: a popup
    page.locator(".mq-popup").get_by_role("link", name=case["number"]).click()
    page.wait_for_url("**/console/cases/*")
    assert page.get_by_role("heading", name=case["number"]).is_visible()

    page.goto("/console/kpis")
    page.locator("#chart-rates .multiple svg").first.wait_for()  # one small chart per rate
    check_a11y(page)
    table = page.locator("#kpi-table").inner_text()
    assert "合计" in table
    screenshot(page, "console-kpis")

    login_as(phone_page, "dispatcher")
    phone_page.goto("/console/cases")
    width = phone_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the queue scrolls sideways on a phone: {width}px"
    check_a11y(phone_page)
    screenshot(phone_page, "console-queue-phone")


def test_admin_pages_are_accessible(
    world: World, page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    login_as(page, "cityadmin")
    for path in (
        "/console/admin",
        "/console/admin/people",
        "/console/admin/devices",
        "/console/admin/categories",
    ):
        page.goto(path)
        check_a11y(page)
    page.goto("/console/admin/devices")
    page.get_by_label("民情收集员").select_option(label="测试collector (collector)")
    page.get_by_role("button", name="签发并生成二维码").click()
    qr = page.get_by_role("img", name="设备配置二维码")
    assert qr.is_visible()
    check_a11y(page)
    page.get_by_role("button", name="停用 测试collector 的手机").click()
    assert "已停用" in page.get_by_role("status").first.inner_text()
    screenshot(page, "console-admin-devices")
