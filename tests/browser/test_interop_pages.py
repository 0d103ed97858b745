"""Interop console pages in Chromium: an admin issues, limits and revokes an Open311 key (and the
key works, then stops working, against /open311/v2); a dispatcher uploads a 12345 sheet, reads
the validation report, confirms, and re-uploads it to be told nothing changes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from conftest import World
from flask import Flask
from helpers import A1, B1
from openpyxl import Workbook


def test_open311_keys_page(
    app: Flask, world: World, page: Any, login_as: Any, check_a11y: Any, screenshot: Any
) -> None:
    login_as(page, "admin")
    page.goto("/console/admin")
    page.get_by_role("link", name="Open311 密钥").click()
    assert page.url.endswith("/console/admin/open311")
    check_a11y(page)
    page.get_by_label("应用名称").fill("随手拍 App")
    page.get_by_label("每小时请求上限").fill("120")
    page.get_by_role("button", name="签发密钥").click()
    key = page.get_by_label("api_key").input_value()
    assert key.startswith("mq311_") and len(key) > 30
    row = page.locator("tr", has_text="随手拍 App")
    assert key[:12] in row.inner_text()
    assert row.get_by_label("每小时上限 随手拍 App").input_value() == "120"
    check_a11y(page)
    screenshot(page, "console-admin-open311")

    client = app.test_client()
    filed = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "jurisdiction_id": "321002901",
            "service_code": "sanitation",
            "lat": A1[1],
            "long": A1[0],
        },
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Case

    with app.app_context():
        case = db.session.scalar(
            select(Case).where(Case.number == filed.get_json()[0]["service_request_id"])
        )
        assert case is not None and case.channel == "open311" and case.source == "resident"

    # the key is never shown again; the list says how many requests it filed
    page.goto("/console/admin/open311")
    assert page.get_by_label("api_key").count() == 0
    row = page.locator("tr", has_text="随手拍 App")
    assert row.locator("td").nth(2).inner_text() == "1"
    row.get_by_label("每小时上限 随手拍 App").fill("5")
    row.get_by_role("button", name="保存").click()
    assert "每小时 5 次" in page.get_by_role("status").first.inner_text()
    assert (
        page.locator("tr", has_text="随手拍 App")
        .get_by_label("每小时上限 随手拍 App")
        .input_value()
        == "5"
    )

    page.get_by_role("button", name="吊销 随手拍 App").click()
    assert "已吊销" in page.get_by_role("status").first.inner_text()
    assert "已吊销" in page.locator("tr", has_text="随手拍 App").inner_text()
    refused = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "jurisdiction_id": "321002901",
            "service_code": "sanitation",
            "lat": A1[1],
            "long": A1[0],
        },
    )
    assert refused.status_code == 403

    # not for dispatchers
    other = page.context.browser.new_context(base_url=page.url.split("/console")[0])
    try:
        p2 = other.new_page()
        login_as(p2, "dispatcher")
        response = p2.goto("/console/admin/open311")
        assert response is not None and response.status == 403
    finally:
        other.close()


def _sheet(tmp_path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["工单编号", "来电时间", "诉求类型", "诉求内容", "联系电话", "坐标"])
    sheet.append(
        ["W-1", "2026-12-03 08:00", "环境卫生", "垃圾堆积", "13900000000", f"{A1[0]},{A1[1]}"]
    )
    sheet.append(["W-2", "2026-12-03 08:10", "环境卫生", "路面破损", "", f"{B1[0]},{B1[1]}"])
    sheet.append(["W-3", "2026-12-03 08:20", "噪音", "夜间施工", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "12345.xlsx"
    path.write_bytes(buffer.getvalue())
    return path


def test_hotline_import_page(
    world: World, page: Any, login_as: Any, check_a11y: Any, screenshot: Any, tmp_path: Path
) -> None:
    path = _sheet(tmp_path)
    login_as(page, "dispatcher")
    page.get_by_role("link", name="12345 工单").click()
    check_a11y(page)
    page.get_by_label("工单文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并校验").click()
    problems = page.locator("#problems tbody tr")
    # row 4: an unknown category (no coordinates alone would make it unlocated, not refused)
    assert problems.count() == 1
    text = page.locator("#problems").inner_text()
    assert "unknown_category" in text and "噪音" in text and "not_located" not in text
    assert page.get_by_role("button", name="确认导入 2 条").count() == 0  # bad rows: no import
    check_a11y(page)

    page.get_by_label("工单文件").set_input_files(str(path))
    page.get_by_label("跳过有误的行").check()
    page.get_by_role("button", name="上传并校验").click()
    assert page.locator("[data-k=new]").inner_text() == "2"
    page.get_by_role("button", name="确认导入 2 条").click()
    status = page.get_by_role("status").first.inner_text()
    assert "已导入 2 条工单" in status and "跳过 1 行" in status
    assert page.locator("#created tbody tr").count() == 2
    screenshot(page, "console-hotline-import")

    page.get_by_label("工单文件").set_input_files(str(path))
    page.get_by_label("跳过有误的行").check()
    page.get_by_role("button", name="上传并校验").click()
    assert page.locator("[data-k=new]").inner_text() == "0"
    assert page.locator("[data-k=unchanged]").inner_text() == "2"
    assert page.get_by_role("button", name="确认导入").count() == 0

    with page.expect_download() as download:
        page.get_by_role("button", name="下载 Excel").click()
    assert download.value.suggested_filename.startswith("minqing-12345-replies-")
    saved = tmp_path / "reply.xlsx"
    download.value.save_as(str(saved))
    from openpyxl import load_workbook

    rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == ["W-1", "W-2"]
