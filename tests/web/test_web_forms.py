"""Refused forms, one-time keys, HTML 404/405 pages and the icons (server/web/forms.py,
server/web/__init__.py) through the Flask test client; the browser half is
tests/browser/test_forms_admin.py."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from conftest import World
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case, ok

from server.web.forms import bare, scrub
from tests.web.test_web_session import csrf_of, sign_in

ROOT = Path(__file__).resolve().parents[2]
ONCE = re.compile(r'name="_once" value="([^"]+)"')


def _state(html: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="form-state">(.*?)</script>', html, re.S)
    assert match, "no form state on the page"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_messages_lose_code_names_and_hashes() -> None:
    assert (
        bare("字段 photos：只能附上您自己上传的照片", "photos", zh=True)
        == "只能附上您自己上传的照片"
    )
    assert bare("photos: not yours", "photos", zh=False) == "not yours"
    assert bare("用户名 staff 已被使用", "username", zh=True) == "用户名 staff 已被使用"
    sha = "ab" * 32
    assert sha not in scrub(f"photos: {sha}, {sha}")
    assert "…" in scrub(f"no photo {sha}")


def test_refused_form_is_the_page_again_with_the_values(client: FlaskClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/console/admin/people")
    response = client.post(
        "/console/admin/people",
        data={
            "csrf_token": csrf_of(page.text),
            "_back": "/console/admin/people",
            "username": "staff",
            "display_name": "王小明",
            "password": "secret-password",
            "role": "collector",
        },
    )
    assert response.status_code == 409
    assert "人员管理" in response.text  # the page itself, not an error page
    state = _state(response.text)
    assert state["field"] == "username"
    assert ["display_name", "王小明"] in state["values"]
    assert "secret-password" not in response.text  # passwords are never echoed
    assert "字段" not in response.text.split('id="form-refused"')[1].split("</p>")[0]


def test_refusal_without_a_page_to_go_back_to_is_the_error_page(
    client: FlaskClient, world: World
) -> None:
    sign_in(client, "admin")
    page = client.get("/console/admin/people")
    response = client.post(
        "/console/admin/people",
        data={"csrf_token": csrf_of(page.text), "_back": "https://evil.example/", "username": "x"},
    )
    assert response.status_code == 422
    assert "填写的内容有误" in response.text


def test_a_form_sent_twice_runs_once(client: FlaskClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/console/admin/people")
    data = {
        "csrf_token": csrf_of(page.text),
        "_back": "/console/admin/people",
        "_once": ONCE.search(page.text).group(1),  # type: ignore[union-attr]
        "username": "liwei",
        "display_name": "李伟",
        "password": "secret-password",
        "role": "collector",
    }
    first = client.post("/console/admin/people", data=data)
    assert first.status_code == 303
    again = client.post("/console/admin/people", data={**data, "username": "liwei2"})
    assert again.status_code == 303
    follow = client.get(again.headers["Location"])
    assert "已经提交过" in follow.text
    assert "liwei2" not in follow.text


def test_holiday_file_refused_on_its_page(client: FlaskClient, world: World) -> None:
    sign_in(client, "cityadmin")
    page = client.get("/console/admin/holidays")
    assert page.status_code == 200
    bad = json.dumps(
        {"years": {"2031": {"holidays": ["2029-01-01"], "workdays": [], "source": "x"}}}
    )
    response = client.post(
        "/console/admin/holidays",
        data={
            "csrf_token": csrf_of(page.text),
            "_back": "/console/admin/holidays",
            "holidays": (io.BytesIO(bad.encode()), "bad.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.text[:500]
    state = _state(response.text)
    assert state["field"] == "holidays" and state["files_dropped"]


def test_unrouted_urls_are_pages_but_api_urls_stay_json(client: FlaskClient, world: World) -> None:
    response = client.get("/console/nope")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "页面或事项不存在" in response.text
    response = client.get("/logout")
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "POST" in response.headers["Allow"]
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    response = client.get("/open311/v2/nope")
    assert response.status_code == 404 and response.mimetype != "text/html"


def test_icons_are_the_field_apps(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype.startswith("image/")
    for size in (192, 512):
        served = client.get(f"/assets/icons/icon-{size}.png")
        assert served.data == (ROOT / "mobile" / "icons" / f"icon-{size}.png").read_bytes()
    assert client.get("/apple-touch-icon.png").status_code == 200
    manifest = client.get("/site.webmanifest").get_json()
    assert manifest["icons"][0]["src"] == "/assets/icons/icon-192.png"


def test_case_page_says_when_a_deadline_counted_weekends_only(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import CaseEvent

    api = app.test_client()
    case = new_case(api, tokens)
    case = ok(act(api, tokens["dispatcher"], case, "accept"))
    case = ok(act(api, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    sign_in(client, "dispatcher")
    assert "按周末计算" not in client.get(f"/console/cases/{case['id']}").text  # hours
    with app.app_context():  # as a dispatch counting working days into 2031 records it
        event = db.session.query(CaseEvent).filter_by(case_id=case["id"], action="dispatch").one()
        event.payload = {**event.payload, "weekends_only_years": [2031]}
        db.session.commit()
    page = client.get(f"/console/cases/{case['id']}").text
    assert "截止时间按周末计算（2031年节假日未载入）" in page


def test_reset_password_blocks_api_tokens_until_changed_on_the_pages(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.domain.roles import Role
    from server.services.people import users
    from server.services.people.principal import Principal
    from server.services.uow import unit_of_work

    with app.app_context():
        admin = Principal(world.user_ids["admin"], "admin", Role.ADMIN, world.subdistrict_id)
        with unit_of_work() as uow:
            users.reset_password(uow, admin, world.user_ids["collector"], "Temp-pass-2026")
    api = app.test_client()
    refused = api.post(
        "/api/v1/auth/token", json={"username": "collector", "password": "Temp-pass-2026"}
    )
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "password_change_required"
    sign_in(client, "collector", "Temp-pass-2026")
    form = client.get("/account/password")
    assert form.status_code == 200 and "管理员已重置您的密码" in form.text
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(form.text),
            "_back": "/account/password",
            "current_password": "Temp-pass-2026",
            "new_password": "collector-own-1",
            "new_password2": "collector-own-1",
        },
    )
    assert changed.status_code == 303
    ok = api.post(
        "/api/v1/auth/token", json={"username": "collector", "password": "collector-own-1"}
    )
    assert ok.status_code == 200
