"""The residents' pages in a real browser on a 360-px phone: reporting with the phone's
location and a photo, the case page and its rating, refused links, and the public board."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, ok, report
from PIL import Image

from server.services.uow import unit_of_work


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
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def allow_location(page: Any, base_url: str, at: tuple[float, float] = A1) -> None:
    page.context.grant_permissions(["geolocation"], origin=base_url)
    page.context.set_geolocation({"longitude": at[0], "latitude": at[1], "accuracy": 12})


def awaiting_rating(client: FlaskClient, tokens: dict[str, str], world: Any) -> str:
    body = ok(report(client, None, reporter_phone="13812345678"), 201)
    case, d, s = body["case"], tokens["dispatcher"], tokens["staff"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="垃圾已清运，地面已冲洗"))
    ok(act(client, tokens["collector"], case, "verify_ok"))
    return str(body["public_token"])


def test_report_with_location_and_photo_on_a_phone(
    phone_page: Any, live_server: Any, world: Any, tmp_path: Path, check_a11y: Any, screenshot: Any
) -> None:
    page = phone_page
    allow_location(page, live_server.url)
    page.goto("/report")
    check_a11y(page)
    page.get_by_label("问题类别").select_option("sanitation")
    page.get_by_label("问题描述").fill("小区东门垃圾桶满了，三天没人清")
    page.get_by_role("button", name="使用我现在的位置").click()
    page.get_by_text("位置：甲社区 · 甲社区第1网格").wait_for()  # named by /api/v1/locate
    page.locator("#report-map[data-ready='1'] .mq-pick").wait_for()
    page.get_by_label("照片（可不传）").set_input_files(
        str(png_file(tmp_path, "a.png", (90, 90, 20)))
    )
    screenshot(page, "report-page")
    page.get_by_role("button", name="提交", exact=True).click()
    page.get_by_role("heading", name="您的反映已提交").wait_for()
    assert re.search(r"/r/[A-Za-z0-9_-]{20,}\?new=1$", page.url)
    assert loaded_width(page.locator("img.qr")) > 0
    assert page.locator("ul.big-photos img").count() == 1
    assert loaded_width(page.locator("ul.big-photos img")) == 64
    # the page fits a 360-px phone: nothing wider than the screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(page)
    screenshot(page, "report-done")


def test_resident_rates_satisfied_on_a_phone(
    phone_page: Any,
    live_server: Any,
    world: Any,
    client: FlaskClient,
    tokens: dict[str, str],
    check_a11y: Any,
    screenshot: Any,
) -> None:
    token = awaiting_rating(client, tokens, world)
    page = phone_page
    page.goto(f"/r/{token}")
    assert page.get_by_text("已处理，等待您的评价").is_visible()
    assert "138****5678" in page.locator("main").inner_text()
    check_a11y(page)
    screenshot(page, "resident-page")
    # large touch targets for the three choices
    box = page.get_by_label("满意", exact=True).locator("xpath=..").bounding_box()
    assert box is not None and box["height"] >= 48
    page.get_by_label("满意", exact=True).check()
    page.get_by_label("想说的话（可不填）").fill("处理很及时，谢谢")
    page.get_by_role("button", name="提交评价").click()
    page.get_by_role("heading", name="感谢您的评价！").wait_for()
    assert page.url.endswith("?rated=1")
    assert page.get_by_role("radio").count() == 0
    assert page.get_by_text("已办结").first.is_visible()
    check_a11y(page)
    screenshot(page, "resident-thanks")
    page.get_by_role("link", name="English").click()  # the same page in English
    page.get_by_role("heading", name="Thank you for your rating!").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_text("Your rating: Satisfied").is_visible()
    check_a11y(page)


def test_unknown_and_expired_links_get_a_clear_page(
    phone_page: Any,
    live_server: Any,
    world: Any,
    app: Flask,
    client: FlaskClient,
    screenshot: Any,
    check_a11y: Any,
) -> None:
    page = phone_page
    response = page.goto("/r/this-link-does-not-exist")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="找不到这个链接").is_visible()
    check_a11y(page)
    screenshot(page, "resident-link-unknown")
    body = ok(report(client, None), 201)
    from server.extensions import db
    from server.models import Case
    from server.models.base import utcnow

    with app.app_context():
        case = db.session.get(Case, body["case"]["id"])
        assert case is not None
        case.status, case.closed_at = "closed", utcnow() - timedelta(days=200)
        db.session.commit()
        db.session.remove()
    response = page.goto(f"/r/{body['public_token']}")
    assert response is not None and response.status == 410
    assert page.get_by_role("heading", name="这个链接已过期").is_visible()
    check_a11y(page)


def test_board_with_index_trend_and_figures(
    page: Any,
    phone_page: Any,
    live_server: Any,
    world: Any,
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    check_a11y: Any,
    screenshot: Any,
) -> None:
    token = awaiting_rating(client, tokens, world)
    assert (
        client.post(
            f"/api/v1/public/cases/{token}/rating", json={"verdict": "satisfied"}
        ).status_code
        == 201
    )
    from server.models.base import utcnow
    from server.services.caseloop.case_deadlines import local_zone
    from server.services.patrolling import index

    with app.app_context():
        today = utcnow().astimezone(local_zone()).date()
        with unit_of_work() as uow:
            index.backfill(uow, today - timedelta(days=6), today)
        from server.extensions import db

        db.session.remove()
    page.goto("/board")
    page.locator("#trend-chart .multiple svg").first.wait_for()
    # ECharts drew one small chart per community
    assert page.locator("#trend-chart .multiple").count() == 3
    assert page.locator(".board-cards > li").count() == 3
    assert "13812345678" not in page.content() and "138****5678" not in page.content()
    check_a11y(page)
    screenshot(page, "board")
    phone_page.goto("/board")
    phone_page.locator("#trend-chart .multiple svg").first.wait_for()
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(phone_page)
    screenshot(phone_page, "board-phone")


DEMO_PASSWORD = "minqing-demo"


def test_demo_pages_for_the_readme(
    app: Flask,
    backend: str,
    page: Any,
    phone_page: Any,
    live_server: Any,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    """The demo subdistrict (20 communities and villages, two weeks of history): the board,
    the report map, a resident's page and a collector's day as the README shows them, each
    checked for accessibility."""
    if backend == "spatialite":
        pytest.skip("demo screenshots: PostGIS only (the pages are tested on both)")
    import time

    from sqlalchemy import select

    from server.demo.history import seed_history
    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Case, User

    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, DEMO_PASSWORD)
        with unit_of_work() as uow:
            seed_history(uow, days=14)
        waiting = db.session.scalars(
            select(Case).where(Case.status == "awaiting_rating").order_by(Case.reported_at.desc())
        ).first()
        assert waiting is not None
        token = waiting.public_token
        collector = db.session.scalar(select(User.username).where(User.username == "collector01"))
        assert collector is not None
        db.session.remove()
    started = time.perf_counter()
    assert app.test_client().get("/board").status_code == 200
    board_ms = (time.perf_counter() - started) * 1000
    print(f"\n/board over the demo (20 communities, 14 days): {board_ms:.0f} ms")
    page.goto("/board")
    page.locator("#trend-chart .multiple svg").first.wait_for()
    assert page.locator("#trend-chart .multiple").count() == 20  # one small chart each
    assert page.locator(".board-cards > li").count() == 20  # 14 communities, 6 villages
    check_a11y(page)
    screenshot(page, "board-demo")
    page.set_viewport_size({"width": 1280, "height": 1500})
    screenshot(page, "board-demo-top", full_page=False)
    phone_page.goto("/report")
    phone_page.locator("#report-map[data-ready='1']").wait_for()
    # 278 grids and 20 communities drawn; the grids' names appear once zoomed in
    assert phone_page.locator("#report-map .leaflet-overlay-pane path").count() == 298
    phone_page.locator("#report-map").click()  # the middle of the subdistrict: picked, zoomed
    phone_page.locator("#place-status", has_text="位置：").wait_for()  # community · grid
    assert phone_page.locator("#f-lon").input_value()
    # zoomed in on the place: the grids' names are shown now
    phone_page.wait_for_function(
        "() => !document.querySelector('#report-map').classList.contains('mq-far')"
    )
    check_a11y(phone_page)
    screenshot(phone_page, "report-demo")
    phone_page.goto(f"/r/{token}")
    assert phone_page.get_by_role("heading", name="问题已处理，请您评价").is_visible()
    check_a11y(phone_page)
    screenshot(phone_page, "resident-demo")
    collector_page = phone_page.context.new_page()
    login_as(collector_page, collector, DEMO_PASSWORD)
    assert collector_page.url.endswith("/app/")  # the field app: pair the phone first
    collector_page.get_by_role("heading", name="绑定这部手机").wait_for()
    check_a11y(collector_page)
    screenshot(collector_page, "collector-demo")
