"""The public proposal page /propose: a resident raises a topic (提议) with no account — a
community, a title, a description, a place and a photo — refused with a named field, and
rate-limited per address like the API's anonymous proposal."""

from __future__ import annotations

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
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def form(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "csrf_token": CSRF,
        "community_id": str(world.community_ids["A"]),
        "title": "3 幢加装电梯",
        "description": "3 幢住着很多老人，上下楼困难，希望议事会讨论加装电梯。",
        "lon": str(A1[0]),
        "lat": str(A1[1]),
        "crs": "wgs84",
        "address": "文昌苑 3 幢",
        "name": "王大妈",
        **extra,
    }


def topic_by_token(app: Flask, token: str) -> Any:
    from server.extensions import db
    from server.models import Topic, TopicEvent

    with app.app_context():
        topic = db.session.query(Topic).filter_by(public_token=token).one()
        first = db.session.query(TopicEvent).filter_by(topic_id=topic.id, seq=1).one()
        db.session.expunge_all()
        return topic, first


def token_of(location: str) -> str:
    assert location.startswith("/t/") and location.endswith("?new=1"), location
    return location[len("/t/") : -len("?new=1")]


def test_the_form_lists_communities_and_has_labels(client: FlaskClient, world: World) -> None:
    page = client.get("/propose")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "提出议题" in html and 'name="community_id"' in html
    assert f'value="{world.community_ids["A"]}"' in html
    for name in ("title", "description", "address", "photo", "name", "lon", "lat"):
        assert f'for="f-{name}"' in html, name
    assert 'enctype="multipart/form-data"' in html
    board = client.get("/board").get_data(as_text=True)
    assert 'href="/propose"' in board


def test_a_resident_proposes_with_a_place_and_a_photo(
    app: Flask, resident: FlaskClient, world: World
) -> None:
    data = form(world)
    data["photo"] = (BytesIO(png()), "stairs.png")
    sent = resident.post("/propose", data=data, content_type="multipart/form-data")
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    token = token_of(sent.headers["Location"])
    topic, first = topic_by_token(app, token)
    assert topic.source == "resident" and topic.raised_by_id is None
    assert topic.status == "proposed" and topic.community_id == world.community_ids["A"]
    assert topic.address == "文昌苑 3 幢" and topic.proposer_name == "王大妈"
    assert topic.lon == pytest.approx(A1[0]) and topic.lat == pytest.approx(A1[1])
    assert len(topic.photos) == 1
    sha = topic.photos[0]
    # the photo is part of the chained propose event (not patched in after it was hashed)
    assert first.action == "propose" and first.payload["photos"] == [sha]
    assert first.actor_role == "resident" and first.hash
    page = resident.get(sent.headers["Location"]).get_data(as_text=True)
    assert "3 幢加装电梯" in page and "议题已提交" in page
    assert "王**" in page and "王大妈" not in page
    photo = resident.get(f"/t/{token}/photos/{sha}")
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    assert resident.get(f"/t/{token}/photos/{'0' * 64}").status_code == 404
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_gcj02_places_are_stored_in_wgs84(app: Flask, resident: FlaskClient, world: World) -> None:
    from geo.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(*A1)
    sent = resident.post("/propose", data=form(world, lon=str(lon), lat=str(lat), crs="gcj02"))
    assert sent.status_code == 303
    topic, _ = topic_by_token(app, token_of(sent.headers["Location"]))
    assert topic.lon == pytest.approx(A1[0], abs=1e-6)
    assert topic.lat == pytest.approx(A1[1], abs=1e-6)


def test_without_a_place_the_address_is_enough(
    app: Flask, resident: FlaskClient, world: World
) -> None:
    sent = resident.post("/propose", data=form(world, lon="", lat=""))
    assert sent.status_code == 303
    topic, _ = topic_by_token(app, token_of(sent.headers["Location"]))
    assert topic.lon is None and topic.lat is None and topic.address == "文昌苑 3 幢"


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"community_id": ""}, 422, "请选择社区"),
        ({"community_id": "99999"}, 404, "社区"),
        ({"title": "  "}, 422, "请填写议题标题"),
        ({"title": "长" * 121}, 422, "议题标题最多 120 个字"),
        ({"description": ""}, 422, "请填写议题内容"),
        ({"lon": "abc"}, 422, "位置坐标不是数字"),
        ({"lat": "91"}, 422, "纬度必须在 -90 到 90 之间"),
        ({"crs": "mars"}, 422, "坐标系必须是"),
    ],
)
def test_bad_input_names_the_problem_and_keeps_what_was_typed(
    app: Flask, resident: FlaskClient, world: World, change: dict[str, str], status: int, text: str
) -> None:
    sent = resident.post("/propose", data=form(world, **change))
    assert sent.status_code == status
    html = sent.get_data(as_text=True)
    assert text in html and 'role="alert"' in html, html[:3000]
    assert "文昌苑 3 幢" in html  # what was typed is kept
    from server.extensions import db
    from server.models import Topic

    with app.app_context():
        assert db.session.query(Topic).count() == 0


def test_not_an_image_is_refused_and_nothing_is_raised(
    app: Flask, resident: FlaskClient, world: World
) -> None:
    data = form(world)
    data["photo"] = (BytesIO(b"%PDF-1.4 not a photo %%EOF"), "x.pdf")
    sent = resident.post("/propose", data=data, content_type="multipart/form-data")
    assert sent.status_code == 415
    from server.extensions import db
    from server.models import Topic

    with app.app_context():
        assert db.session.query(Topic).count() == 0


def test_without_csrf_is_refused(client: FlaskClient, world: World) -> None:
    data = form(world)
    del data["csrf_token"]
    assert client.post("/propose", data=data).status_code == 400


@pytest.fixture
def two_an_hour(app: Flask) -> Iterator[None]:
    before = app.config["RESIDENT_REPORTS_PER_HOUR"]
    app.config["RESIDENT_REPORTS_PER_HOUR"] = 2
    yield
    app.config["RESIDENT_REPORTS_PER_HOUR"] = before


def test_rate_limited_like_the_api(
    app: Flask, resident: FlaskClient, world: World, two_an_hour: None
) -> None:
    # the page and the public API share one budget of proposals per address
    api = resident.post(
        "/api/v1/public/topics",
        json={"community_id": world.community_ids["A"], "title": "路灯", "description": "太暗"},
    )
    assert api.status_code == 201, api.get_json()
    assert resident.post("/propose", data=form(world)).status_code == 303
    third = resident.post("/propose", data=form(world))
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    from server.extensions import db
    from server.models import Topic

    with app.app_context():
        assert db.session.query(Topic).count() == 2
