"""Rate limits kept in the database, so they hold across gunicorn workers."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, timedelta

from flask import current_app
from sqlalchemy import case, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.errors import DomainError
from server.extensions import db
from server.models.base import UTCDateTime, utcnow
from server.models.ratelimit import RateLimitWindow
from server.services.uow import UnitOfWork

HOUR = timedelta(hours=1)


def _too_many(retry: int, what: str, what_zh: str) -> DomainError:
    minutes = retry // 60 + 1
    return DomainError(
        "too_many_requests",
        f"Too many {what}; try again in {minutes} min",
        f"{what_zh}，请 {minutes} 分钟后再试",
        status=429,
        headers={"Retry-After": str(retry)},
    )


def hit(
    uow: UnitOfWork,
    key: str,
    limit: int,
    window: timedelta,
    what: tuple[str, str] = ("reports from your address", "提交过于频繁"),
) -> None:
    """Count one hit of `key`; 429 `too_many_requests` past `limit` in the window.

    One atomic upsert (first hit inserts, later ones add or restart the window), so parallel
    first requests from one address cannot collide. The edge counts the hit in a unit of
    work of its own, so a request that then fails still counts.
    """
    now = uow.now
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    table = RateLimitWindow.__table__
    expired = table.c.window_start <= literal(now - window, UTCDateTime())
    stmt = (
        insert(table)
        .values(key=key, window_start=now, hits=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "window_start": case(
                    (expired, literal(now, UTCDateTime())), else_=table.c.window_start
                ),
                "hits": case((expired, 1), else_=table.c.hits + 1),
            },
        )
        .returning(table.c.hits, table.c.window_start)
    )
    hits, started = uow.session.execute(stmt).one()
    if hits > limit:
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        retry = max(1, int((started + window - now).total_seconds()) + 1)
        raise _too_many(retry, *what)


def resident_report(uow: UnitOfWork, address: str) -> None:
    """Anonymous residents may file MINQING_RESIDENT_REPORTS_PER_HOUR reports an hour."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no raw IPs stored
    hit(uow, f"resident-report:{digest}", current_app.config["RESIDENT_REPORTS_PER_HOUR"], HOUR)


MINUTE = timedelta(minutes=1)


def sync_push(uow: UnitOfWork, device_id: str) -> None:
    """One device may push MINQING_SYNC_PUSHES_PER_MINUTE times a minute (429 beyond)."""
    limit = int(current_app.config["SYNC_PUSHES_PER_MINUTE"])
    hit(
        uow,
        f"sync-push:{device_id}",
        limit,
        MINUTE,
        ("pushes from this device", "该设备推送过于频繁"),
    )


LOGIN_WINDOW = timedelta(minutes=10)


def _login_key(address: str) -> str:
    return "login-failures:" + hashlib.sha256(address.encode()).hexdigest()[:32]


def check_login_address(address: str) -> None:
    """429 while an address has used up its failed logins (MINQING_LOGIN_FAILURES_PER_ADDRESS
    in ten minutes): guessing across many usernames from one place is stopped too."""
    row = db.session.get(RateLimitWindow, _login_key(address))
    limit = current_app.config["LOGIN_FAILURES_PER_ADDRESS"]
    if row is None or row.hits < limit:
        return
    started = row.window_start
    now = utcnow()
    if now - started >= LOGIN_WINDOW:
        return
    retry = max(1, int((started + LOGIN_WINDOW - now).total_seconds()) + 1)
    raise _too_many(retry, "failed logins from your address", "该地址登录失败次数过多")


def record_login_failure(uow: UnitOfWork, address: str, username: str) -> None:
    """Count a failed login against the address and against (this name, this address)
    (the 401 is answered all the same)."""
    # over the limit: the 401 stands, and the next attempt is refused by the checks
    with contextlib.suppress(DomainError):
        hit(
            uow, _login_key(address), current_app.config["LOGIN_FAILURES_PER_ADDRESS"], LOGIN_WINDOW
        )
    with contextlib.suppress(DomainError):
        hit(
            uow,
            _pair_key(username, address),
            current_app.config["LOGIN_MAX_FAILURES"],
            _pair_window(),
        )


def _pair_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()[:32]
    return "login-pair:" + digest


def _pair_window() -> timedelta:
    return timedelta(minutes=int(current_app.config["LOGIN_LOCK_MINUTES"]))


def check_login_pair(uow: UnitOfWork, username: str, address: str) -> None:
    """429 `too_many_attempts` once this address has failed MINQING_LOGIN_MAX_FAILURES times
    for this name within MINQING_LOGIN_LOCK_MINUTES.

    Keyed by the name typed, whether or not such an account exists, so the answer cannot tell
    real accounts from unknown ones; and by the address, so nobody elsewhere can lock a real
    user out. The password is not checked meanwhile.
    """
    row = uow.session.get(RateLimitWindow, _pair_key(username, address))
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    if row is None or row.hits < limit:
        return
    window = _pair_window()
    started = row.window_start
    now = uow.now
    if now - started >= window:
        return
    retry = max(1, int((started + window - now).total_seconds()) + 1)
    minutes = -(-retry // 60)
    raise DomainError(
        "too_many_attempts",
        f"Too many failed logins; try again in {minutes} min",
        f"登录失败次数过多，请 {minutes} 分钟后再试",
        status=429,
        headers={"Retry-After": str(retry)},
    )


def clear_login_pair(uow: UnitOfWork, username: str, address: str) -> None:
    """A successful login starts the count for (name, address) afresh."""
    row = uow.session.get(RateLimitWindow, _pair_key(username, address))
    if row is not None:
        uow.session.delete(row)
