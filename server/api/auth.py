"""POST /auth/token: username + password → bearer access token."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal, bearer_token
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema
from server.services.people import auth
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
@blp.alt_response(429, schema=ErrorSchema, description="too_many_attempts, too_many_requests")
def issue_token(body: dict[str, Any]) -> Any:
    """Log in: exchange a username and password for a bearer token (a new session)."""
    with unit_of_work() as uow:
        attempt = auth.login(
            uow,
            body["username"],
            body["password"],
            request.remote_addr or "unknown",
            request.headers.get("User-Agent"),
        )
    return attempt.issued()


class SignedOut(Schema):
    sessions_ended = fields.Integer(required=True)


@blp.route("/logout", methods=["POST"])
@blp.auth()
@blp.response(200, SignedOut)
def logout() -> Any:
    """End this access token's session at once (a device token is revoked by an admin)."""
    token = bearer_token() or ""
    sid = auth.session_of_token(token)
    if sid is not None:
        with unit_of_work() as uow:
            auth.end_session(uow, sid)
    return {"sessions_ended": 1 if sid else 0}


@blp.route("/logout-all", methods=["POST"])
@blp.auth()
@blp.response(200, SignedOut)
def logout_everywhere() -> Any:
    """Sign out everywhere: every page session and access token of this user ends at once."""
    with unit_of_work() as uow:
        ended = auth.sign_out_everywhere(uow, authenticated_principal().user_id)
    return {"sessions_ended": ended}
