"""Webhook subscriptions and their delivery log; admins only, scoped by subdistrict.

The payload, headers and signature a receiver gets are described in
`server/services/webhooks.py` (and the README).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema, PageArgs, id_field
from server.domain.roles import Role
from server.services.messaging import webhooks
from server.services.uow import unit_of_work

blp = ApiBlueprint("webhooks", __name__, url_prefix="/api/v1", description="外部推送 Webhooks")


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    subdistrict_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "null: the whole deployment"}
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        required=True,
        metadata={"description": "HMAC key for X-Minqing-Signature; shown only this once"},
    )


class WebhookCreateArgs(InputSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    url = fields.String(
        required=True,
        validate=validate.Length(1, 500),
        metadata={"description": "http(s) URL the events are POSTed to"},
    )
    events = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        required=True,
        validate=validate.Length(1, 50),
        metadata={"description": "event names (case.reported, …) or '*' for all"},
    )
    secret = fields.String(
        validate=validate.Length(webhooks.MIN_SECRET_LENGTH, webhooks.MAX_SECRET_LENGTH),
        metadata={"description": "HMAC key; generated when absent"},
    )
    subdistrict_id = id_field(
        allow_none=True,
        metadata={"description": "city admins only; absent or null: the whole deployment"},
    )


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    subscription_id = fields.Integer(required=True)
    event = fields.String(required=True)
    event_id = fields.String(required=True, metadata={"description": "receiver's idempotency key"})
    status = fields.String(required=True, metadata={"description": "pending | delivered | failed"})
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    delivered_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    payload = fields.Dict(required=True, metadata={"description": "the JSON body sent"})


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("/webhooks", methods=["GET"])
@blp.auth(Role.ADMIN)
@blp.response(200, WebhookSchema(many=True))
def list_webhooks() -> Any:
    """Webhook subscriptions you manage (secrets are never shown again)."""
    return webhooks.list_subscriptions(authenticated_principal())


@blp.route("/webhooks", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.arguments(WebhookCreateArgs)
@blp.response(201, WebhookCreatedSchema)
@blp.alt_response(404, schema=ErrorSchema, description="no such subdistrict")
def create_webhook(args: dict[str, Any]) -> Any:
    """Subscribe a URL to case events; the answer holds the signing secret, once."""
    with unit_of_work() as uow:
        created = webhooks.create_subscription(
            uow,
            authenticated_principal(),
            name=args["name"],
            url=args["url"],
            events=args["events"],
            secret=args.get("secret"),
            subdistrict_id=args.get("subdistrict_id"),
        )
    sub = created.subscription
    return {
        **{name: getattr(sub, name) for name in WebhookSchema().fields},
        "secret": created.secret,
    }


@blp.route("/webhooks/<int:subscription_id>", methods=["DELETE"])
@blp.auth(Role.ADMIN)
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="not found or not yours")
def delete_webhook(subscription_id: int) -> Any:
    """Deactivate a subscription: nothing more is sent; its delivery history is kept."""
    with unit_of_work() as uow:
        webhooks.deactivate_subscription(uow, authenticated_principal(), subscription_id)
    return None


@blp.route("/webhooks/<int:subscription_id>/deliveries", methods=["GET"])
@blp.auth(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, DeliveryPage)
@blp.alt_response(400, schema=ErrorSchema, description="invalid_cursor")
@blp.alt_response(404, schema=ErrorSchema, description="not found or not yours")
def deliveries(args: dict[str, Any], subscription_id: int) -> Any:
    """A subscription's deliveries, newest first: status, attempts, last error."""
    return webhooks.list_deliveries(
        authenticated_principal(), subscription_id, cursor=args.get("cursor"), limit=args["limit"]
    )


@blp.route("/webhooks/<int:subscription_id>/test", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.response(202, DeliverySchema)
@blp.alt_response(404, schema=ErrorSchema, description="not found or not yours")
@blp.alt_response(409, schema=ErrorSchema, description="subscription_inactive")
def send_test(subscription_id: int) -> Any:
    """Send a `ping` event to the subscription's URL now (queued like any event)."""
    with unit_of_work() as uow:
        out = webhooks.send_test(uow, authenticated_principal(), subscription_id)
    return out
