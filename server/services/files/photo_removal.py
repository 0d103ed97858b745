"""Removing stored photos (photos of people past their keeping time): files gone, row kept, and
every synced record that lists the photo marked changed, so phones pull it again without it.

Every removal goes through `remove`. The records holding a photo are found and stamped in the
change log set-wise, at the commit of the caller's transaction: one `INSERT … SELECT` per
synced table (cases through `case_attachments`; patrol logs and case actions through the
hashes in their `photos` JSON lists), whatever the number of photos and records. Their pulls
leave removed hashes out (`syncing/sync_tables.py`), so a device in scope gets each record
back without the photo and drops its copy (mobile/src/photos.js).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, String, case, cast, exists, func, select, update

from server.models import Attachment, CaseAction, CaseAttachment, PatrolLog
from server.models import Case as CaseModel
from server.services.files import attachments
from server.services.uow import UnitOfWork
from sync.tracking import touch_selected

# The synced tables (their names in the sync registry) whose records list photos.
CASES = "cases"
PATROL_LOGS = "patrol_logs"
CASE_ACTIONS = "case_actions"


def remove(uow: UnitOfWork, shas: Sequence[str]) -> None:
    """Delete the files of `shas`, mark them removed, and mark every synced record listing
    one of them changed (in this unit of work; set-wise at its commit).

    Files go first: should the transaction fail, the rows stay as they were and a retry removes
    them again (deleting a missing file is no error)."""
    wanted = sorted(set(shas))
    if not wanted:
        return
    mimes: dict[str, str] = {
        sha: mime
        for sha, mime in uow.session.execute(
            select(Attachment.sha256, Attachment.mime).where(Attachment.sha256.in_(wanted))
        )
    }
    for sha in wanted:
        for path in _files(sha, mimes.get(sha)):
            path.unlink(missing_ok=True)
    uow.session.execute(
        update(Attachment)
        .where(Attachment.sha256.in_(wanted))
        .values(removed_at=uow.now, thumbnail_ready=False)
        .execution_options(synchronize_session=False)
    )
    for table, query in holders(uow.session.get_bind().dialect.name, wanted):
        touch_selected(uow.session, table, query)


def holders(dialect: str, shas: Sequence[str]) -> list[tuple[str, Select[Any]]]:
    """Per synced table, the query of (id, scope key) of its records listing one of `shas`."""
    wanted = list(shas)
    return [
        (
            CASES,
            select(CaseModel.id, CaseModel.grid_id).where(
                CaseModel.id.in_(
                    select(CaseAttachment.case_id).where(CaseAttachment.sha256.in_(wanted))
                )
            ),
        ),
        (
            PATROL_LOGS,
            select(PatrolLog.id, PatrolLog.grid_id).where(
                lists_any(dialect, PatrolLog.photos, wanted)
            ),
        ),
        (
            CASE_ACTIONS,
            select(CaseAction.id, CaseAction.grid_id).where(
                lists_any(dialect, CaseAction.photos, wanted)
            ),
        ),
    ]


def lists_any(dialect: str, photos: Any, shas: Sequence[str]) -> ColumnElement[bool]:
    """Whether the JSON list `photos` holds one of `shas` (its elements unnested: the
    statement's text does not grow with the number of hashes)."""
    if dialect == "postgresql":
        # json_array_elements_text raises on anything but an array (a JSON null): skip those
        as_array = case((func.json_typeof(photos) == "array", photos), else_=cast("[]", JSON))
        items = func.json_array_elements_text(as_array).table_valued("value")
    else:
        items = func.json_each(photos).table_valued("value")
    return exists(select(1).select_from(items).where(cast(items.c.value, String).in_(shas)))


def _files(sha: str, mime: str | None) -> Iterable[Path]:
    yield attachments.path_for(sha, "original")
    yield attachments.path_for(sha, "thumb")
    if mime in attachments.EXTENSIONS:
        yield attachments.path_for(sha, "public", mime=mime)
