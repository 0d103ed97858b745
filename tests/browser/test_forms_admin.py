"""Issue 18 in Chromium: refused forms come back filled in (errors by their field's label, no
raw hashes), reloads after a creating POST create nothing, the admin's tools (grid picker by
name, disable / re-enable, password reset), HTML 404/405 pages, the icons; axe-core and the
360-px checks on the new pages."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from conftest import World, bearer, login
from factories import LAT0, LON0, STEP
from flask import Flask
from helpers import act, dispatched, ok

PHONE_WIDTH = 360


def _png(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "PNG")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


def _count(app: Flask, model: str, **where: Any) -> int:
    from sqlalchemy import func, select

    from server import models
    from server.extensions import db

    cls = getattr(models, model)
    with app.app_context():
        stmt = select(func.count()).select_from(cls)
        for key, value in where.items():
            stmt = stmt.where(getattr(cls, key) == value)
        n = int(db.session.scalar(stmt) or 0)
        db.session.remove()
        return n


def _fits_phone(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} scrolls sideways on a phone: {width}px"


def test_person_form_refused_then_resubmitted_and_reload_creates_nothing(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    login_as(page, "admin")
    page.goto("/console/admin/people")
    page.get_by_text("新建账号", exact=True).click()
    page.get_by_label("用户名").fill("staff")  # taken
    page.get_by_label("姓名").fill("王小明")
    page.get_by_label("初始密码").fill("temporary-pass-1")
    page.get_by_label("电话").fill("13900001111")
    page.get_by_label("角色").select_option("unit_staff")
    page.get_by_label("办理单位（办理单位人员必填）").select_option(label="城管中队")
    page.get_by_role("button", name="创建").click()

    # The same page, the form open and filled in, the error under its field by its label.
    alert = page.get_by_role("alert").inner_text()
    assert "用户名" in alert and "staff" in alert and "username" not in alert
    error = page.locator(".field-error")
    assert error.inner_text().startswith("用户名")
    assert page.get_by_label("用户名").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("姓名").input_value() == "王小明"
    assert page.get_by_label("电话").input_value() == "13900001111"
    assert page.get_by_label("角色").input_value() == "unit_staff"
    assert page.get_by_label("初始密码").input_value() == ""  # never echoed back
    check_a11y(page)
    screenshot(page, "admin-people-refused")

    before = _count(app, "User")
    page.get_by_label("用户名").fill("wangxm")
    page.get_by_label("初始密码").fill("temporary-pass-1")
    page.get_by_role("button", name="创建").click()
    assert "已创建账号 wangxm" in page.get_by_role("status").first.inner_text()
    assert _count(app, "User") == before + 1
    page.reload()  # a GET (POST → redirect → GET): nothing created again
    assert _count(app, "User") == before + 1


def test_device_issue_reload_issues_nothing(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    login_as(page, "admin")
    page.goto("/console/admin/devices")
    page.get_by_label("民情收集员").select_option(label="测试collector (collector)")
    page.get_by_label("设备名称（可选）").fill("巡查一号机")
    before = _count(app, "Device")
    page.get_by_role("button", name="签发并生成二维码").click()
    assert page.get_by_role("img", name="设备配置二维码").is_visible()
    assert _count(app, "Device") == before + 1
    page.reload()  # re-POSTs the same form (and its one-time key)
    assert page.locator(".flash.warn").filter(has_text="已经提交过").count() == 1
    assert _count(app, "Device") == before + 1
    table = page.get_by_role("table").inner_text()
    assert "签发时间" in table and "应用版本" in table
    assert page.get_by_role("row", name=re.compile("巡查一号机")).count() == 1
    page.get_by_role("link", name=re.compile("签发时间")).click()
    assert "sort=issued" in page.url
    check_a11y(page)


def test_report_done_refused_photo_keeps_the_result_and_asks_for_the_photo_again(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any, tmp_path: Path
) -> None:
    client = app.test_client()
    tokens = {name: login(client, name) for name in ("collector", "dispatcher", "staff")}
    case = dispatched(client, tokens, world)
    ok(act(client, tokens["staff"], case, "acknowledge"))
    theirs = _png(tmp_path, "theirs.png", (200, 30, 30))
    uploaded = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(theirs.read_bytes()), "theirs.png")},
        headers=bearer(tokens["collector"]),
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.get_data(as_text=True)
    sha = uploaded.get_json()["sha256"]

    login_as(page, "staff")
    page.goto(f"/console/cases/{case['id']}")
    page.get_by_text("办结反馈", exact=True).first.click()
    page.get_by_label("办理结果").fill("已清运，现场恢复整洁")
    page.get_by_label("照片（可多选）").set_input_files(str(theirs))
    page.get_by_role("button", name="办结反馈").click()

    alert = page.get_by_role("alert").inner_text()
    assert "照片" in alert and "photos" not in alert and sha not in alert
    assert sha[:16] not in page.content()
    assert page.get_by_label("办理结果").input_value() == "已清运，现场恢复整洁"
    photos = page.get_by_label("照片（可多选）")
    assert photos.get_attribute("aria-invalid") == "true"
    assert "请重新选择文件" in page.locator(".field-error.again").inner_text()
    check_a11y(page)

    # Refused for another field: the photo already stored is kept and sent again.
    page.get_by_label("照片（可多选）").set_input_files(str(_png(tmp_path, "mine.png", (9, 99, 9))))
    page.get_by_label("办理结果").fill("太长" * 2001)
    page.get_by_role("button", name="办结反馈").click()
    assert "办理结果" in page.locator(".field-error").first.inner_text()
    assert "已保留上次选择的 1 张照片" in page.locator(".kept").inner_text()
    page.get_by_label("办理结果").fill("已清运，现场恢复整洁")
    page.get_by_role("button", name="办结反馈").click()
    assert "已办结待核查" in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_role("img", name="事项照片 1（办理结果）").is_visible()


def test_extension_refused_keeps_the_reason(
    app: Flask, world: World, page: Any, login_as: Any, tmp_path: Path
) -> None:
    client = app.test_client()
    tokens = {name: login(client, name) for name in ("collector", "dispatcher", "staff")}
    case = dispatched(client, tokens, world)
    ok(act(client, tokens["staff"], case, "acknowledge"))
    login_as(page, "staff")
    page.goto(f"/console/cases/{case['id']}")
    page.get_by_text("申请延期", exact=True).first.click()
    page.locator("#request_extension-reason").fill("需协调物业，材料未到")
    page.get_by_label("新的期限").fill("2020-01-01T09:00")  # before the current deadline
    page.get_by_role("button", name="申请延期").click()
    page.locator(".field-error").wait_for()  # the answer page, not the form still on screen
    assert page.locator("#request_extension-reason").input_value() == "需协调物业，材料未到"
    assert "期限" in page.locator(".field-error").inner_text()
    assert "deadline" not in page.get_by_role("alert").inner_text()

    page.get_by_label("新的期限").fill("2099-01-01T09:00")
    page.get_by_role("button", name="申请延期").click()
    assert "已完成" in page.get_by_role("status").first.inner_text()


def test_admin_assigns_grids_by_name(
    app: Flask, world: World, page: Any, phone_page: Any, login_as: Any, check_a11y: Any
) -> None:
    login_as(page, "admin")
    page.goto("/console/admin")
    page.get_by_label("按社区、网格名称或编码查找").fill("乙村")
    page.get_by_role("button", name="查找").click()
    rows = page.get_by_role("table").inner_text()
    assert "乙村第1网格" in rows and "甲社区第1网格" not in rows
    check_a11y(page)

    page.goto("/console/admin/people")
    page.get_by_role("link", name="分配网格 collector", exact=True).click()
    assert page.get_by_label("甲社区 · 甲社区第1网格").is_checked()
    page.get_by_label("按社区或网格名称查找").fill("乙村")
    page.get_by_role("button", name="查找").click()
    page.get_by_label("乙村 · 乙村第1网格").check()
    check_a11y(page)
    page.get_by_role("button", name="保存网格").click()
    assert "已分配网格：2 个" in page.get_by_role("status").first.inner_text()
    assert page.get_by_label("乙村 · 乙村第1网格").is_checked()
    assert _count(app, "CollectorGrid", collector_id=world.user_ids["collector"]) == 2

    page.get_by_label("甲社区 · 甲社区第1网格").uncheck()
    page.get_by_role("button", name="保存网格").click()
    assert _count(app, "CollectorGrid", collector_id=world.user_ids["collector"]) == 1

    login_as(phone_page, "admin")
    for path in (
        f"/console/admin/people/{world.user_ids['collector']}/grids?q=甲社区",
        "/console/admin/holidays",
        "/console/admin/people",
        "/console/admin/devices",
        "/console/admin?q=甲社区",
        "/account/password",
    ):
        phone_page.goto(path)
        _fits_phone(phone_page)
        check_a11y(phone_page)


def tap(page: Any, box: str, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) is drawn (WGS84: no tiles configured)."""
    page.locator(box).evaluate("el => el.scrollIntoView({block: 'center'})")
    x, y = page.evaluate(
        """([box, lat, lon]) => { const m = document.querySelector(box).minqingMap.map;
             const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }""",
        [box, lat, lon],
    )
    where = page.locator(box).bounding_box()
    page.mouse.click(where["x"] + x, where["y"] + y)


