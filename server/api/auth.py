"""POST /auth/token: username + password → bearer access token."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema
from server.services import auth
from server.services.uow import unit_of_work

blp = ApiBlueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录 Login")


class TokenRequest(InputSchema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 256))


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(200, TokenResponse)
@blp.alt_response(401, schema=ErrorSchema, description="Wrong username or password")
@blp.alt_response(429, schema=ErrorSchema, description="account_locked, too_many_requests")
def issue_token(body: dict[str, Any]) -> Any:
    """Log in: exchange a username and password for a bearer token."""
    with unit_of_work() as uow:
        attempt = auth.login(
            uow, body["username"], body["password"], request.remote_addr or "unknown"
        )
    return attempt.issued()
