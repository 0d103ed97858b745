"""Photos of people (PIPL 最小必要) are kept only as long as their case needs them.

A photo flagged `personal` (it shows people; the uploader or a dispatcher says so) is removed
MINQING_PERSON_PHOTO_DAYS after every case and topic holding it has ended (cases: closed,
rejected, merged; topics: declined, closed). A photo still held by an open case or topic, or
by one that ended less than that long ago, stays. A patrol log ends when it is logged, and a
photo is uploaded at or after the observation it shows, so logs never keep a photo longer
than its upload date does. A personal photo held by nothing goes that long after its upload.

Removing deletes the files (original, public copy, thumbnail) and sets `removed_at`; the row
stays, so pages and the API can say the photo was removed (410 `photo_removed`). Every synced
record listing it (cases, patrol logs, case actions) is marked changed in the same
transaction, set-wise (`files/photo_removal.py`), so phones pull them again without it and
drop their copy.

Set-wise: one query a batch of 500 finds the personal photos still stored (a partial index
holds exactly those) that no open or recently ended case holds (`case_attachments` indexed by
photo); the topics still open or recently ended are read once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, select

from server.domain import deliberation as dl
from server.domain.cases import FINAL
from server.models import Attachment, Case, CaseAttachment, Topic
from server.services.files import photo_removal
from server.services.uow import UnitOfWork

BATCH = 500


def cutoff(uow: UnitOfWork) -> datetime:
    """Holders that ended before this no longer keep a personal photo."""
    return uow.now - timedelta(days=int(current_app.config["PERSON_PHOTO_DAYS"]))


def due_query(before: datetime, after_sha: str = "") -> Select[str]:
    """Personal photos still stored, uploaded before `before`, that no case still needs (open,
    or ended after `before`); by hash, from `after_sha` on, a batch at a time."""
    ended_at = func.coalesce(Case.closed_at, Case.updated_at)
    needed = (
        select(CaseAttachment.sha256)
        .join(Case, Case.id == CaseAttachment.case_id)
        .where(
            CaseAttachment.sha256 == Attachment.sha256,
            Case.status.not_in([s.value for s in FINAL]) | (ended_at >= before),
        )
        .exists()
    )
    return (
        select(Attachment.sha256)
        .where(
            Attachment.personal.is_(True),
            Attachment.removed_at.is_(None),
            Attachment.created_at < before,
            Attachment.sha256 > after_sha,
            ~needed,
        )
        .order_by(Attachment.sha256)
        .limit(BATCH)
    )


def kept_by_topics(uow: UnitOfWork, before: datetime) -> set[str]:
    """Every photo of a topic still open or ended after `before` (topics are few: one
    query, whatever the number of candidates)."""
    ended_at = func.coalesce(Topic.closed_at, Topic.updated_at)
    kept: set[str] = set()
    rows = uow.session.scalars(
        select(Topic.photos).where(
            Topic.status.not_in([s.value for s in dl.FINAL]) | (ended_at >= before)
        )
    )
    for photos in rows:
        kept.update(photos or [])
    return kept


def remove_due(uow: UnitOfWork) -> int:
    """Remove every personal photo past its keeping time; how many went."""
    before = cutoff(uow)
    topics: set[str] | None = None
    removed = 0
    last = ""
    while True:
        batch = list(uow.session.scalars(due_query(before, last)))
        if not batch:
            return removed
        last = batch[-1]
        if topics is None:
            topics = kept_by_topics(uow, before)
        due = [sha for sha in batch if sha not in topics]
        if due:
            photo_removal.remove(uow, due)
            removed += len(due)
