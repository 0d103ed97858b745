"""The maps and trend charts in Chromium: Leaflet served by the app under the strict CSP — zoom,
the legend in view, clustered pins, a case's place, the resident's tap named by its grid and a
place outside refused before sending, a configured tile server (a loopback stand-in) requested
and allowed by the CSP with the geometry drawn in its GCJ-02, the JS port of the coordinate
conversion checked against geo/crs.py, and the trends as small multiples beside their table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import World, login
from factories import LAT0, LON0, STEP
from flask import Flask
from helpers import A1, new_case, ok, report
from PIL import Image

from geo.crs import from_wgs84
from server.services.uow import unit_of_work

OUTSIDE = (LON0 + 4.5 * STEP, LAT0 + 0.5 * STEP)  # between the two subdistricts: no grid


def ready(page: Any, box: str) -> None:
    page.locator(f"{box}[data-ready='1']").wait_for()


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(
        box
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def tap(page: Any, box: str, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) — in the map's own crs — is drawn."""
    page.locator(box).evaluate("el => el.scrollIntoView({block: 'center'})")
    x, y = page.evaluate(
        """([box, lat, lon]) => { const m = document.querySelector(box).minqingMap.map;
             const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }""",
        [box, lat, lon],
    )
    where = page.locator(box).bounding_box()
    assert 0 < x < where["width"] and 0 < y < where["height"], "the point is off the map"
    page.mouse.click(where["x"] + x, where["y"] + y)


def zoom_of(page: Any, box: str) -> float:
    return float(page.locator(box).get_attribute("data-zoom"))


def test_console_map_zooms_keeps_its_legend_in_view_and_clusters_pins(
    app: Flask,
    world: World,
    page: Any,
    phone_page: Any,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    client = app.test_client()
    tokens = {"collector": login(client, "collector")}
    cases = [new_case(client, tokens, description=f"垃圾桶满溢 {i}") for i in range(6)]
    login_as(page, "dispatcher")
    page.goto("/console/map?colour=cases")
    ready(page, "#grid-map")
    # outlines with names: the grids and the communities
    assert page.locator(".mq-grid-label", has_text="甲社区第1网格").is_visible()
    assert page.locator(".mq-community-label", has_text="乙村").is_visible()
    # the legend is on the map, in view without scrolling
    legend = page.locator(".mq-legend")
    assert "未结事项数" in legend.inner_text() and "1–2" in legend.inner_text()
    assert in_viewport(page, ".mq-legend")
    # six cases at one place: one cluster saying so, no loose pins
    cluster = page.locator(".mq-cluster")
    assert cluster.count() == 1 and page.locator(".mq-pin").count() == 0
    assert cluster.locator("span[aria-hidden=true]").inner_text() == "6"
    assert page.get_by_role("button", name="6 个事项").count() == 1
    check_a11y(page)
    screenshot(page, "map-console", full_page=False)
    # zoom in with the button, and the map really zooms
    before = zoom_of(page, "#grid-map")
    page.get_by_role("button", name="放大").click()
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('#grid-map').dataset.zoom) > {before}"
    )
    assert in_viewport(page, ".mq-legend")
    page.get_by_role("button", name="缩小").click()  # and back out
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('#grid-map').dataset.zoom) === {before}"
    )
    # a click on the cluster opens it (zoom or spider) and each case is a pin to its page
    page.locator(".mq-cluster").click()
    page.locator(".mq-pin").first.wait_for()
    page.locator(".mq-pin").first.click()
    link = page.locator(".mq-popup a")
    number = link.inner_text()
    assert number in {c["number"] for c in cases}
    link.click()
    page.wait_for_url("**/console/cases/*")
    assert page.get_by_role("heading", name=number).is_visible()
    ready(page, "#place-map")
    assert page.locator("#place-map .mq-pick").count() == 1  # the case's place
    own = page.evaluate(
        """() => document.querySelector('#place-map').minqingMap.grids.getLayers()
                 .filter(l => l.feature.properties.own).map(l => l.feature.properties.name)"""
    )
    assert own == ["甲社区第1网格"]
    check_a11y(page)

    login_as(phone_page, "dispatcher")
    phone_page.goto("/console/map")
    ready(phone_page, "#grid-map")
    assert in_viewport(phone_page, ".mq-legend")
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(phone_page)
    screenshot(phone_page, "map-console-phone", full_page=False)


