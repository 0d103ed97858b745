"""The collector's phone view in a real browser: sign in, a patrol with the browser's track,
a log, a case reported with a photo, and another grid's case refused."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from flask import Flask
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


def png_file(folder: Path, name: str) -> Path:
    path = folder / name
    out = BytesIO()
    Image.new("RGB", (80, 60), (30, 60, 200)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def move_to(page: Any, lon: float, lat: float) -> None:
    page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})


def test_patrol_with_the_browsers_track(
    phone_page: Any,
    live_server: Any,
    world: Any,
    app: Flask,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    page = phone_page
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    move_to(page, *A1)
    login_as(page, "collector")
    assert page.url.endswith("/c/")  # collectors land on their phone view
    check_a11y(page)
    page.get_by_label("巡逻网格").select_option(str(world.grid_ids["A1"]))
    page.get_by_role("button", name="开始巡逻").click()
    page.get_by_role("button", name="结束巡逻").wait_for()
    for step in range(1, 4):  # walk east; the page keeps the positions
        move_to(page, A1[0] + step * 0.0004, A1[1])
        page.wait_for_timeout(300)
    check_a11y(page)
    screenshot(page, "collector-patrol")
    page.get_by_role("button", name="结束巡逻").click()  # sends the track first
    page.get_by_role("heading", name="巡逻已结束").wait_for()
    assert page.get_by_role("button", name="开始巡逻").is_visible()
    from server.extensions import db
    from server.models import Patrol

    with app.app_context():
        patrol = db.session.query(Patrol).one()
        assert patrol.status == "ended" and len(patrol.points) >= 2
        assert patrol.distance_m and patrol.distance_m > 30
        db.session.remove()
    screenshot(page, "collector-home")


def test_log_then_report_a_case_with_a_photo(
    phone_page: Any,
    live_server: Any,
    world: Any,
    tmp_path: Path,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    page = phone_page
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    move_to(page, *A1)
    login_as(page, "collector")
    page.get_by_role("link", name="写日志").click()
    page.get_by_text("已获取当前位置").wait_for()
    page.get_by_label("看到的情况").fill("东门路灯不亮")
    check_a11y(page)
    page.get_by_role("button", name="保存日志").click()
    page.get_by_text("日志已保存").wait_for()
    page.get_by_role("link", name="上报事项").click()
    page.get_by_text("已获取当前位置").wait_for()  # filled from the phone on load
    page.get_by_label("类别").select_option("sanitation")
    page.get_by_label("问题描述").fill("井盖松动，有人绊倒")
    page.get_by_label("照片").set_input_files(str(png_file(tmp_path, "cover.png")))
    check_a11y(page)
    page.get_by_role("button", name="上报", exact=True).click()
    page.get_by_text("已上报").wait_for()
    assert loaded_width(page.locator("ul.photos img")) == 80
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(page)
    screenshot(page, "collector-case")


def test_another_grids_case_is_refused(
    phone_page: Any,
    live_server: Any,
    world: Any,
    client: FlaskClient,
    tokens: dict[str, str],
    login_as: Any,
    check_a11y: Any,
) -> None:
    other = ok(report(client, tokens["collector2"], at=B1), 201)["case"]
    page = phone_page
    login_as(page, "collector")
    response = page.goto(f"/c/cases/{other['id']}")
    assert response is not None and response.status == 404
    assert page.get_by_role("alert").inner_text().startswith("事项不存在")
    assert other["description"] not in page.content()
    check_a11y(page)