def test_admin_picks_grids_on_the_map(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any
) -> None:
    login_as(page, "admin")
    page.goto(f"/console/admin/people/{world.user_ids['collector']}/grids")
    page.locator("#grid-map[data-ready='1']").wait_for()
    status = page.locator("#map-pick-status")
    tap(page, "#grid-map", LON0 + 1.5 * STEP, LAT0 + 0.5 * STEP)  # inside 甲社区第2网格
    picked = page.get_by_label("甲社区 · 甲社区第2网格")
    picked.wait_for()
    assert picked.is_checked()
    assert status.inner_text() == "已选中：甲社区 · 甲社区第2网格"
    tap(page, "#grid-map", LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP)  # the one held already
    page.wait_for_function(
        "() => document.getElementById('map-pick-status').textContent.startsWith('已在列表中')"
    )
    assert status.inner_text() == "已在列表中：甲社区 · 甲社区第1网格"
    assert page.locator("#map-picked input[type=checkbox]").count() == 1  # listed once
    check_a11y(page)
    page.get_by_role("button", name="保存网格").click()
    assert "已分配网格：2 个" in page.get_by_role("status").first.inner_text()
    assert _count(app, "CollectorGrid", collector_id=world.user_ids["collector"]) == 2
    assert page.get_by_label("甲社区 · 甲社区第2网格").is_checked()  # now among those held


