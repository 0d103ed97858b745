"""Collectors' phones: issue a bearer token (shown once), list, revoke."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from server.domain.roles import Role
from server.errors import DomainError, NotFound
from server.extensions import db
from server.models import Device, User
from server.services.people.auth import DEVICE_TOKEN_PREFIX, hash_device_token
from server.services.uow import UnitOfWork


@dataclass(frozen=True)
class IssuedDevice:
    device: Device
    token: str  # the only time the clear token exists

    def provisioning_payload(self) -> str:
        """What the QR code holds: the field app's pairing URL (/app/#pair=<token>), which a
        phone's camera or WeChat opens; the token stays in the #fragment, never sent to a server."""
        server = (current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
        return f"{server}/app/#pair={self.token}"


def issue_device(
    uow: UnitOfWork,
    collector_username: str,
    name: str | None = None,
    issued_by_id: int | None = None,
) -> IssuedDevice:
    collector = db.session.scalar(
        select(User).where(User.username == collector_username.strip().lower())
    )
    if collector is None or collector.role != Role.COLLECTOR.value:
        raise NotFound("Collector", "民情收集员", field="collector")
    if not collector.active:
        raise DomainError(
            "account_disabled",
            "The collector's account is disabled",
            "该收集员账号已停用",
            field="collector",
            status=422,
        )
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device(
        id=uuid.uuid4().hex,
        collector_id=collector.id,
        name=(name or f"{collector.display_name} 的手机").strip()[:100],
        token_hash=hash_device_token(token),
        token_hint=token[-4:],
        issued_by_id=issued_by_id,
    )
    uow.session.add(device)
    uow.session.flush()
    return IssuedDevice(device=device, token=token)


def revoke_device(uow: UnitOfWork, device_id: str) -> Device:
    """Revoke a device: its token stops working at once. Revoking twice is harmless."""
    device = uow.session.get(Device, device_id)
    if device is None:
        raise NotFound("Device", "设备", field="device_id")
    if device.revoked_at is None:
        device.revoked_at = uow.now
    return device


def list_devices(collector_username: str | None = None) -> list[Device]:
    stmt = select(Device).join(User, User.id == Device.collector_id).order_by(Device.created_at)
    if collector_username:
        stmt = stmt.where(User.username == collector_username.strip().lower())
    return list(db.session.scalars(stmt))
