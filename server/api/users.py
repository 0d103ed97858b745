"""Accounts: an admin disables one, ending all its sessions and tokens at once."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.domain.roles import Role
from server.services.people import users
from server.services.uow import unit_of_work

blp = ApiBlueprint("users", __name__, url_prefix="/api/v1/users", description="账号 Accounts")


class Disabled(Schema):
    user_id = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    sessions_ended = fields.Integer(required=True)


@blp.route("/<int:user_id>/disable", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.response(200, Disabled)
@blp.alt_response(404, schema=ErrorSchema, description="no such user in your subdistrict")
@blp.alt_response(422, schema=ErrorSchema, description="cannot_disable_self")
def disable(user_id: int) -> Any:
    """Disable an account: no more sign-ins; its page sessions, API tokens and devices end now."""
    with unit_of_work() as uow:
        ended = users.disable_user(uow, authenticated_principal(), user_id)
    return {"user_id": user_id, "active": False, "sessions_ended": ended}
