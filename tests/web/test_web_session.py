"""Pages with the Flask test client: sign-in, CSRF, session expiry, roles, error pages."""

from __future__ import annotations

import json
import re
from typing import Any

from conftest import TEST_PASSWORD, World, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, new_case, ok

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> Any:
    client.delete_cookie("minqing_session")  # whoever was signed in before
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )


def test_signed_out_pages_redirect_to_login_and_back(client: FlaskClient, world: World) -> None:
    response = client.get("/console/cases?stage=collect")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    page = client.get(response.headers["Location"])
    response = client.post(
        "/login",
        data={
            "username": "dispatcher",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/console/cases?stage=collect",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/cases?stage=collect"
    queue = client.get("/console/cases?stage=collect")
    assert queue.status_code == 200
    assert "事项队列" in queue.text


def test_cookie_flags(client: FlaskClient, world: World) -> None:
    response = sign_in(client, "dispatcher")
    cookie = response.headers["Set-Cookie"]
    assert "minqing_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # only in production


def test_wrong_password_is_a_clear_page(client: FlaskClient, world: World) -> None:
    response = sign_in(client, "dispatcher", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert "Wrong username or password" in response.text
    assert client.get("/console/cases").status_code == 302  # still signed out


def test_lockout_applies_to_the_page_login(client: FlaskClient, world: World, app: Flask) -> None:
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, "dispatcher", "wrong-password")
    response = sign_in(client, "dispatcher")  # the right password, but locked
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text
    assert response.headers["Retry-After"]


def test_post_without_csrf_is_refused(client: FlaskClient, world: World) -> None:
    sign_in(client, "dispatcher")
    response = client.post("/logout")
    assert response.status_code == 400
    assert "表单已过期或并非来自本站" in response.text
    assert "did not come from this site" in response.text
    assert client.get("/console/cases").status_code == 200  # not signed out
    forged = client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400


def test_login_post_without_csrf_is_refused(client: FlaskClient, world: World) -> None:
    response = client.post("/login", data={"username": "dispatcher", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/cases").status_code == 302


def test_logout_ends_the_session(client: FlaskClient, world: World) -> None:
    page = sign_in(client, "dispatcher")
    queue = client.get("/console/cases")
    response = client.post("/logout", data={"csrf_token": csrf_of(queue.text)})
    assert response.status_code == 302
    assert client.get("/console/cases").status_code == 302
    assert page.status_code == 302


def test_idle_session_expires(client: FlaskClient, world: World, app: Flask) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from server.extensions import db
    from server.models import AuthSession
    from server.models.base import utcnow

    sign_in(client, "dispatcher")
    with app.app_context():  # the session was last seen 121 minutes ago (default idle: 120)
        db.session.execute(
            update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=121))
        )
        db.session.commit()
    response = client.get("/console/cases")
    assert response.status_code == 302
    assert "expired=1" in response.headers["Location"]
    assert "会话已过期" in client.get(response.headers["Location"]).text


def test_password_change_voids_the_session(client: FlaskClient, world: World, app: Flask) -> None:
    from server.extensions import db
    from server.models import User

    sign_in(client, "dispatcher")
    with app.app_context():
        user = db.session.get(User, world.user_ids["dispatcher"])
        assert user is not None
        user.token_version += 1
        db.session.commit()
    assert client.get("/console/cases").status_code == 302


def test_wrong_role_is_a_403_page(client: FlaskClient, world: World) -> None:
    sign_in(client, "staff")
    response = client.get("/console/map")
    assert response.status_code == 403
    assert "您的角色无权访问此页面" in response.text
    assert client.get("/console/admin").status_code == 403
    sign_in(client, "dispatcher")
    assert client.get("/console/admin").status_code == 403


def test_collector_cannot_open_another_grids_case(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)  # in A1, collector's grid
    sign_in(client, "collector2")
    response = client.get(f"/console/cases/{case['id']}")
    assert response.status_code == 404
    assert "事项不存在" in response.text
    sign_in(client, "collector")
    assert client.get(f"/console/cases/{case['id']}").status_code == 200


def test_open_redirect_is_refused(client: FlaskClient, world: World) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "dispatcher",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/x",
        },
    )
    assert response.headers["Location"] == "/console/cases"