def test_resident_tap_names_the_grid_and_a_place_outside_is_refused_before_sending(
    app: Flask, world: World, phone_page: Any, check_a11y: Any, screenshot: Any
) -> None:
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Case

    page = phone_page
    page.goto("/report")
    ready(page, "#report-map")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/report" in r.url else None)
    page.get_by_label("问题类别").select_option("sanitation")
    page.get_by_label("问题描述").fill("路灯不亮")
    tap(page, "#report-map", *OUTSIDE)
    status = page.locator("#place-status")
    page.get_by_text("该位置不在本街道的网格内").wait_for()
    assert status.get_attribute("role") == "alert"
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_timeout(500)
    assert page.url.endswith("/report") and not [u for u in requests if u.endswith("/report")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        db.session.remove()
    check_a11y(page)
    # a tap inside: named by its community and grid, then sent
    tap(page, "#report-map", *A1)
    page.get_by_text("位置：甲社区 · 甲社区第1网格").wait_for()
    assert page.locator("#report-map .mq-pick").count() == 1
    lon, lat = (
        float(page.locator("#f-lon").input_value()),
        float(page.locator("#f-lat").input_value()),
    )
    assert abs(lon - A1[0]) < 0.001 and abs(lat - A1[1]) < 0.001
    screenshot(page, "map-report-phone", full_page=False)
    page.get_by_role("button", name="提交", exact=True).click()
    page.get_by_role("heading", name="您的反映已提交").wait_for()
    assert "甲社区" in page.locator("main").inner_text()


def test_typed_coordinates_outside_are_refused_before_sending(world: World, page: Any) -> None:
    page.goto("/report")
    ready(page, "#report-map")
    page.get_by_label("问题类别").select_option("sanitation")
    page.get_by_label("问题描述").fill("井盖松动")
    page.get_by_text("手动填写坐标").click()
    page.get_by_label("经度").fill(str(OUTSIDE[0]))
    page.get_by_label("纬度").fill(str(OUTSIDE[1]))
    page.get_by_role("button", name="提交", exact=True).click()
    page.get_by_text("该位置不在本街道的网格内").wait_for()
    assert page.url.endswith("/report")


# ------------------------------------------------------------------ a stand-in tile server


class _Tiles(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []
    png: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    out = BytesIO()
    Image.new("RGB", (256, 256), (230, 236, 220)).save(out, format="PNG")
    _Tiles.png = out.getvalue()
    _Tiles.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Tiles.seen
    server.shutdown()
    server.server_close()


def test_configured_gcj02_tiles_are_requested_allowed_and_drawn_over(
    app: Flask,
    world: World,
    browser: Any,
    tile_server: tuple[str, list[str]],
    tmp_path: Path,
    check_a11y: Any,
) -> None:
    from live import LiveServer

    origin, seen = tile_server
    server = LiveServer(
        dict(app.config),
        tmp_path,
        workers=1,
        MINQING_MAP_TILE_URL=origin + "/tiles/{z}/{x}/{y}.png",
        MINQING_MAP_TILE_CRS="gcj02",
        MINQING_MAP_TILE_ATTRIBUTION="测试底图",
    )
    server.start()
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 860}, locale="zh-CN"
    )
    blocked: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        response = page.goto("/report")
        assert (
            f"img-src 'self' data: blob: {origin};" in response.headers["content-security-policy"]
        )
        ready(page, "#report-map")
        page.locator("#report-map img.leaflet-tile-loaded").first.wait_for()
        assert seen and all(p.startswith("/tiles/") and p.endswith(".png") for p in seen)
        z = {int(p.split("/")[2]) for p in seen}
        assert z == {round(zoom_of(page, "#report-map"))} or len(z) >= 1
        assert page.get_by_text("测试底图").is_visible()
        # the outlines are drawn in GCJ-02: A1's south-west corner where geo/crs.py puts it
        corner = page.evaluate(
            """() => document.querySelector('#report-map').minqingMap.grids.getLayers()
                     .find(l => l.feature.properties.name === '甲社区第1网格').getBounds()
                     .getSouthWest()"""
        )
        corners = [
            from_wgs84(LON0 + dx * STEP, LAT0 + dy * STEP, "gcj02")
            for dx in (0, 1)
            for dy in (0, 1)
        ]
        expected = (min(c[0] for c in corners), min(c[1] for c in corners))
        assert abs(corner["lng"] - expected[0]) < 1e-6 and abs(corner["lat"] - expected[1]) < 1e-6
        assert abs(corner["lng"] - LON0) > 0.003  # really shifted, by some hundreds of metres
        # a tap on the drawn A1 (GCJ-02 coordinates) is still named A1, and sent as gcj02
        tap(page, "#report-map", *from_wgs84(*A1, "gcj02"))
        page.get_by_text("位置：甲社区 · 甲社区第1网格").wait_for()
        assert page.locator("#f-crs").input_value() == "gcj02"
        # the JS port of the forward conversions agrees with geo/crs.py
        points = [(119.43, 32.39), (116.397, 39.909), (121.47, 31.23), (113.26, 23.13)]
        for crs in ("gcj02", "bd09"):
            got = page.evaluate(
                "([pts, crs]) => pts.map(p => MinqingMap.fromWgs84(p[0], p[1], crs))",
                [points, crs],
            )
            for (lon, lat), (x, y) in zip(points, got, strict=True):
                ex, ey = from_wgs84(lon, lat, crs)
                assert abs(x - ex) < 1e-9 and abs(y - ey) < 1e-9, (crs, lon, lat)
        check_a11y(page)
    finally:
        context.close()
        server.stop()
    assert not blocked, blocked


