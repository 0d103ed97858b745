"""Schemathesis over /api/v1/openapi.json: no 5xx, every response matches its schema.

Runs anonymously and as a dispatcher, then (with a tenth of the examples) as an admin, unit
staff, a collector and a collector's phone (device token), on both backends, with a bounded
number of examples per operation; new endpoints are covered as soon as they are documented.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from conftest import World, bearer, login
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("MINQING_FUZZ_EXAMPLES", "25"))
# every other role, and a phone's device token, with fewer examples each (CI time)
ROLE_EXAMPLES = max(1, MAX_EXAMPLES // 10)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api_schema(app: Flask, world: World):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
# Signing out (everywhere) mid-run would leave every later operation a 401: not fuzzed with
# the run's own token (tests/security/test_sessions.py covers them).
signed_in = schema.exclude(path_regex=r"^/api/v1/auth/logout")


@pytest.fixture
def dispatcher_headers(app: Flask, world: World) -> dict[str, str]:
    return bearer(login(app.test_client(), "dispatcher"))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_anonymous(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(checks=CHECKS)


@signed_in.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_as_dispatcher(case, dispatcher_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=dispatcher_headers, checks=CHECKS)


def _role_headers(app: Flask, role: str) -> dict[str, str]:
    if role == "device":
        from phones import issue

        return bearer(issue(app, "collector")[0])
    return bearer(login(app.test_client(), role))


@pytest.fixture
def admin_headers(app: Flask, world: World) -> dict[str, str]:
    return _role_headers(app, "admin")


@pytest.fixture
def staff_headers(app: Flask, world: World) -> dict[str, str]:
    return _role_headers(app, "staff")


@pytest.fixture
def collector_headers(app: Flask, world: World) -> dict[str, str]:
    return _role_headers(app, "collector")


@pytest.fixture
def device_headers(app: Flask, world: World) -> dict[str, str]:
    return _role_headers(app, "device")


ROLE_SETTINGS = settings(
    max_examples=ROLE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)


@signed_in.parametrize()
@ROLE_SETTINGS
def test_api_as_admin(case, admin_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=admin_headers, checks=CHECKS)


@signed_in.parametrize()
@ROLE_SETTINGS
def test_api_as_unit_staff(case, staff_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=staff_headers, checks=CHECKS)


@signed_in.parametrize()
@ROLE_SETTINGS
def test_api_as_collector(case, collector_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=collector_headers, checks=CHECKS)


@signed_in.parametrize()
@ROLE_SETTINGS
def test_api_as_a_device(case, device_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=device_headers, checks=CHECKS)


def test_openapi_document(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["info"]["title"].startswith("Minqing")
    paths = set(spec["paths"])
    for path in (
        "/api/v1/auth/token",
        "/api/v1/me",
        "/api/v1/communities",
        "/api/v1/grids",
        "/api/v1/locate",
        "/api/v1/units",
        "/api/v1/categories",
    ):
        assert path in paths
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    docs = app.test_client().get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/api/v1/docs/static/swagger-ui-bundle.js" in docs.data
    asset = app.test_client().get("/api/v1/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