def test_language_switch(client: FlaskClient, world: World) -> None:
    page = client.get("/login")
    assert '<html lang="zh-CN">' in page.text
    response = client.get("/lang/en?next=/login")
    assert response.headers["Location"] == "/login"
    page = client.get("/login")
    assert '<html lang="en">' in page.text
    assert "Sign in to the console" in page.text


def test_stale_action_is_a_409_page(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{case['id']}")
    token = csrf_of(page.text)
    ok(act(client, tokens["dispatcher"], case, "accept"))  # someone else, meanwhile
    response = client.post(
        f"/console/cases/{case['id']}/actions/accept",
        data={"csrf_token": token, "version": case["version"]},
    )
    assert response.status_code == 409
    assert "事项已被他人修改" in response.text
    assert f"/console/cases/{case['id']}" in response.text  # a way back to the case


def test_bad_filter_names_the_field(client: FlaskClient, world: World) -> None:
    sign_in(client, "dispatcher")
    response = client.get("/console/cases?community=abc")
    assert response.status_code == 422
    assert "community" in response.text


def test_echarts_served_by_the_app(client: FlaskClient) -> None:
    response = client.get("/assets/vendor/echarts.min.js")
    assert response.status_code == 200
    assert b"echarts" in response.data[:2000]
    assert client.get("/assets/web.css").status_code == 200


def test_login_uses_the_real_login_service(client: FlaskClient, world: World) -> None:
    login(client, "dispatcher")  # the API still works next to the pages


def test_kpi_page_counts_and_refuses_bad_periods(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    new_case(client, tokens)
    sign_in(client, "dispatcher")
    page = client.get("/console/kpis")
    assert page.status_code == 200
    assert "上报数" in page.text and "按期结案率" in page.text
    assert "/assets/vendor/echarts.min.js" in page.text
    by_unit = client.get("/console/kpis?by=unit")
    assert "城管中队" in by_unit.text
    bad = client.get("/console/kpis?from=2026-02-01&to=2026-01-01")
    assert bad.status_code == 422
    assert "开始日期晚于结束日期" in bad.text
    sign_in(client, "staff")
    assert client.get("/console/kpis").status_code == 200
    sign_in(client, "collector")
    assert client.get("/console/kpis").status_code == 403


def _csrf_for(client: FlaskClient, path: str) -> str:
    return csrf_of(client.get(path).text)


def test_admin_people_grids_devices_categories(client: FlaskClient, world: World) -> None:
    sign_in(client, "admin")  # a subdistrict admin
    token = _csrf_for(client, "/console/admin/people")
    created = client.post(
        "/console/admin/people",
        data={
            "csrf_token": token,
            "username": "newcollector",
            "display_name": "新收集员",
            "password": "long-enough-1",
            "role": "collector",
        },
    )
    assert created.status_code == 303
    people = client.get("/console/admin/people").text
    assert "newcollector" in people
    taken = client.post(
        "/console/admin/people",
        data={
            "csrf_token": token,
            "username": "newcollector",
            "display_name": "x",
            "password": "long-enough-1",
            "role": "collector",
        },
    )
    assert taken.status_code == 409
    assert "已被使用" in taken.text
    other = client.post(
        f"/console/admin/people/{world.user_ids['collector3']}/grids",
        data={"csrf_token": token, "grids": world.grid_codes["A1"]},
    )
    assert other.status_code == 404  # another subdistrict's collector
    mine = client.post(
        f"/console/admin/people/{world.user_ids['collector']}/grids",
        data={"csrf_token": token, "grids": f"{world.grid_codes['A1']} {world.grid_codes['A2']}"},
    )
    assert mine.status_code == 303

    issued = client.post(
        "/console/admin/devices",
        data={"csrf_token": token, "collector": world.user_ids["collector"], "name": "测试手机"},
    )
    assert issued.status_code == 200
    assert 'src="data:image/png;base64,' in issued.text
    device_token = re.search(r'value="(mqd_[^"]+)"', issued.text)
    assert device_token
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {device_token.group(1)}"}
        ).status_code
        == 200
    )
    device_id = re.search(r"/console/admin/devices/([0-9a-f]{32})/revoke", issued.text)
    assert device_id
    revoked = client.post(
        f"/console/admin/devices/{device_id.group(1)}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 303
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {device_token.group(1)}"}
        ).status_code
        == 401
    )

    # Categories are shared: a subdistrict admin may look, not change.
    assert client.get("/console/admin/categories").status_code == 200
    refused = client.post(
        "/console/admin/categories/sanitation",
        data={
            "csrf_token": token,
            "deadline_urgent": 2,
            "deadline_high": 12,
            "deadline_normal": 48,
            "deadline_low": 96,
            "unit": "hours",
            "default_priority": "normal",
            "active": "1",
        },
    )
    assert refused.status_code == 403


