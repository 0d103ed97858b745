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
        f"Too many {what} from your address; try again in {minutes} min",
        f"{what_zh}，请 {minutes} 分钟后再试",
        status=429,
        headers={"Retry-After": str(retry)},
    )


def hit(uow: UnitOfWork, key: str, limit: int, window: timedelta) -> None:
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
        raise _too_many(retry, "reports", "提交过于频繁")


def resident_report(uow: UnitOfWork, address: str) -> None:
    """Anonymous residents may file MINQING_RESIDENT_REPORTS_PER_HOUR reports an hour."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no raw IPs stored
    hit(uow, f"resident-report:{digest}", current_app.config["RESIDENT_REPORTS_PER_HOUR"], HOUR)


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
    raise _too_many(retry, "failed logins", "该地址登录失败次数过多")


def record_login_failure(uow: UnitOfWork, address: str) -> None:
    """Count a failed login against the address (the 401 is answered all the same)."""
    # over the limit: the 401 stands, and the next attempt is refused by check_login_address
    with contextlib.suppress(DomainError):
        hit(
            uow, _login_key(address), current_app.config["LOGIN_FAILURES_PER_ADDRESS"], LOGIN_WINDOW
        )
