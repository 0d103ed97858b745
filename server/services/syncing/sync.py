"""Offline sync for collectors' phones: the engine wired to Minqing's tables and devices.

`install(app)` starts change tracking on the application's session class; `pull` and
`push` serve one device. A push is one unit of work on the app's session: each record goes
through the same use cases as the API in a savepoint, and the push commits once, so it
applies whole or not at all and its after-commit work is released after that commit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import DomainError, Forbidden
from server.extensions import AppSession, db
from server.models import SYNC_TABLES, CollectorGrid, Device
from server.services.people.principal import Principal
from server.services.syncing.sync_tables import build_registry, device_scope
from server.services.uow import UnitOfWork, unit_of_work, wrote
from sync import tracking
from sync.engine import Pulled, SyncEngine
from sync.push import PushConflict, PushResult, digest_of
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
    tracking.install(AppSession, registry, SYNC_TABLES)

    @event.listens_for(AppSession, "after_flush")
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
    # The principal was resolved from this device's token in this request (a live device
    # of an active collector): its ids are enough, no need to read the rows again.
    scope = device_scope(
        db.session, principal.user_id, principal.grid_ids, principal.subdistrict_id
    )
    return DeviceContext(
        device_id=principal.device_id,
        user_key=principal.user_id,
        group_key=principal.subdistrict_id,
        scope=scope,
        principal=principal,
    )


def note_app_version(uow: UnitOfWork, principal: Principal, version: str | None) -> None:
    """Keep the app version a device reports (for the admins' device list)."""
    if principal.device_id and version:
        device = uow.session.get(Device, principal.device_id)
        if device is not None and device.app_version != version[:32]:
            device.app_version = version[:32]


def pull(
    principal: Principal,
    last_pulled_at: int | None,
    schema_version: int | None,
    migration: dict[str, Any] | None,
) -> Pulled:
    device = device_context(principal)
    return engine().pull(db.session(), device, last_pulled_at, schema_version, migration)


def push(
    principal: Principal,
    last_pulled_at: int | None,
    body: bytes,
    decoded: Any = None,
    count: Callable[[UnitOfWork], None] | None = None,
) -> PushResult:
    """The sync push as one unit of work: every record goes through the same use cases as
    the API (new logs and log edits set-wise, other records in a savepoint each); one commit
    at the end releases the after-commit work (webhooks, thumbnails, notifications). Raises
    PushError (400) or PushConflict (409) with nothing applied. `decoded`: the body's JSON
    when the caller has parsed it already (None: parse `body`).

    `count` (the device's rate limit) runs first inside the push's own transaction, so a
    push commits once; when it raises (429) nothing of the push happens. A push that fails
    after it (400, 409, a database error) is counted again in a unit of work of its own:
    a failing request still counts, as a successful one does."""
    started = time.monotonic()
    if principal.device_id is None:
        device_context(principal)  # raises: user tokens cannot sync
    sync_engine = engine()
    session = db.session()
    if session.get_bind().dialect.name == "sqlite" or wrote(session):
        # SQLite: the push begins its own transaction, with its write lock up front.
        # PostgreSQL: the token check's read-only transaction goes on into the push's (no
        # second pool checkout with its ping), unless something is pending in it.
        session.rollback()
    device: DeviceContext | None = None
    counted = False
    try:
        with _write_lock(), unit_of_work() as uow:
            if count is not None:
                count(uow)
            counted = True
            device = device_context(principal)
            # The device log goes in with the push (one transaction, one commit; the push
            # writes its line itself, with its replay row).
            result = sync_engine.push(
                uow.session, device, last_pulled_at, body, decoded, started=started
            )
            if result.replayed:
                sync_engine.record(uow.session, device, "replay", last_pulled_at, None, {}, started)
    except PushConflict as conflict:
        assert device is not None
        with unit_of_work() as uow:
            _count_again(uow, count)
            sync_engine.record(
                uow.session,
                device,
                "conflict",
                last_pulled_at,
                None,
                {"conflicts": conflict.records},
                started,
            )
        raise
    except IntegrityError:
        # The same push, applied meanwhile by a concurrent retry: answer as it was answered.
        if device is None:
            raise
        with unit_of_work() as uow:
            replay = sync_engine.replayed(uow.session, device, digest_of(last_pulled_at, body))
            if replay is None:
                raise
            _count_again(uow, count)
            sync_engine.record(uow.session, device, "replay", last_pulled_at, None, {}, started)
        result = replay
    except Exception:
        if counted:  # past the rate limit, then failed (e.g. a malformed body: 400)
            with unit_of_work() as uow:
                _count_again(uow, count)
        raise
    return result


def _count_again(uow: UnitOfWork, count: Callable[[UnitOfWork], None] | None) -> None:
    """Count a push whose own transaction was rolled back (its 429, if any, is moot: the
    push has been answered otherwise)."""
    if count is not None:
        with contextlib.suppress(DomainError):
            count(uow)


@contextmanager
def _write_lock() -> Iterator[None]:
    """On SQLite, begin the push's transaction ourselves (BEGIN IMMEDIATE).

    pysqlite only opens a transaction before a write, so a SAVEPOINT issued first becomes
    the outermost transaction and its RELEASE commits: a push would not be atomic. With
    the driver's own transaction handling off and an explicit BEGIN, savepoints nest, and
    the write lock taken up front serialises pushes (SQLite has one writer anyway). The
    driver is given back its own handling once the unit of work has ended."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.isolation_level = None
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield
    finally:
        if driver.in_transaction:  # the unit of work ended without reaching its commit
            driver.rollback()
        driver.isolation_level = ""  # back to pysqlite's own transactions


def schema() -> dict[str, Any]:
    return engine().schema()