def test_city_admin_edits_categories_and_imports(client: FlaskClient, world: World) -> None:
    sign_in(client, "cityadmin")
    token = _csrf_for(client, "/console/admin/categories")
    bad = client.post(
        "/console/admin/categories/sanitation",
        data={
            "csrf_token": token,
            "deadline_urgent": 0,
            "deadline_high": 12,
            "deadline_normal": 48,
            "deadline_low": 96,
            "unit": "hours",
            "default_priority": "normal",
            "active": "1",
        },
    )
    assert bad.status_code == 422
    assert "deadline_urgent" in bad.text
    saved = client.post(
        "/console/admin/categories/sanitation",
        data={
            "csrf_token": token,
            "deadline_urgent": 2,
            "deadline_high": 12,
            "deadline_normal": 48,
            "deadline_low": 96,
            "unit": "workdays",
            "default_priority": "high",
            "active": "1",
        },
    )
    assert saved.status_code == 303
    assert 'value="48"' in client.get("/console/admin/categories").text

    from io import BytesIO

    broken = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "321002901001009", "name": "x"},
                    "geometry": {  # a bow tie: self-intersecting
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                    },
                }
            ],
        }
    ).encode()
    report = client.post(
        "/console/admin/grids/import",
        data={"csrf_token": token, "geojson": (BytesIO(broken), "grids.geojson")},
        content_type="multipart/form-data",
    )
    assert report.status_code == 422
    assert "未导入任何数据" in report.text
    assert "<td>0</td>" in report.text  # the faulty feature's index


def _post_action(client: FlaskClient, case_id: str, action: str, **data: Any) -> Any:
    page = client.get(f"/console/cases/{case_id}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version, f"no action form on the case page for {action}"
    data = {"csrf_token": csrf_of(page.text), "version": version.group(1), **data}
    return client.post(f"/console/cases/{case_id}/actions/{action}", data=data)


def test_staff_extension_and_dispatcher_decision(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))
    sign_in(client, "staff")
    queue = client.get("/console/cases")
    assert case["number"] in queue.text
    page = client.get(f"/console/cases/{case['id']}")
    assert "/actions/acknowledge" in page.text  # only what staff may do
    assert "/actions/accept" not in page.text and "/actions/dispatch" not in page.text
    assert _post_action(client, case["id"], "acknowledge").status_code == 303
    missing = _post_action(client, case["id"], "request_extension", reason="等待配件")
    assert missing.status_code == 422
    assert "deadline" in missing.text
    asked = _post_action(
        client, case["id"], "request_extension", reason="等待配件", deadline="2100-01-01T17:00"
    )
    assert asked.status_code == 303
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{case['id']}")
    assert "批准延期" in page.text and "驳回延期" in page.text
    assert _post_action(client, case["id"], "approve_extension").status_code == 303
    page = client.get(f"/console/cases/{case['id']}")
    assert "2100-01-01 17:00" in page.text  # the new deadline, local time


