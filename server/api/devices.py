"""Devices (设备): collectors' phones and their tokens, for admins."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from server.api.blueprint import ApiBlueprint, authenticated_principal
from server.api.errors import ErrorSchema
from server.api.schemas import InputSchema
from server.domain.roles import Role
from server.services.people import devices, enrolment
from server.services.syncing import sync_admin
from server.services.uow import unit_of_work

blp = ApiBlueprint("devices", __name__, url_prefix="/api/v1", description="设备 Devices")


class DeviceOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    collector_id = fields.Integer(required=True)
    collector = fields.String(allow_none=True)
    token_hint = fields.String(required=True, metadata={"description": "last 4 characters"})
    issued_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_seen_at = fields.DateTime(allow_none=True)
    app_version = fields.String(allow_none=True)
    last_sync_cursor = fields.Integer(allow_none=True)
    last_pull_at = fields.DateTime(allow_none=True)
    last_push_at = fields.DateTime(allow_none=True)
    pulls = fields.Integer(required=True)
    pushes = fields.Integer(required=True)


class IssuedOut(Schema):
    device = fields.Nested(DeviceOut, required=True)
    token = fields.String(required=True, metadata={"description": "shown this once only"})
    provisioning = fields.String(
        required=True, metadata={"description": "what the QR code holds: server URL + token"}
    )
    qr_png_base64 = fields.String(required=True)


class IssueIn(InputSchema):
    collector = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(load_default=None, validate=validate.Length(1, 100))


class ListArgs(InputSchema):
    collector = fields.String(load_default=None, validate=validate.Length(1, 64))


class LogArgs(InputSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class SyncLogOut(Schema):
    kind = fields.String(required=True, metadata={"description": "pull | push | conflict | replay"})
    at = fields.DateTime(required=True)
    last_pulled_at = fields.Integer(allow_none=True)
    cursor = fields.Integer(allow_none=True)
    counts = fields.Dict(required=True)
    millis = fields.Integer(required=True)


@blp.route("/devices", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.arguments(IssueIn)
@blp.response(201, IssuedOut)
@blp.alt_response(404, schema=ErrorSchema, description="no such collector")
def issue(body: dict[str, Any]) -> Any:
    """Issue a device for a collector: the token is shown once, also as a QR code."""
    principal = authenticated_principal()
    sync_admin.check_collector_scope(principal, body["collector"])
    with unit_of_work() as uow:
        issued = devices.issue_device(uow, body["collector"], body["name"], principal.user_id)
    payload = issued.provisioning_payload()
    return {
        "device": sync_admin.device_view(issued.device),
        "token": issued.token,
        "provisioning": payload,
        "qr_png_base64": sync_admin.qr_png_base64(payload),
    }


@blp.route("/devices", methods=["GET"])
@blp.auth(Role.ADMIN)
@blp.arguments(ListArgs, location="query")
@blp.response(200, DeviceOut(many=True))
def list_devices(args: dict[str, Any]) -> Any:
    """Devices of the admin's subdistrict, with last seen, app version and sync state."""
    return sync_admin.list_devices_for(authenticated_principal(), args["collector"])


@blp.route("/devices/<device_id>/revoke", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.response(200, DeviceOut)
@blp.alt_response(404, schema=ErrorSchema, description="no such device")
def revoke(device_id: str) -> Any:
    """Revoke a device: its token stops working at once (it cannot sync any more)."""
    with unit_of_work() as uow:
        out = sync_admin.revoke_for(uow, authenticated_principal(), device_id[:64])
    return out


@blp.route("/devices/<device_id>/syncs", methods=["GET"])
@blp.auth(Role.ADMIN)
@blp.arguments(LogArgs, location="query")
@blp.response(200, SyncLogOut(many=True))
@blp.alt_response(404, schema=ErrorSchema, description="no such device")
def sync_log(args: dict[str, Any], device_id: str) -> Any:
    """A device's pulls and pushes, newest first, with what each carried."""
    return sync_admin.sync_log_for(authenticated_principal(), device_id[:64], args["limit"])


class EnrolIn(InputSchema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 256))
    name = fields.String(load_default=None, validate=validate.Length(1, 100))


class EnrolledDevice(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class EnrolOut(Schema):
    device = fields.Nested(EnrolledDevice, required=True)
    token = fields.String(required=True, metadata={"description": "the device token, once"})


@blp.route("/devices/enrol", methods=["POST"])
@blp.arguments(EnrolIn)
@blp.response(201, EnrolOut)
@blp.alt_response(401, schema=ErrorSchema, description="invalid_credentials")
@blp.alt_response(403, schema=ErrorSchema, description="not_a_collector, enrolment switched off")
@blp.alt_response(409, schema=ErrorSchema, description="device_limit")
@blp.alt_response(429, schema=ErrorSchema, description="too_many_attempts, too_many_requests")
def enrol(body: dict[str, Any]) -> Any:
    """A collector pairs a phone (the field app at /app/) by signing in: a device token."""
    with unit_of_work() as uow:
        outcome = enrolment.enrol_device(
            uow, body["username"], body["password"], request.remote_addr or "unknown", body["name"]
        )
    issued = outcome.issued()
    return {
        "device": {"id": issued.device.id, "name": issued.device.name},
        "token": issued.token,
    }
