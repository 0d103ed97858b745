"""Rate limits kept in the database, so they hold across gunicorn workers."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app

from server.errors import DomainError
from server.extensions import db
from server.models.base import utcnow
from server.models.ratelimit import RateLimitWindow

HOUR = timedelta(hours=1)


def hit(key: str, limit: int, window: timedelta) -> None:
    """Count one hit of `key`; 429 `too_many_requests` past `limit` in the window."""
    now = utcnow()
    row = db.session.get(RateLimitWindow, key, with_for_update=True)
    if row is None:
        db.session.add(RateLimitWindow(key=key, window_start=now, hits=1))
    elif now - row.window_start >= window:
        row.window_start, row.hits = now, 1
    elif row.hits >= limit:
        retry = int((row.window_start + window - now).total_seconds()) + 1
        db.session.rollback()
        raise DomainError(
            "too_many_requests",
            f"Too many reports from your address; try again in {retry // 60 + 1} min",
            f"提交过于频繁，请 {retry // 60 + 1} 分钟后再试",
            status=429,
            headers={"Retry-After": str(retry)},
        )
    else:
        row.hits += 1
    db.session.commit()


def resident_report(address: str) -> None:
    """Anonymous residents may file MINQING_RESIDENT_REPORTS_PER_HOUR reports an hour."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no raw IPs stored
    hit(f"resident-report:{digest}", current_app.config["RESIDENT_REPORTS_PER_HOUR"], HOUR)
