"""Enrolment: a collector pairs their own phone by signing in once in the field app.

The same checks as signing in (per-address limit, the (name, address) throttle after failed
attempts), then a device token for the collector, as an admin's `devices issue` would make.
Allowed while MINQING_DEVICE_ENROLMENT is on, and only up to MINQING_DEVICES_PER_COLLECTOR
active devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden
from server.models import Device
from server.services.people import auth, devices
from server.services.people.devices import IssuedDevice
from server.services.uow import UnitOfWork


@dataclass(frozen=True)
class Enrolment:
    """An enrolment's outcome. A refused sign-in still writes (failure counters, the lock), so
    its refusal is returned, not raised: the edge commits, then raises it."""

    device: IssuedDevice | None = None
    refusal: DomainError | None = None

    def issued(self) -> IssuedDevice:
        """The device, or the refusal raised (call after the unit of work has committed)."""
        if self.refusal is not None:
            raise self.refusal
        assert self.device is not None
        return self.device


def enrol_device(
    uow: UnitOfWork, username: str, password: str, address: str, name: str | None = None
) -> Enrolment:
    """Pair a phone: check the collector's password, then issue a device token for them."""
    if not current_app.config["DEVICE_ENROLMENT"]:
        raise Forbidden(
            "Pairing by sign-in is switched off here: ask an administrator for a device QR code",
            "本系统未开放登录绑定：请向管理员索取设备二维码",
        )
    # Sign-in's own checks and counters: address limit, (name, address) throttle, disabled.
    # (no API session is started: the phone gets a device token, not an access token)
    checked = auth.authenticate(uow, username, password, address)
    if checked.user is None:
        return Enrolment(refusal=checked.refusal)
    principal = auth.principal_for(checked.user)
    if principal.role is not Role.COLLECTOR:
        raise DomainError(
            "not_a_collector",
            "Only collectors (民情收集员) pair phones with the field app",
            "只有民情收集员可以绑定采集手机",
            field="username",
            status=403,
        )
    limit = current_app.config["DEVICES_PER_COLLECTOR"]
    active = uow.session.scalar(
        select(func.count())
        .select_from(Device)
        .where(Device.collector_id == principal.user_id, Device.revoked_at.is_(None))
    )
    if (active or 0) >= limit:
        raise Conflict(
            "device_limit",
            f"You already have {limit} active devices: ask an administrator to revoke one",
            f"你已有 {limit} 部在用的设备：请管理员先停用其中一部",
        )
    return Enrolment(device=devices.issue_device(uow, principal.username, name, issued_by_id=None))
