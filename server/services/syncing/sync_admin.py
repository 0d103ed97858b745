"""What admins and dispatchers see of sync: refused changes, devices and their sync log."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_

from server.domain.roles import Role
from server.errors import Forbidden, NotFound
from server.extensions import db
from server.models import SYNC_TABLES, Device, User
from server.services.pagination import decode_keyset, encode_keyset
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

REJ = SYNC_TABLES.rejections
SORT = "created_at"


def list_rejections(
    principal: Principal, cursor: str | None, limit: int, collector_id: int | None
) -> dict[str, Any]:
    """Refused changes newest first; a dispatcher sees their subdistrict's collectors'."""
    stmt = select(REJ)
    if principal.subdistrict_id is not None:
        stmt = stmt.where(REJ.c.group_key == principal.subdistrict_id)
    if collector_id is not None:
        stmt = stmt.where(REJ.c.user_key == collector_id)
    if cursor:
        value, last_id = decode_keyset(cursor, SORT)
        stmt = stmt.where(tuple_(REJ.c.created_at, REJ.c.id) < tuple_(_naive(value), last_id))
    rows = db.session.execute(
        stmt.order_by(REJ.c.created_at.desc(), REJ.c.id.desc()).limit(limit + 1)
    ).all()
    items = [_rejection(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_keyset(SORT, _aware(last.created_at), last.id)
    return {"items": items, "next_cursor": next_cursor}


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and db.engine.dialect.name == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rejection(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "device_id": r.device_id,
        "collector_id": r.user_key,
        "table_name": r.table_name,
        "record_id": r.record_id,
        "operation": r.operation,
        "code": r.code,
        "message": r.message,
        "message_zh": r.message_zh,
        "field": r.field,
        "payload": r.payload,
        "created_at": _aware(r.created_at),
    }


# --- devices --------------------------------------------------------------------------------


def _device_in_scope(principal: Principal, device_id: str) -> Device:
    device = db.session.get(Device, device_id)
    if device is None:
        raise NotFound("Device", "设备", field="device_id")
    collector = db.session.get(User, device.collector_id)
    if collector is None or not principal.may_see_subdistrict(collector.subdistrict_id or -1):
        raise NotFound("Device", "设备", field="device_id")
    return device


def check_collector_scope(principal: Principal, username: str) -> None:
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or user.role != Role.COLLECTOR.value:
        raise NotFound("Collector", "民情收集员", field="collector")
    if not principal.may_see_subdistrict(user.subdistrict_id or -1):
        raise Forbidden("The collector is in another subdistrict", "该收集员不属于您的街道")


def device_view(device: Device) -> dict[str, Any]:
    state = db.session.execute(
        select(SYNC_TABLES.devices).where(SYNC_TABLES.devices.c.device_id == device.id)
    ).first()
    collector = db.session.get(User, device.collector_id)
    return {
        "id": device.id,
        "name": device.name,
        "collector_id": device.collector_id,
        "collector": collector.username if collector else None,
        "token_hint": device.token_hint,
        "issued_at": device.created_at,
        "revoked_at": device.revoked_at,
        "last_seen_at": device.last_seen_at,
        "app_version": device.app_version,
        "last_sync_cursor": state.last_pulled_cursor if state else None,
        "last_pull_at": _aware(state.last_pull_at) if state and state.last_pull_at else None,
        "last_push_at": _aware(state.last_push_at) if state and state.last_push_at else None,
        "pulls": state.pulls if state else 0,
        "pushes": state.pushes if state else 0,
    }


def list_devices_for(principal: Principal, collector: str | None) -> list[dict[str, Any]]:
    from server.services.people.devices import list_devices

    if collector:
        check_collector_scope(principal, collector)
    out = []
    for device in list_devices(collector):
        owner = db.session.get(User, device.collector_id)
        if owner is not None and principal.may_see_subdistrict(owner.subdistrict_id or -1):
            out.append(device_view(device))
    return out


def revoke_for(uow: UnitOfWork, principal: Principal, device_id: str) -> dict[str, Any]:
    from server.services.people.devices import revoke_device

    _device_in_scope(principal, device_id)
    return device_view(revoke_device(uow, device_id))


def sync_log_for(principal: Principal, device_id: str, limit: int) -> list[dict[str, Any]]:
    _device_in_scope(principal, device_id)
    log = SYNC_TABLES.log
    rows = db.session.execute(
        select(log)
        .where(log.c.device_id == device_id)
        .order_by(log.c.at.desc(), log.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "kind": r.kind,
            "at": _aware(r.at),
            "last_pulled_at": r.last_pulled_at,
            "cursor": r.cursor,
            "counts": r.counts,
            "millis": r.millis,
        }
        for r in rows
    ]


def qr_png_base64(payload: str) -> str:
    import qrcode

    buffer = io.BytesIO()
    qrcode.make(payload).save(buffer)
    return base64.b64encode(buffer.getvalue()).decode()
