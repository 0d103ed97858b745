"""/app/: the collectors' offline field app (民情采集), built from mobile/ by esbuild.

The files come from the build folder (`scripts/build-mobile.sh` writes build/mobile/; it is
not committed). The page, the service worker and the manifest are revalidated on every load
(`no-cache`), so a new server version reaches phones at their next start; the service worker
then swaps its whole cache at once (mobile/src/sw.js). `/c/`, the online collector pages it
replaced, redirects here; the app itself tells browsers without IndexedDB or service workers
that they cannot run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, send_file
from werkzeug.exceptions import NotFound

from server.config import PROJECT_ROOT
from server.web import i18n

bp = Blueprint("web_mobile_app", __name__)

MIMETYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def build_path() -> Path:
    return Path(current_app.config.get("MOBILE_BUILD_PATH") or PROJECT_ROOT / "build" / "mobile")


def _file(name: str) -> Any:
    root = build_path()
    path = (root / name).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise NotFound()
    response = send_file(path, mimetype=MIMETYPES.get(path.suffix), max_age=0, etag=True)
    # The service worker keeps the copies the app runs on; the browser's HTTP cache must not
    # hand it an old file while it installs a new version.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/c/")
@bp.get("/c/<path:rest>")
def collector_pages(rest: str = "") -> Any:
    """The old online collector pages (/c/) are retired: the field app covers every journey."""
    return redirect("/app/", code=302)


@bp.get("/app")
def app_root() -> Any:
    return redirect("/app/", code=301)


@bp.get("/app/")
def app_page() -> Any:
    """The app's only page; a clear 503 when the bundle was never built."""
    if not (build_path() / "index.html").is_file():
        body = render_template(
            "error.html",
            status=503,
            code="app_not_built",
            title=i18n.t("采集应用尚未构建", "The field app is not built"),
            message_zh="服务器上缺少采集应用的文件：请运行 scripts/build-mobile.sh。",
            message_en="The field app's files are missing: run scripts/build-mobile.sh.",
            back_url=None,
        )
        return body, 503
    return _file("index.html")


@bp.get("/app/sw.js")
def service_worker() -> Any:
    response = _file("sw.js")
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@bp.get("/app/<path:name>")
def app_file(name: str) -> Any:
    return _file(name)
