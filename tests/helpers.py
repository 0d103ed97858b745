"""Helpers shared by API and integration tests (importable as `helpers`)."""

from __future__ import annotations

from typing import Any

from conftest import TEST_PASSWORD, World, bearer
from factories import LAT0, LON0, STEP
from flask.testing import FlaskClient

A1 = (LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP)  # centre of grid A1 (collector's)
B1 = (LON0 + 2.5 * STEP, LAT0 + 0.5 * STEP)  # centre of grid B1 (collector2's)


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict:  # type: ignore[type-arg]
    """The response is our error format with this status, code (and field), bilingual."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code, body
    assert body["message"] and body["message_zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"]), body["message_zh"]
    if field is not None:
        assert body.get("field") == field, body
    return body  # type: ignore[no-any-return]


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def report(
    client: FlaskClient, token: str | None, at: tuple[float, float] = A1, **extra: Any
) -> Any:
    body = {
        "category": "sanitation",
        "description": "垃圾桶满溢",
        "lon": at[0],
        "lat": at[1],
        **extra,
    }
    headers = bearer(token) if token else {}
    return client.post("/api/v1/cases", json=body, headers=headers)


def act(client: FlaskClient, token: str, case: dict[str, Any], action: str, **body: Any) -> Any:
    body.setdefault("version", case["version"])
    return client.post(
        f"/api/v1/cases/{case['id']}/actions/{action}", json=body, headers=bearer(token)
    )


def new_case(client: FlaskClient, tokens: dict[str, str], **extra: Any) -> dict[str, Any]:
    return ok(report(client, tokens["collector"], **extra), 201)["case"]


def dispatched(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    case = new_case(client, tokens)
    case = ok(act(client, tokens["dispatcher"], case, "accept"))
    return ok(act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id))


def sign_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign in through the console's login form; the session's CSRF token."""
    client.delete_cookie("minqing_session")
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:
        return str(session["csrf"])
