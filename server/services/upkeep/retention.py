"""Retention (PIPL 最小必要): personal data and logs are kept only as long as they are needed.

- Residents' and callers' names and phone numbers leave a case MINQING_RESIDENT_DATA_DAYS
  after it ended (closed, rejected or merged; by default 180 days, when the resident's link
  expires too). The case, its history and its figures stay.
- The sync engine's push receipts (`sync_pushes`, kept to recognise a retried push) and the
  devices' sync log (`sync_log`) are deleted after MINQING_SYNC_LOG_DAYS.
- Refused sync records (`sync_rejections`) are deleted after MINQING_SYNC_REJECTION_DAYS;
  they are synced records, so each leaves a tombstone in the change log and the phones drop
  their copies at their next pull.
- Ended sign-in sessions and expired rate-limit windows are deleted after a day.
- Photos of people (flagged `personal`) are removed MINQING_PERSON_PHOTO_DAYS after every
  case and topic holding them ended (`photo_retention.py`).

`minqing retention apply` runs it; beat runs it daily. Each step is one bulk statement per
table (rejections: per 500) and idempotent; only the pruned rejections are synced again (as
deletions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from server.domain.cases import FINAL
from server.models import SYNC_TABLES, AuthSession, Case, RateLimitWindow
from server.services.uow import UnitOfWork
from server.services.upkeep import photo_retention
from sync.push import REJECTIONS
from sync.tracking import touch


@dataclass(frozen=True)
class RetentionReport:
    residents_cleared: int
    sync_pushes_deleted: int
    sync_log_deleted: int
    sync_rejections_deleted: int
    sessions_deleted: int
    rate_windows_deleted: int
    person_photos_removed: int


def apply(uow: UnitOfWork) -> RetentionReport:
    """Remove what is past its keeping time; how much of each went."""
    resident_cutoff = uow.now - timedelta(days=int(current_app.config["RESIDENT_DATA_DAYS"]))
    log_cutoff = uow.now - timedelta(days=int(current_app.config["SYNC_LOG_DAYS"]))
    day_ago = uow.now - timedelta(days=1)
    ended_at = func.coalesce(Case.closed_at, Case.updated_at)
    cleared = uow.session.execute(
        update(Case)
        .where(
            Case.status.in_([s.value for s in FINAL]),
            ended_at < resident_cutoff,
            or_(Case.reporter_name.is_not(None), Case.reporter_phone.is_not(None)),
        )
        .values(reporter_name=None, reporter_phone=None)
        .execution_options(synchronize_session=False)
    )
    pushes = uow.session.execute(
        delete(SYNC_TABLES.pushes).where(SYNC_TABLES.pushes.c.created_at < log_cutoff)
    )
    log = uow.session.execute(delete(SYNC_TABLES.log).where(SYNC_TABLES.log.c.at < log_cutoff))
    rejections = _prune_rejections(
        uow, uow.now - timedelta(days=int(current_app.config["SYNC_REJECTION_DAYS"]))
    )
    sessions = uow.session.execute(
        delete(AuthSession).where(
            or_(AuthSession.expires_at < day_ago, AuthSession.revoked_at < day_ago)
        )
    )
    longest_window = max(
        timedelta(days=1), timedelta(minutes=int(current_app.config["LOGIN_LOCK_MINUTES"]))
    )
    windows = uow.session.execute(
        delete(RateLimitWindow).where(RateLimitWindow.window_start < uow.now - longest_window)
    )
    return RetentionReport(
        residents_cleared=_count(cleared),
        sync_pushes_deleted=_count(pushes),
        sync_log_deleted=_count(log),
        sync_rejections_deleted=rejections,
        sessions_deleted=_count(sessions),
        rate_windows_deleted=_count(windows),
        person_photos_removed=photo_retention.remove_due(uow),
    )


def _prune_rejections(uow: UnitOfWork, cutoff: datetime) -> int:
    """Delete rejections older than `cutoff`, 500 at a time, each touched as deleted so
    its collector's phones drop it (the tombstone goes out with this unit of work)."""
    rej = SYNC_TABLES.rejections
    gone = 0
    while True:
        batch = uow.session.execute(
            select(rej.c.id, rej.c.user_key).where(rej.c.created_at < cutoff).limit(500)
        ).all()
        if not batch:
            return gone
        uow.session.execute(delete(rej).where(rej.c.id.in_([r.id for r in batch])))
        for r in batch:
            touch(uow.session, REJECTIONS, r.id, r.user_key, deleted=True, server_record=True)
        gone += len(batch)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