# ------------------------------------------------------------------------------- charts


def _index_history(app: Flask, days: int = 7) -> None:
    from server.extensions import db
    from server.models.base import utcnow
    from server.services.caseloop.case_deadlines import local_zone
    from server.services.patrolling import index

    with app.app_context():
        today = utcnow().astimezone(local_zone()).date()
        with unit_of_work() as uow:
            index.backfill(uow, today - timedelta(days=days - 1), today)
        db.session.remove()


def test_trends_are_small_multiples_beside_their_table(
    app: Flask,
    world: World,
    page: Any,
    phone_page: Any,
    login_as: Any,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    client = app.test_client()
    ok(report(client, login(client, "collector")), 201)
    _index_history(app)
    page.goto("/board")
    page.locator("#trend-chart .multiple svg").first.wait_for()
    figures = page.locator("#trend-chart .multiple")
    assert figures.count() == page.locator(".board-cards > li").count() == 3
    series = page.evaluate(
        """() => [...document.querySelectorAll('#trend-chart .spark')].map(
                 el => echarts.getInstanceByDom(el).getOption().series.length)"""
    )
    assert series == [1, 1, 1]  # one line per chart
    chart_box = page.locator("#trend-chart").bounding_box()
    table_box = page.locator("#trend-table").bounding_box()
    assert table_box["x"] > chart_box["x"] + chart_box["width"] - 1  # beside, not below
    assert page.locator("#board-map[data-ready='1']").count() == 1
    assert page.locator("#board-map .mq-legend").is_visible()
    check_a11y(page)
    screenshot(page, "board-multiples", full_page=False)

    login_as(page, "dispatcher")
    page.goto("/console/kpis")
    page.locator("#chart-trend .multiple svg").first.wait_for()
    assert page.locator("#chart-trend .multiple").count() >= 2
    # the rates: one small bar chart per rate, one series each
    rates = page.evaluate(
        """() => [...document.querySelectorAll('#chart-rates .spark')].map(
                 el => echarts.getInstanceByDom(el).getOption().series.length)"""
    )
    assert len(rates) >= 3 and set(rates) == {1}
    captions = page.locator("#chart-trend figcaption").all_inner_texts()
    latest = [float(c.split("·")[-1]) for c in captions if c.split("·")[-1].strip() != "—"]
    assert latest == sorted(latest)  # the lowest latest score first
    check_a11y(page)

    phone_page.goto("/board")
    phone_page.locator("#trend-chart .multiple svg").first.wait_for()
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 360
    check_a11y(phone_page)
