"""The public report page /report: a resident's report with a photo and a place, refused with
a named field when something is missing, rate-limited like the API's anonymous report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1
from PIL import Image

CSRF = "test-csrf-token-0123456789"


@pytest.fixture
def resident(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def form(**extra: Any) -> dict[str, Any]:
    return {
        "csrf_token": CSRF,
        "category": "sanitation",
        "description": "小区门口垃圾堆了三天",
        "lon": str(A1[0]),
        "lat": str(A1[1]),
        "crs": "wgs84",
        **extra,
    }


def case_by_token(app: Flask, token: str) -> Any:
    from server.extensions import db
    from server.models import Case, CaseAttachment

    with app.app_context():
        case = db.session.query(Case).filter_by(public_token=token).one()
        photos = [
            (a.sha256, a.role)
            for a in db.session.query(CaseAttachment).filter_by(case_id=case.id).all()
        ]
        return case.source, case.reporter_role, case.reporter_phone, case.grid_id, photos


def token_of(location: str) -> str:
    assert location.startswith("/r/") and location.endswith("?new=1"), location
    return location[len("/r/") : -len("?new=1")]


def test_form_lists_categories_and_has_labels(client: FlaskClient, world: World) -> None:
    page = client.get("/report")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"  # it holds this browser's CSRF token
    html = page.get_data(as_text=True)
    assert "环境卫生" in html
    for name in ("category", "description", "lon", "lat", "photo", "phone", "address"):
        assert f'for="f-{name}"' in html and f'id="f-{name}"' in html
    assert 'name="csrf_token"' in html
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)
    assert "/assets/public.css" in assets and "/assets/public-report.js" in assets
    for asset in assets:  # every stylesheet and script is served by the app itself
        assert client.get(asset).status_code == 200, asset


def test_report_lands_on_the_residents_own_page(
    app: Flask, resident: FlaskClient, world: World
) -> None:
    sent = resident.post("/report", data=form(phone="13812345678"))
    assert sent.status_code == 303
    token = token_of(sent.headers["Location"])
    source, role, phone, grid_id, photos = case_by_token(app, token)
    assert (source, role, phone, grid_id, photos) == (
        "resident",
        "resident",
        "13812345678",
        world.grid_ids["A1"],
        [],
    )
    page = resident.get(sent.headers["Location"]).get_data(as_text=True)
    assert "您的反映已提交" in page
    assert f"/r/{token}" in page and f"/r/{token}/qr.png" in page
    assert "138****5678" in page


def test_report_with_a_photo(app: Flask, resident: FlaskClient, world: World) -> None:
    data = form()
    data["photo"] = (BytesIO(png()), "street.png")
    sent = resident.post("/report", data=data, content_type="multipart/form-data")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    token = token_of(sent.headers["Location"])
    *_, photos = case_by_token(app, token)
    assert len(photos) == 1 and photos[0][1] == "report"
    sha = photos[0][0]
    page = resident.get(f"/r/{token}").get_data(as_text=True)
    assert f"/api/v1/public/cases/{token}/photos/{sha}" in page
    assert resident.get(f"/api/v1/public/cases/{token}/photos/{sha}").status_code == 200
    # the photo is in the report event as it was hashed: the case's chain still verifies
    from server.extensions import db
    from server.models import Case, CaseEvent
    from server.services.uow import unit_of_work
    from server.services.upkeep import audit

    with app.app_context():
        case = db.session.query(Case).filter_by(public_token=token).one()
        report = db.session.query(CaseEvent).filter_by(case_id=case.id, seq=1).one()
        assert report.payload["photos"] == [sha]
        with unit_of_work() as uow:
            _events, _roots, finding = audit.verify(uow)
        assert finding is None, finding


def test_a_refused_report_asks_for_the_photo_again(resident: FlaskClient, world: World) -> None:
    data = form(lon="200")  # no such longitude: refused before anything is stored
    data["photo"] = (BytesIO(png()), "street.png")
    sent = resident.post("/report", data=data, content_type="multipart/form-data")
    assert sent.status_code == 422
    html = sent.get_data(as_text=True)
    assert "上次选择的照片未提交，请重新选择照片。" in html
    assert 'aria-describedby="h-photo e-photo"' in html
    assert "小区门口垃圾堆了三天" in html  # what was typed is kept
    without = resident.post("/report", data=form(lon="200"))
    assert "请重新选择照片" not in without.get_data(as_text=True)


def test_not_an_image_is_refused_and_nothing_is_filed(
    app: Flask, resident: FlaskClient, world: World
) -> None:
    data = form()
    data["photo"] = (BytesIO(b"not a picture at all"), "x.jpg")
    sent = resident.post("/report", data=data, content_type="multipart/form-data")
    assert sent.status_code == 415
    html = sent.get_data(as_text=True)
    assert "文件不是完整的 JPEG、PNG 或 WebP 图片" in html
    assert "小区门口垃圾堆了三天" in html  # what was typed is kept
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        assert db.session.query(Case).count() == 0


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"lon": "", "lat": ""}, 422, "请选择位置"),
        ({"lon": "abc"}, 422, "位置坐标不是数字"),
        ({"lat": "91"}, 422, "纬度必须在 -90 到 90 之间"),
        ({"lon": "0.5", "lat": "0.5"}, 422, "不在"),  # outside every subdistrict
        ({"category": ""}, 422, "请选择问题类别"),
        ({"category": "no-such"}, 422, "未知的事项分类"),
        ({"description": "   "}, 422, "请填写问题描述"),
        ({"description": "长" * 2001}, 422, "问题描述最多 2000 个字"),
        ({"phone": "call me"}, 422, "手机号码格式不对"),
        ({"crs": "mars"}, 422, "坐标系必须是"),
    ],
)
def test_bad_input_names_the_problem(
    resident: FlaskClient, world: World, change: dict[str, str], status: int, text: str
) -> None:
    sent = resident.post("/report", data=form(**change))
    assert sent.status_code == status
    html = sent.get_data(as_text=True)
    assert text in html, html[:3000]
    assert 'role="alert"' in html


def test_without_csrf_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    data = form()
    del data["csrf_token"]
    sent = client.post("/report", data=data)
    assert sent.status_code == 400
    assert "表单已过期" in sent.get_data(as_text=True)


@pytest.fixture
def two_an_hour(app: Flask) -> Iterator[None]:
    before = app.config["RESIDENT_REPORTS_PER_HOUR"]
    app.config["RESIDENT_REPORTS_PER_HOUR"] = 2
    yield
    app.config["RESIDENT_REPORTS_PER_HOUR"] = before


def test_rate_limited_like_the_api(
    app: Flask, resident: FlaskClient, world: World, two_an_hour: None
) -> None:
    # the page and the API share one budget per address
    api = resident.post(
        "/api/v1/cases",
        json={"category": "sanitation", "description": "x", "lon": A1[0], "lat": A1[1]},
    )
    assert api.status_code == 201
    assert resident.post("/report", data=form()).status_code == 303
    third = resident.post("/report", data=form())
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert "提交过于频繁" in third.get_data(as_text=True)
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        assert db.session.query(Case).count() == 2


def test_grid_outlines_for_the_map(client: FlaskClient, world: World) -> None:
    body = client.get("/report/grids.geojson").get_json()
    assert body["type"] == "FeatureCollection"
    codes = {f["properties"]["code"] for f in body["features"]}
    assert codes == set(world.grid_codes.values())
    first = body["features"][0]
    assert set(first["properties"]) == {"code", "name", "community"}
    assert first["geometry"]["type"] == "Polygon"
