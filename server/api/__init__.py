"""API v1: flask-smorest blueprints, one module per resource."""

from __future__ import annotations

from flask_smorest import Api

from server.api import attachments, auth, catalog, inbox, me, territory, webhooks


def register_api(api: Api) -> None:
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "user access token or device token"},
    )
    for module in (auth, me, territory, catalog, attachments, inbox, webhooks):
        api.register_blueprint(module.blp)
