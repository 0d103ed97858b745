"""Server-side sessions: sign-out ends a copied cookie or token at once; sign out everywhere
and an admin's disable end every session and token of a user; idle and absolute expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import TEST_PASSWORD, World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error, sign_in


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("minqing_session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser that was handed a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("minqing_session", value)
    return other


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return str(session["csrf"])


def _sessions(app: Flask, username: str | None = None) -> list[Any]:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import AuthSession, User

    with app.app_context():
        stmt = select(AuthSession)
        if username:
            stmt = stmt.join(User, User.id == AuthSession.user_id).where(User.username == username)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def test_a_copied_cookie_dies_with_sign_out(app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, "dispatcher")
    copied = _cookie(client)
    thief = _with_cookie(app, copied)
    assert thief.get("/console/cases").status_code == 200
    assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 302
    assert thief.get("/console/cases").status_code == 302  # back to the login page
    (row,) = _sessions(app, "dispatcher")
    assert row.revoked_at is not None


def test_the_cookie_holds_only_an_opaque_id(app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, "dispatcher")
    with client.session_transaction() as session:
        assert set(session.keys()) - {"_permanent"} == {"sid", "csrf"}
        sid = session["sid"]
    # it is not a bearer token, and the database keeps only its hash
    assert_error(client.get("/api/v1/me", headers=bearer(sid)), 401, "invalid_token")
    (row,) = _sessions(app, "dispatcher")
    assert sid not in row.id_hash and len(row.id_hash) == 64
    assert row.kind == "web" and row.created_at and row.last_seen_at and row.address_hash


def test_a_session_row_records_the_browser(app: Flask, world: World) -> None:
    client = app.test_client()
    client.get("/login", headers={"User-Agent": "Mozilla/5.0 (Minqing test)"})
    response = client.post(
        "/login",
        data={"username": "dispatcher", "password": TEST_PASSWORD, "csrf_token": _csrf(client)},
        headers={"User-Agent": "Mozilla/5.0 (Minqing test)"},
    )
    assert response.status_code == 302
    (row,) = _sessions(app, "dispatcher")
    assert row.device == "Mozilla/5.0 (Minqing test)"


def test_api_logout_ends_the_token_at_once(client: FlaskClient, world: World) -> None:
    token = login(client, "dispatcher")
    other = login(client, "dispatcher")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 200
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200


def test_sign_out_everywhere_ends_pages_and_tokens(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign_in(client, "dispatcher")
    browser = _with_cookie(app, _cookie(client))
    token = login(app.test_client(), "dispatcher")
    bystander = login(app.test_client(), "collector")
    response = client.post("/logout-all", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302
    assert browser.get("/console/cases").status_code == 302
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")
    assert client.get("/api/v1/me", headers=bearer(bystander)).status_code == 200
    assert all(row.revoked_at is not None for row in _sessions(app, "dispatcher"))


def test_sign_out_everywhere_through_the_api(app: Flask, client: FlaskClient, world: World) -> None:
    first, second = login(client, "staff"), login(client, "staff")
    ended = client.post("/api/v1/auth/logout-all", headers=bearer(first)).get_json()
    assert ended == {"sessions_ended": 2}
    for token in (first, second):
        assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")
    assert login(client, "staff")  # signing in again works


def test_an_admin_disabling_a_user_ends_everything(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from phones import issue

    device_token, _ = issue(app, "collector")
    web = app.test_client()
    sign_in(web, "collector")
    user_id = world.user_ids["collector"]
    refused = client.post(f"/api/v1/users/{user_id}/disable", headers=bearer(tokens["dispatcher"]))
    assert refused.status_code == 403
    other_sd = client.post(f"/api/v1/users/{user_id}/disable", headers=bearer(tokens["admin"]))
    assert other_sd.status_code == 200 and other_sd.get_json()["sessions_ended"] >= 2
    assert_error(
        client.get("/api/v1/me", headers=bearer(tokens["collector"])), 401, "invalid_token"
    )
    assert client.get("/api/v1/me", headers=bearer(device_token)).status_code == 401
    assert web.get("/c/").status_code == 302
    again = client.post(
        "/api/v1/auth/token", json={"username": "collector", "password": TEST_PASSWORD}
    )
    assert_error(again, 401, "account_disabled")


def test_admins_disable_only_in_their_subdistrict(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    outsider = world.user_ids["collector3"]  # another subdistrict
    response = client.post(f"/api/v1/users/{outsider}/disable", headers=bearer(tokens["admin"]))
    assert_error(response, 404, "not_found")
    me = world.user_ids["admin"]
    response = client.post(f"/api/v1/users/{me}/disable", headers=bearer(tokens["admin"]))
    assert_error(response, 422, "cannot_disable_self")


def _age(app: Flask, **values: Any) -> None:
    from sqlalchemy import update

    from server.extensions import db
    from server.models import AuthSession

    with app.app_context():
        db.session.execute(update(AuthSession).values(**values))
        db.session.commit()


def test_absolute_expiry_ends_an_active_session(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.models.base import utcnow

    sign_in(client, "dispatcher")
    token = login(app.test_client(), "dispatcher")
    _age(app, expires_at=utcnow() - timedelta(seconds=1))  # last seen just now, but too old
    assert client.get("/console/cases").status_code == 302
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")


def test_web_sessions_last_at_most_session_max_hours(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign_in(client, "dispatcher")
    (row,) = _sessions(app, "dispatcher")
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(hours=app.config["SESSION_MAX_HOURS"])


def test_the_cli_disables_a_user(app: Flask, client: FlaskClient, world: World) -> None:
    token = login(client, "staff")
    result = app.test_cli_runner().invoke(args=["users", "disable", "staff"])
    assert result.exit_code == 0, result.output
    assert "1 sessions ended" in result.output
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")
