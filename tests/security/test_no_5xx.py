"""Inputs that used to answer 5xx: deep JSON, a newer-schema pull, CR/LF or off-site `next`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TEST_PASSWORD, World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error
from phones import Phone


def _deep(levels: int, kind: str = "list") -> str:
    if kind == "list":
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize("levels", [100, 5_000, 100_000])
@pytest.mark.parametrize("kind", ["list", "object"])
def test_deeply_nested_json_is_a_clear_400_on_the_api(
    client: FlaskClient, world: World, levels: int, kind: str
) -> None:
    response = client.post(
        "/api/v1/auth/token", data=_deep(levels, kind), content_type="application/json"
    )
    body = assert_error(response, 400, "json_too_deep")
    assert "64" in body["message"] and "嵌套" in body["message_zh"]


def test_deep_json_is_refused_on_the_sync_push(phone: Phone) -> None:
    response = phone.client.post(
        "/api/v1/sync/push?last_pulled_at=null",
        data='{"patrols": {"created": [' + _deep(50_000) + "]}}",
        headers={**bearer(phone.token), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "json_too_deep")


def test_deep_json_in_the_migration_parameter_is_refused(phone: Phone) -> None:
    response = phone.client.get(
        "/api/v1/sync/pull",
        query_string={"migration": _deep(50_000, "object")},
        headers=bearer(phone.token),
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:200]


def test_json_within_the_depth_limit_still_works(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("version", ["3", "99", "999999"])
def test_a_pull_with_a_newer_schema_version_is_a_4xx(phone: Phone, version: str) -> None:
    response = phone.client.get(
        f"/api/v1/sync/pull?schema_version={version}", headers=bearer(phone.token)
    )
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] and body["message_zh"]


def test_the_push_with_a_newer_schema_is_a_4xx_too(phone: Phone) -> None:
    # the reference the pull now follows
    response = phone.client.post(
        "/api/v1/sync/push?last_pulled_at=null&schema_version=3",
        data=json.dumps({}),
        headers={**bearer(phone.token), "Content-Type": "application/json"},
    )
    assert response.status_code < 500


NEXT_VALUES = [
    "/console/cases\r\nSet-Cookie: evil=1",
    "/console\nLocation: https://evil.example/",
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "/%0d%0aSet-Cookie:x=1",
]


def _location(response: Any) -> str:
    return str(response.headers.get("Location", ""))


def _assert_on_site(response: Any) -> None:
    assert response.status_code < 500
    location = _location(response)
    assert "\r" not in location and "\n" not in location
    assert "evil" not in location.lower()
    assert "Set-Cookie: evil" not in str(response.headers)
    for header in response.headers.getlist("Set-Cookie"):
        assert not header.startswith(("evil", "x="))


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_language_switch_keeps_next_on_site(client: FlaskClient, target: str) -> None:
    response = client.get("/lang/en", query_string={"next": target})
    _assert_on_site(response)
    assert response.status_code in (302, 303)


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_login_keeps_next_on_site(
    app: Flask, client: FlaskClient, world: World, target: str
) -> None:
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    import re

    hidden = re.search(r'name="next" value="([^"]*)"', page.get_data(as_text=True))
    assert hidden is not None and "evil" not in hidden.group(1).lower()
    csrf = _csrf(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={
            "username": "dispatcher",
            "password": TEST_PASSWORD,
            "csrf_token": csrf,
            "next": target,
        },
    )
    _assert_on_site(response)
    assert response.status_code in (302, 303)


def _csrf(client: FlaskClient) -> str:
    import re

    html = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the login form carries a CSRF token"
    return match.group(1)
