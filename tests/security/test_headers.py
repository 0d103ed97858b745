"""Security headers: strict CSP and no framing on pages, Referrer-Policy everywhere, and
`Cache-Control: private` on every answer that depended on who asked."""

from __future__ import annotations

from io import BytesIO

import pytest
from conftest import World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import sign_in
from pages import png


def _shared_cacheable(response) -> bool:  # type: ignore[no-untyped-def]
    cache = response.headers.get("Cache-Control", "")
    return "private" not in cache and "no-store" not in cache


@pytest.mark.parametrize("path", ["/login", "/board", "/report", "/api/v1/categories", "/healthz"])
def test_strict_csp_and_no_framing(client: FlaskClient, world: World, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/app/", "/app/sw.js", "/app/manifest.webmanifest"])
def test_field_app_has_its_own_strict_policy(client: FlaskClient, world: World, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["worker-src"] == "'self'"
    assert csp["manifest-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["img-src"] == "'self' blob:"  # photos kept in IndexedDB are shown as blob: URLs
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]


def test_pages_hold_no_inline_script_or_style(client: FlaskClient, world: World) -> None:
    import re

    sign_in(client, "dispatcher")
    for path in ("/console/cases", "/console/map", "/console/kpis", "/board", "/report"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        for script in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
            attrs, _body = script
            assert "src=" in attrs or 'type="application/json"' in attrs, (path, attrs)


def _policy(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_map_tiles_are_allowed_as_images_only(app: Flask, client: FlaskClient) -> None:
    from server.maptiles import TileLayer, csp_img_sources

    config = {
        "MAP_TILE_URL": "https://t{s}.tianditu.gov.cn/{z}/{x}/{y}.png",
        "MAP_TILE_SUBDOMAINS": "01",
    }
    assert csp_img_sources(config) == " https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn"
    assert TileLayer("javascript:alert(1)").hosts() == []
    app.config["MAP_TILE_URL"] = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    try:
        csp = _policy(client.get("/report").headers["Content-Security-Policy"])
    finally:
        app.config["MAP_TILE_URL"] = None
    assert csp["img-src"] == "'self' data: blob: http://127.0.0.1:9"
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'"


def test_api_answers_for_a_token_are_private(client: FlaskClient, world: World) -> None:
    token = login(client, "dispatcher")
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert "private" in response.headers["Cache-Control"]
    public = client.get("/api/v1/categories")
    assert "private" not in public.headers.get("Cache-Control", "")


def test_signed_in_pages_are_private(client: FlaskClient, world: World) -> None:
    sign_in(client, "dispatcher")
    response = client.get("/console/cases")
    assert response.status_code == 200
    assert not _shared_cacheable(response)


def test_collector_photos_are_private(app: Flask, client: FlaskClient, world: World) -> None:
    # the online collector pages (/c/) are retired: a collector's photos go through the API
    auth = bearer(login(client, "collector"))
    sent = client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(png((200, 10, 10))), "cover.png")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert sent.status_code == 201, sent.text
    sha = sent.get_json()["sha256"]
    photo = client.get(f"/api/v1/attachments/{sha}", headers=auth)
    assert photo.status_code == 200
    cache = photo.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache


def test_resident_link_photos_are_private(app: Flask, client: FlaskClient, world: World) -> None:
    from helpers import report

    token = login(client, "collector")
    case = report(client, token).get_json()
    link = case["public_token"]
    response = client.get(f"/api/v1/public/cases/{link}")
    assert response.status_code == 200
    assert "private" in response.headers["Cache-Control"]
    page = client.get(f"/r/{link}")
    assert not _shared_cacheable(page)
