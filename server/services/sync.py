"""Offline sync for collectors' phones: the engine wired to Minqing's tables and devices.

`install(app)` starts change tracking on the application's session; `pull` and `push`
serve one device. Pushes run in one database transaction on their own connection, with
the services' commits turned into savepoint releases, so a push applies whole or not at
all even though each record goes through the ordinary services.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.errors import Forbidden
from server.extensions import db
from server.models import SYNC_TABLES, CollectorGrid, Device, User
from server.services.principal import Principal
from server.services.sync_tables import build_registry, device_scope
from sync import tracking
from sync.engine import Pulled, SyncEngine
from sync.push import PushResult
from sync.registry import DeviceContext

_engine: SyncEngine | None = None


def engine() -> SyncEngine:
    global _engine
    if _engine is None:
        _engine = SyncEngine(
            build_registry(), SYNC_TABLES, current_app.config.get("SYNC_HORIZON_DAYS", 30)
        )
    return _engine


_installed = False


def install(app: Flask) -> None:
    """Track changes to synced records and collectors' grids on every session (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    with app.app_context():
        registry = engine().registry
    tracking.install(Session, registry, SYNC_TABLES)

    @event.listens_for(Session, "after_flush")
    def _grid_assignments(session: Session, _ctx: Any) -> None:
        for obj in session.new:
            if isinstance(obj, CollectorGrid):
                tracking.scope_changed(session, obj.collector_id, obj.grid_id, True)
        for obj in session.deleted:
            if isinstance(obj, CollectorGrid):
                tracking.scope_changed(session, obj.collector_id, obj.grid_id, False)


def device_context(principal: Principal) -> DeviceContext:
    """The device behind a device token; user tokens cannot sync."""
    if principal.device_id is None:
        raise Forbidden(
            "Sync needs a device token (issued by an admin for the phone)",
            "同步需使用设备令牌（由管理员为手机签发）",
        )
    device = db.session.get(Device, principal.device_id)
    assert device is not None
    user = db.session.get(User, principal.user_id)
    scope = device_scope(
        db.session, principal.user_id, principal.grid_ids, user.subdistrict_id if user else None
    )
    return DeviceContext(
        device_id=device.id,
        user_key=principal.user_id,
        group_key=principal.subdistrict_id,
        scope=scope,
        principal=principal,
    )


def note_app_version(principal: Principal, version: str | None) -> None:
    if principal.device_id and version:
        device = db.session.get(Device, principal.device_id)
        if device is not None and device.app_version != version[:32]:
            device.app_version = version[:32]
            db.session.commit()


def pull(
    principal: Principal,
    last_pulled_at: int | None,
    schema_version: int | None,
    migration: dict[str, Any] | None,
) -> Pulled:
    device = device_context(principal)
    return engine().pull(db.session(), device, last_pulled_at, schema_version, migration)


def push(principal: Principal, last_pulled_at: int | None, body: bytes) -> PushResult:
    device = device_context(principal)
    db.session.rollback()
    connection = db.engine.connect()
    outer = connection.begin()
    sqlite_driver = _take_sqlite_write_lock(connection)
    session = db.session.registry()
    work = Session(
        bind=connection,
        join_transaction_mode="create_savepoint",
        info=dict(),
        expire_on_commit=False,  # a savepoint release needs no reload of what it holds
    )
    db.session.registry.set(work)  # the services' db.session is this push's session
    try:
        return engine().push(work, outer, session, device, last_pulled_at, body)
    finally:
        db.session.registry.set(session)
        work.close()
        if outer.is_active:
            outer.rollback()
        if sqlite_driver is not None:
            sqlite_driver.isolation_level = ""  # back to pysqlite's own transactions
        connection.close()


def _take_sqlite_write_lock(connection: Any) -> Any:
    """On SQLite, begin the push's transaction ourselves (BEGIN IMMEDIATE).

    pysqlite only opens a transaction before a write, so a SAVEPOINT issued first becomes
    the outermost transaction and its RELEASE commits: a push would not be atomic. With
    the driver's own transaction handling off and an explicit BEGIN, savepoints nest, and
    the write lock taken up front serialises pushes (SQLite has one writer anyway)."""
    if connection.dialect.name != "sqlite":
        return None
    driver = connection.connection.driver_connection
    driver.isolation_level = None
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    return driver


def schema() -> dict[str, Any]:
    return engine().schema()
