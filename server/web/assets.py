"""Our own CSS/JS, and ECharts, Leaflet and Leaflet.markercluster from the installed
node_modules (no CDN: intranets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_file

from server.config import PROJECT_ROOT

ECHARTS = Path("echarts/dist/echarts.min.js")
# The map libraries' files we serve, by the name in /assets/vendor/<name>: nothing else of
# node_modules is reachable.
MAP_VENDOR = {
    "leaflet.js": ("leaflet/dist/leaflet.js", "text/javascript"),
    "leaflet.css": ("leaflet/dist/leaflet.css", "text/css"),
    "images/layers.png": ("leaflet/dist/images/layers.png", "image/png"),
    "images/layers-2x.png": ("leaflet/dist/images/layers-2x.png", "image/png"),
    "images/marker-icon.png": ("leaflet/dist/images/marker-icon.png", "image/png"),
    "images/marker-icon-2x.png": ("leaflet/dist/images/marker-icon-2x.png", "image/png"),
    "images/marker-shadow.png": ("leaflet/dist/images/marker-shadow.png", "image/png"),
    "leaflet.markercluster.js": (
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "text/javascript",
    ),
    "MarkerCluster.css": ("leaflet.markercluster/dist/MarkerCluster.css", "text/css"),
}

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


# The app icons: the same set as the field app's (mobile/icons), served for every page.
ICONS = Path(__file__).resolve().parent / "static" / "icons"


@bp.get("/favicon.ico")
def favicon() -> Any:
    return send_file(ICONS / "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)


@bp.get("/apple-touch-icon.png")
@bp.get("/apple-touch-icon-precomposed.png")
def apple_touch_icon() -> Any:
    return send_file(ICONS / "icon-192.png", mimetype="image/png", max_age=86400)


@bp.get("/site.webmanifest")
def manifest() -> Any:
    """For "add to home screen" from any page (the field app has its own at /app/)."""
    from flask import jsonify

    response = jsonify(
        {
            "name": "民情 Minqing",
            "short_name": "民情",
            "start_url": "/",
            "display": "browser",
            "icons": [
                {"src": "/assets/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
                {"src": "/assets/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def maps_available() -> bool:
    return all((node_modules() / path).is_file() for path, _type in MAP_VENDOR.values())


@bp.get("/assets/vendor/<path:name>")
def map_vendor(name: str) -> Any:
    """Leaflet and its cluster plugin as `npm ci` installed them (the pages' maps); 404 for
    anything not listed, or when missing (the pages then keep their tables)."""
    entry = MAP_VENDOR.get(name)
    if entry is None:
        abort(404)
    path = node_modules() / entry[0]
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=entry[1], max_age=3600)