def test_duplicate_hint_and_merge(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    first = new_case(client, tokens)
    second = new_case(client, tokens, description="同一处垃圾桶满溢")
    sign_in(client, "dispatcher")
    page = client.get(f"/console/cases/{second['id']}")
    assert "疑似重复事项" in page.text
    assert first["number"] in page.text
    merged = _post_action(client, second["id"], "merge", into=first["id"])
    assert merged.status_code == 303
    assert "已合并" in client.get(f"/console/cases/{second['id']}").text


def test_collectors_land_on_their_phone_view(client: FlaskClient, world: World, app: Flask) -> None:
    response = sign_in(client, "collector")
    assert response.headers["Location"] == "/app/"  # the field app


def test_session_cookie_expires_with_the_idle_limit(client: FlaskClient, world: World) -> None:
    response = sign_in(client, "dispatcher")
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    expires = re.search(r"Expires=([^;]+)", response.headers["Set-Cookie"])
    assert expires
    left = parsedate_to_datetime(expires.group(1)) - datetime.now(UTC)
    assert 115 * 60 < left.total_seconds() <= 120 * 60  # MINQING_WEB_SESSION_MINUTES = 120


def test_kpis_without_echarts_show_tables_only(
    client: FlaskClient, world: World, app: Flask, tmp_path: Any
) -> None:
    sign_in(client, "dispatcher")
    app.config["NODE_MODULES_PATH"] = str(tmp_path)  # as if `npm ci` never ran
    try:
        assert client.get("/assets/vendor/echarts.min.js").status_code == 404
        page = client.get("/console/kpis")
    finally:
        del app.config["NODE_MODULES_PATH"]
    assert page.status_code == 200
    assert "echarts.min.js" not in page.text
    assert "图表组件未安装，仅显示表格" in page.text
    assert 'id="kpi-table"' in page.text


def test_bulk_dispatch_is_all_or_nothing(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    ready = ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept"))
    not_ready = new_case(client, tokens, description="路灯不亮")  # still reported
    sign_in(client, "dispatcher")
    token = csrf_of(client.get("/console/cases").text)
    picked = [f"{ready['id']}:{ready['version']}", f"{not_ready['id']}:{not_ready['version']}"]
    refused = client.post(
        "/console/cases/bulk-dispatch",
        data={"csrf_token": token, "case": picked, "unit_id": world.unit_id},
        follow_redirects=True,
    )
    assert "全部未派遣" in refused.text
    assert not_ready["number"] in refused.text  # the refusal names the case
    page = client.get(f"/console/cases/{ready['id']}")
    assert "已立案" in page.text  # not dispatched either
    done = client.post(
        "/console/cases/bulk-dispatch",
        data={"csrf_token": token, "case": picked[:1], "unit_id": world.unit_id},
        follow_redirects=True,
    )
    assert "已派遣 1 个事项" in done.text


def test_queue_highlights_overdue_and_due_soon(
    client: FlaskClient, world: World, tokens: dict[str, str], app: Flask
) -> None:
    from datetime import UTC, datetime, timedelta

    from server.services.caseloop.sweeps import mark_overdue
    from server.services.uow import unit_of_work

    late = ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept"))
    late = ok(act(client, tokens["dispatcher"], late, "dispatch", unit_id=world.unit_id))
    with app.app_context(), unit_of_work(datetime.now(UTC) + timedelta(days=30)) as uow:
        assert mark_overdue(uow) == 1  # the sweep, later
    soon = ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept"))
    deadline = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    ok(
        act(
            client, tokens["dispatcher"], soon, "dispatch", unit_id=world.unit_id, deadline=deadline
        )
    )
    sign_in(client, "dispatcher")
    html = client.get("/console/cases?stage=handle").text
    rows = {
        m.group(2): m.group(1)
        for m in re.finditer(r'<tr class="([^"]*)" data-case-id="([^"]+)"', html)
    }
    assert rows == {late["id"]: "overdue", soon["id"]: "due-soon"}
    # the badges are links to the cases they count, the count in a live-updated span
    assert re.search(r'当前超期: <span data-count="overdue_now">1</span>', html)
    assert re.search(r'24小时内到期: <span data-count="due_soon">1</span>', html)
    only = client.get("/console/cases?overdue=1").text
    assert late["number"] in only and soon["number"] not in only