def test_disabled_users_open_session_stops_and_reset_password_must_be_changed(
    app: Flask, world: World, page: Any, new_page: Any, login_as: Any, check_a11y: Any
) -> None:
    staff = new_page()
    login_as(staff, "staff")
    staff.goto("/console/cases")
    assert staff.get_by_role("heading", name="本单位事项").is_visible()

    login_as(page, "admin")
    page.goto("/console/admin/people")
    check_a11y(page)
    page.get_by_role("button", name="停用 staff").click()
    assert "账号已停用" in page.get_by_role("status").first.inner_text()
    staff.reload()
    assert "/login" in staff.url  # the open session ended at once

    page.get_by_role("button", name="启用 staff").click()
    assert "账号已启用" in page.get_by_role("status").first.inner_text()
    login_as(staff, "staff")  # may sign in again

    page.get_by_text("重置密码 staff").click()
    page.get_by_label("临时密码 · staff").fill("short")
    page.evaluate(
        "() => document.querySelectorAll('[minlength]')"
        ".forEach(e => e.removeAttribute('minlength'))"
    )
    page.get_by_role("button", name="重置密码", exact=True).click()
    assert "临时密码" in page.locator(".field-error").inner_text()
    assert "至少 8 个字符" in page.locator(".field-error").inner_text()
    page.get_by_label("临时密码 · staff").fill("Temp-pass-2026")
    page.get_by_role("button", name="重置密码", exact=True).click()
    assert "已重置密码" in page.get_by_role("status").first.inner_text()
    staff.reload()
    assert "/login" in staff.url

    login_as(staff, "staff", "Temp-pass-2026")
    assert "/account/password" in staff.url
    staff.goto("/console/cases")
    assert "/account/password" in staff.url  # nothing else until it is changed
    check_a11y(staff)
    staff.locator("#f-current_password").fill("Temp-pass-2026")
    staff.locator("#f-new_password").fill("my-own-pass-99")
    staff.locator("#f-new_password2").fill("my-own-pass-98")
    staff.get_by_role("button", name="修改密码").click()
    assert "两次输入的新密码不一致" in staff.locator(".field-error").inner_text()
    staff.locator("#f-current_password").fill("Temp-pass-2026")
    staff.locator("#f-new_password").fill("my-own-pass-99")
    staff.locator("#f-new_password2").fill("my-own-pass-99")
    staff.get_by_role("button", name="修改密码").click()
    assert "密码已修改" in staff.get_by_role("status").first.inner_text()
    assert "/console/cases" in staff.url


