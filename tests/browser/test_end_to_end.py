"""The whole case loop through the pages, in Chromium against the real server: a resident
reports on a phone, the dispatcher accepts and dispatches from the queue, unit staff report
it done with a photo, the collector verifies it on site, the resident rates it 满意 through
their link, and the dispatcher sees it closed and counted on the KPI dashboard."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

from conftest import TEST_PASSWORD
from flask.testing import FlaskClient
from helpers import A1, B1, ok, report
from PIL import Image

PHONE = {"width": 360, "height": 740}


def loaded_width(locator: Any) -> int:
    """The image's natural width once the browser has loaded it (0: it failed)."""
    locator.evaluate(
        """img => img.complete ? null : new Promise(done => {
               img.addEventListener('load', done); img.addEventListener('error', done); })"""
    )
    return int(locator.evaluate("img => img.naturalWidth"))


def png_file(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = folder / name
    out = BytesIO()
    Image.new("RGB", (96, 64), colour).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def kpi_total(page: Any, label: str) -> str:
    """The dashboard's total row, in the column headed `label`."""
    headers = page.locator("#kpi-table thead th").all_inner_texts()
    column = headers.index(label)
    cells = page.locator("#kpi-table tbody tr.total > *").all_inner_texts()
    return str(cells[column]).strip()


def test_case_loop_through_the_pages(
    page: Any,
    new_page: Any,
    live_server: Any,
    world: Any,
    tmp_path: Path,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    # 1. A resident reports a problem on a phone, with its location and a photo.
    resident = new_page(PHONE)
    resident.context.grant_permissions(["geolocation"], origin=live_server.url)
    resident.context.set_geolocation({"longitude": A1[0], "latitude": A1[1], "accuracy": 10})
    resident.goto("/report")
    resident.get_by_label("问题类别").select_option("sanitation")
    resident.get_by_label("问题描述").fill("幸福路口垃圾桶满溢，气味很大")
    resident.get_by_role("button", name="使用我现在的位置").click()
    resident.get_by_text("位置：甲社区 · 甲社区第1网格").wait_for()  # located, then named
    resident.get_by_label("照片（可不传）").set_input_files(
        str(png_file(tmp_path, "problem.png", (120, 80, 20)))
    )
    resident.get_by_role("button", name="提交", exact=True).click()
    resident.get_by_role("heading", name="您的反映已提交").wait_for()
    match = re.search(r"/r/([A-Za-z0-9_-]+)\?new=1$", resident.url)
    assert match is not None
    link = f"/r/{match.group(1)}"
    number = resident.locator("h1 .number").inner_text().strip()
    assert re.fullmatch(r"[A-Z]+-\d{8}-\d{4}", number)
    check_a11y(resident)

    # 2. The dispatcher accepts it, then dispatches it from the queue.
    login_as(page, "dispatcher")
    page.goto("/console/cases")
    page.get_by_role("link", name=number).click()
    page.get_by_text("受理立案", exact=True).filter(visible=True).first.click()
    page.locator("#accept-go-next").uncheck()  # stay on this case (default: the next one)
    page.get_by_role("button", name="受理立案").click()
    assert "已立案" in page.get_by_role("heading", level=1).inner_text()
    page.goto("/console/cases")
    page.get_by_label(f"选择 {number}").check()
    page.get_by_label("派遣至单位").select_option(label="城管中队")
    page.get_by_role("button", name="派遣所选").click()
    assert "已派遣 1 个事项" in page.get_by_role("status").first.inner_text()

    # 3. Unit staff take it on and report it done with a photo of the result.
    staff = new_page()
    login_as(staff, "staff")
    staff.goto("/console/cases")
    staff.get_by_role("link", name=number).click()
    staff.get_by_text("签收", exact=True).filter(visible=True).first.click()
    staff.get_by_role("button", name="签收").click()
    staff.get_by_text("办结反馈", exact=True).first.click()
    staff.get_by_label("办理结果").fill("已清运垃圾并冲洗地面")
    staff.get_by_label("照片（可多选）").set_input_files(
        str(png_file(tmp_path, "result.png", (20, 140, 60)))
    )
    staff.get_by_role("button", name="办结反馈").click()
    assert "已办结待核查" in staff.get_by_role("heading", level=1).inner_text()

    # 4. The grid's collector checks it on site, in the field app on their phone.
    collector = new_page(PHONE)
    login_as(collector, "collector")
    assert collector.url.endswith("/app/")  # collectors land in the field app
    collector.get_by_label("用户名").fill("collector")
    collector.get_by_label("密码").fill(TEST_PASSWORD)
    collector.get_by_role("button", name="登录并绑定").click()
    collector.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    collector.locator("#to-verify").get_by_text(number).click()
    collector.get_by_role("heading", name="现场核查").wait_for()
    check_a11y(collector)
    collector.get_by_role("radio", name="核查通过").check()
    collector.get_by_role("button", name="提交核查").click()
    collector.wait_for_function(
        "() => document.querySelector('#case-status')?.textContent === '待评价'", timeout=30_000
    )
    screenshot(collector, "collector-verified")

    # 5. The resident opens their link, sees the result photo, and rates it 满意.
    resident.goto(link)
    assert resident.get_by_text("已处理，等待您的评价").is_visible()
    assert resident.get_by_text("处理结果：已清运垃圾并冲洗地面").is_visible()
    result_photo = resident.get_by_role("img", name="处理结果照片 1")
    assert loaded_width(result_photo) == 96
    check_a11y(resident)
    screenshot(resident, "e2e-resident-to-rate")
    resident.get_by_label("满意", exact=True).check()
    resident.get_by_role("button", name="提交评价").click()
    resident.get_by_role("heading", name="感谢您的评价！").wait_for()
    check_a11y(resident)

    # 6. The dispatcher sees it closed, and the KPI dashboard counts it.
    page.goto("/console/cases")
    page.get_by_role("link", name=number).click()
    assert "已结案" in page.get_by_role("heading", level=1).inner_text()
    timeline = page.get_by_role("region", name="办理过程").inner_text()
    for step in ("上报", "受理立案", "派遣", "签收", "办结反馈", "核查通过", "居民评价"):
        assert step in timeline, step
    page.goto("/console/kpis")
    assert kpi_total(page, "上报数") == "1"
    assert kpi_total(page, "结案数") == "1"
    assert kpi_total(page, "满意率") == "100.0%"
    screenshot(page, "e2e-kpis")


def test_refusals_get_clear_pages(
    page: Any,
    new_page: Any,
    live_server: Any,
    world: Any,
    client: FlaskClient,
    tokens: dict[str, str],
    login_as: Any,
    check_a11y: Any,
) -> None:
    """An unknown resident link, and a collector opening another grid's case (in their view
    and in the console), each get a page that says so."""
    resident = new_page(PHONE)
    response = resident.goto("/r/not-a-real-link-0000000000")
    assert response is not None and response.status == 404
    assert resident.get_by_role("heading", name="找不到这个链接").is_visible()
    check_a11y(resident)

    other = ok(report(client, tokens["collector2"], at=B1), 201)["case"]
    login_as(page, "collector")
    for url in (f"/console/cases/{other['id']}",):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        assert "事项不存在" in page.get_by_role("alert").inner_text()
        assert other["description"] not in page.content()
        check_a11y(page)
