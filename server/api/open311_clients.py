"""/api/v1/open311/clients: admins issue and revoke the api_keys of Open311 client apps."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema
from server.domain.roles import Role
from server.models import Open311Client
from server.services.interop import open311
from server.services.uow import unit_of_work

blp = ApiBlueprint(
    "open311_clients", __name__, url_prefix="/api/v1", description="Open311 客户端 Open311 clients"
)


class Open311ClientOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    key_prefix = fields.String(required=True, metadata={"description": "first 12 characters"})
    subdistrict_id = fields.Integer(allow_none=True)
    requests_per_hour = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True)
    requests_filed = fields.Integer(required=True)


class Open311IssuedOut(Schema):
    client = fields.Nested(Open311ClientOut, required=True)
    api_key = fields.String(required=True, metadata={"description": "shown this once only"})


class Open311IssueIn(InputSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    requests_per_hour = fields.Integer(load_default=60, validate=validate.Range(1, 100_000))


class Open311RateIn(InputSchema):
    requests_per_hour = fields.Integer(required=True, validate=validate.Range(1, 100_000))


class Open311ClientList(Schema):
    items = fields.List(fields.Nested(Open311ClientOut), required=True)


def _out(client: Open311Client, filed: int = 0) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "key_prefix": client.key_prefix,
        "subdistrict_id": client.subdistrict_id,
        "requests_per_hour": client.requests_per_hour,
        "active": client.active,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
        "requests_filed": filed,
    }


@blp.route("/open311/clients", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.arguments(Open311IssueIn)
@blp.response(201, Open311IssuedOut)
def issue(args: dict[str, Any]) -> Any:
    """Issue an api_key for a client application (shown once), with its hourly budget."""
    with unit_of_work() as uow:
        issued = open311.issue_client(
            uow, authenticated_principal(), args["name"], args["requests_per_hour"]
        )
    return {"client": _out(issued.client), "api_key": issued.api_key}


@blp.route("/open311/clients", methods=["GET"])
@blp.auth(Role.ADMIN)
@blp.response(200, Open311ClientList)
def list_clients() -> Any:
    """The client applications of your subdistrict, with how many requests each filed."""
    clients = open311.list_clients(authenticated_principal())
    filed = open311.requests_filed([c.id for c in clients])
    return {"items": [_out(c, filed.get(c.id, 0)) for c in clients]}


@blp.route("/open311/clients/<int:client_id>", methods=["DELETE"])
@blp.auth(Role.ADMIN)
@blp.response(200, Open311ClientOut)
@blp.alt_response(404, schema=ErrorSchema, description="no such client in your subdistrict")
def revoke(client_id: int) -> Any:
    """Revoke a client's api_key at once (its requests stay)."""
    with unit_of_work() as uow:
        client = open311.revoke_client(uow, authenticated_principal(), client_id)
    return _out(client, open311.requests_filed([client.id]).get(client.id, 0))


@blp.route("/open311/clients/<int:client_id>", methods=["PATCH"])
@blp.auth(Role.ADMIN)
@blp.arguments(Open311RateIn)
@blp.response(200, Open311ClientOut)
@blp.alt_response(404, schema=ErrorSchema, description="no such client in your subdistrict")
def set_rate(args: dict[str, Any], client_id: int) -> Any:
    """Change a client's hourly budget (takes effect with its next request)."""
    with unit_of_work() as uow:
        client = open311.set_rate_limit(
            uow, authenticated_principal(), client_id, args["requests_per_hour"]
        )
    return _out(client, open311.requests_filed([client.id]).get(client.id, 0))
