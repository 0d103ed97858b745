"""API v1: flask-smorest blueprints, one module per resource."""

from __future__ import annotations

from flask_smorest import Api

from server.api import auth, catalog, me, territory


def register_api(api: Api) -> None:
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "user access token or device token"},
    )
    for module in (auth, me, territory, catalog):
        api.register_blueprint(module.blp)
