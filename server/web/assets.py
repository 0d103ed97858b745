"""Our own CSS/JS, and ECharts from the installed node_modules (no CDN: intranets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_file

from server.config import PROJECT_ROOT

ECHARTS = Path("echarts/dist/echarts.min.js")

bp = Blueprint(
    "web_assets",
    __name__,
    static_folder="static",
    static_url_path="/assets",
)


def node_modules() -> Path:
    return Path(current_app.config.get("NODE_MODULES_PATH") or PROJECT_ROOT / "node_modules")


def echarts_available() -> bool:
    return (node_modules() / ECHARTS).is_file()


@bp.get("/assets/vendor/echarts.min.js")
def echarts() -> Any:
    """ECharts as `npm ci` installed it; 404 when missing (pages then show tables only)."""
    path = node_modules() / ECHARTS
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="text/javascript", max_age=3600)