def test_holiday_page_loads_a_year_and_refuses_a_bad_file(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any, tmp_path: Path
) -> None:
    login_as(page, "cityadmin")
    page.goto("/console/admin/holidays")
    check_a11y(page)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "years": {
                    "2031": {"holidays": ["2029-01-01"], "workdays": ["2031-09-29"], "source": "x"}
                }
            },
            indent=2,
        )
    )
    page.locator("#f-holidays").set_input_files(str(bad))
    page.get_by_role("button", name="导入").click()
    error = page.locator(".field-error").first.inner_text()
    assert error.startswith("节假日文件") and "2 处错误" in error
    report = page.locator("table.holiday-report").inner_text()
    assert "第 5 行，2031.holidays: 2029-01-01 不属于 2031 年" in report
    assert "line 8, 2031.workdays: 2031-09-29 make-up workday is not a Saturday or Sunday" in report
    check_a11y(page)
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "years": {
                    "2031": {
                        "holidays": ["2031-01-01"],
                        "workdays": [],
                        "source": "国办发明电〔2030〕测试号",
                    }
                }
            }
        )
    )
    page.locator("#f-holidays").set_input_files(str(good))
    page.get_by_role("button", name="导入").click()
    assert "已导入 2031 年节假日" in page.get_by_role("status").first.inner_text()
    assert "国办发明电〔2030〕测试号" in page.get_by_role("table").inner_text()


def test_unrouted_pages_are_html_and_fit_a_phone(
    world: World, phone_page: Any, login_as: Any, check_a11y: Any
) -> None:
    response = phone_page.goto("/console/nope")
    assert response.status == 404
    assert "text/html" in response.headers["content-type"]
    assert "页面或事项不存在" in phone_page.get_by_role("heading", level=1).inner_text()
    _fits_phone(phone_page)
    check_a11y(phone_page)
    response = phone_page.goto("/logout")  # POST only
    assert response.status == 405
    assert "不支持此操作" in phone_page.get_by_role("heading", level=1).inner_text()
    api = phone_page.request.get("/api/v1/nope")
    assert api.status == 404 and api.json()["code"] == "not_found"
    icon = phone_page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
