"""Security headers on every answer: a strict Content-Security-Policy, no framing, no
referrer to other sites, and `Cache-Control: private` for whatever only its caller may see.

Pages serve every script, style and image themselves (no CDN, no inline script or style
attribute), so the policy allows only this origin — plus the configured map tile hosts
for images (server/maptiles.py). Swagger UI (`/api/v1/docs`) ships an inline bootstrap script
and is the one page with a looser script/style policy; it shows no data of its own. The field
app at /app/ has its own, stricter policy (APP_POLICY).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

from server.maptiles import csp_img_sources

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The field app (/app/, its service worker and manifest): nothing by default, then only what it
# uses — its own scripts, worker and manifest, photos from IndexedDB as blob: URLs, the API on
# this origin. No tiles, no data: images, no inline anything.
APP_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "style-src 'self'; img-src 'self' blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
APP_PATH = "/app/"
DOCS_PATH = "/api/v1/docs"
# answers that only the holder of a link token may see, whoever is signed in
TOKEN_PATHS = ("/r/", "/api/v1/public/cases/")


def is_access_controlled() -> bool:
    """Whether this answer depended on who asked: a bearer token, a signed-in page, a link."""
    return bool(
        request.headers.get("Authorization")
        or g.get("web_principal") is not None
        or request.path.startswith(TOKEN_PATHS)
    )


def make_private(response: Any) -> None:
    """`private` for shared caches; answers without a caching rule are not stored at all."""
    cache = response.cache_control
    if not response.headers.get("Cache-Control"):
        response.headers["Cache-Control"] = "private, no-store"
        return
    if cache.no_store:
        return
    cache.public = False
    cache.private = True


def install(app: Flask) -> None:
    policies: dict[str, str] = {}

    def page_policy() -> str:
        # exactly the configured tile hosts (read per answer: tests change the config)
        tiles = csp_img_sources(app.config)
        if tiles not in policies:
            policies[tiles] = PAGE_POLICY.format(tiles=tiles)
        return policies[tiles]

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        docs = request.path.startswith(DOCS_PATH) and not request.path.startswith(
            DOCS_PATH + "/static/"
        )
        if docs:
            chosen = DOCS_POLICY
        elif request.path.startswith(APP_PATH) or request.path == APP_PATH.rstrip("/"):
            chosen = APP_POLICY
        else:
            chosen = page_policy()
        headers.setdefault("Content-Security-Policy", chosen)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if is_access_controlled():
            make_private(response)
        return response
