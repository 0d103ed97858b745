"""The console over the demo subdistrict (278 grids, two weeks of history): the README's
screenshots, and accessibility on pages full of real-looking data."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from server.services.uow import unit_of_work

DEMO_PASSWORD = "minqing-demo"


@pytest.fixture
def demo(app: Flask, backend: str) -> None:
    if backend == "spatialite":
        # One backend is enough for pictures; the console's behaviour is tested on both.
        pytest.skip("demo screenshots: PostGIS only")
    from server.demo.history import seed_history
    from server.demo.seed import seed_demo

    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, DEMO_PASSWORD)
        with unit_of_work() as uow:
            seed_history(uow, days=14)


def _hotline_duplicate(app: Flask) -> str:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Case

    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": DEMO_PASSWORD}
    ).get_json()["access_token"]
    with app.app_context():
        near = db.session.scalars(
            select(Case).where(Case.status == "in_progress").order_by(Case.reported_at.desc())
        ).first()
        assert near is not None
        body = {
            "category": near.category.code,
            "description": "市民来电：" + near.description,
            "lon": near.lon + 0.00005,
            "lat": near.lat,
            "source": "hotline",
            "reporter_name": "王女士",
            "reporter_phone": "13800001234",
        }
    response = client.post("/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["duplicates"], "the demo case nearby should be found"
    return str(response.get_json()["case"]["number"])


def test_demo_console_pages(
    app: Flask, demo: None, page: Any, login_as: Any, screenshot: Any, check_a11y: Any
) -> None:
    login_as(page, "dispatcher", DEMO_PASSWORD)
    page.goto("/console/cases?stage=handle")
    check_a11y(page)
    screenshot(page, "demo-queue", full_page=False)

    page.goto("/console/map")
    page.locator("#grid-map[data-ready='1']").wait_for()
    assert page.locator("#grid-map path.leaflet-interactive").count() >= 200
    check_a11y(page)
    screenshot(page, "demo-map", full_page=False)

    # A hotline call about a problem already reported nearby: a duplicate hint.
    number = _hotline_duplicate(app)
    page.goto(f"/console/cases?q={number}")
    page.get_by_role("link", name=number).click()
    page.get_by_role("heading", name="疑似重复事项").wait_for()
    page.get_by_text("不予立案", exact=True).first.click()
    check_a11y(page)
    screenshot(page, "demo-case", full_page=False)

    page.goto("/console/kpis")
    page.locator("#chart-trend .multiple svg").first.wait_for()
    check_a11y(page)
    screenshot(page, "demo-kpis", full_page=False)

    page.goto("/lang/en?next=/console/cases")
    assert page.get_by_role("heading", name="Case queue").is_visible()
    check_a11y(page)
