"""API v1: flask-smorest blueprints, one module per resource."""

from __future__ import annotations

from flask_smorest import Api

from server.api import (
    attachments,
    audit,
    auth,
    cases,
    catalog,
    deliberation,
    devices,
    exports,
    inbox,
    index,
    me,
    notices,
    open311_clients,
    patrols,
    public,
    public_deliberation,
    sync,
    territory,
    users,
    webhooks,
)


def register_api(api: Api) -> None:
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "user access token or device token"},
    )
    modules = (
        auth,
        me,
        users,
        territory,
        catalog,
        cases,
        public,
        attachments,
        inbox,
        webhooks,
        patrols,
        index,
        audit,
        sync,
        devices,
        open311_clients,
        exports,
        deliberation,
        notices,
        public_deliberation,
    )
    for module in modules:
        api.register_blueprint(module.blp)
