"""/app/: the field app's files as the server hands them out (the bundle from build/mobile)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from server.config import PROJECT_ROOT

BUILD = PROJECT_ROOT / "build" / "mobile"


def test_the_shell_is_served_revalidated(client: FlaskClient) -> None:
    assert (BUILD / "index.html").is_file(), "scripts/build-mobile.sh did not run"
    version = json.loads((BUILD / "version.json").read_text())["version"]
    page = client.get("/app/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-cache"
    html = page.get_data(as_text=True)
    assert f"/app/app.js?v={version}" in html and 'lang="zh-CN"' in html
    assert "http://" not in html and "https://" not in html  # no CDN
    script = client.get(f"/app/app.js?v={version}")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"minqing" in script.data
    worker = client.get("/app/sw.js")
    assert worker.headers["Service-Worker-Allowed"] == "/app/"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert version.encode() in worker.data
    assert client.get("/app").status_code == 301


def test_the_manifest_makes_it_installable(client: FlaskClient) -> None:
    response = client.get("/app/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["name"] == "民情采集" and manifest["display"] == "standalone"
    assert manifest["start_url"] == "/app/" and manifest["theme_color"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        png = client.get("/app/" + icon["src"])
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")


def test_nothing_outside_the_build_folder(client: FlaskClient) -> None:
    for path in ("/app/../pyproject.toml", "/app/%2e%2e/pyproject.toml", "/app/nope.js"):
        assert client.get(path).status_code == 404


def test_a_missing_build_says_what_to_run(app: Flask, tmp_path: Path) -> None:
    app.config["MOBILE_BUILD_PATH"] = str(tmp_path)
    try:
        response = app.test_client().get("/app/")
    finally:
        app.config.pop("MOBILE_BUILD_PATH")
    assert response.status_code == 503
    assert "build-mobile.sh" in response.get_data(as_text=True)


def test_the_old_collector_pages_hand_over_to_the_app(client: FlaskClient) -> None:
    for path in ("/c/", "/c/cases/17", "/c/patrols/start"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/app/", path
