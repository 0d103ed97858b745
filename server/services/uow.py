"""The unit of work: one transaction per request, task, command or sync push.

Use cases take a `UnitOfWork` (the session and the clock) and never commit. The edges — API
and web handlers, Celery tasks, CLI commands, the sync push — open one with
`unit_of_work()`, call the use case, and the outermost block commits once. Work queued with
`uow.after_commit(...)` is released only after that outermost commit, and dropped on rollback.

    with unit_of_work() as uow:
        issued = issue_device(uow, "collector01")
    # committed; tasks enqueued
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from server.errors import Conflict
from server.extensions import AppSession, db
from server.models.base import utcnow
from server.services import outbox

_DEPTH = "minqing.uow_depth"
_WROTE = "minqing.wrote"


@dataclass
class UnitOfWork:
    """What a use case works with: the session of the transaction and the time it runs at."""

    session: Session
    now: datetime

    def after_commit(self, task: Any, *args: Any, **kwargs: Any) -> None:
        """Enqueue `task(*args, **kwargs)` once the outermost transaction has committed."""
        outbox.after_commit(task, *args, **kwargs)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Work that may fail on its own (one pushed record): undone alone if it raises,
        with the tasks it queued; the unit of work goes on."""
        with self.session.begin_nested():
            yield


def stale_version() -> Conflict:
    """A concurrent writer won the race for a versioned record (409 `stale_version`)."""
    return Conflict(
        "stale_version",
        "the case changed meanwhile; reload and retry",
        "事项已被他人修改，请刷新后重试",
        field="version",
    )


@contextmanager
def unit_of_work(now: datetime | None = None, *, read_mostly: bool = False) -> Iterator[UnitOfWork]:
    """Open a unit of work on the app's session; the outermost one commits or rolls back.

    A unit of work opened inside another (a CLI command calling a handler, a sync push calling
    the API's use cases) joins it: only the outermost block commits.

    `read_mostly` (the token check before every API view): the outermost block commits only
    when it wrote; otherwise its transaction goes on into the view's, which saves the request
    a second connection checkout, BEGIN and COMMIT.
    """
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield UnitOfWork(session=session, now=now or utcnow())
        if depth == 0 and not (read_mostly and not wrote(session)):
            session.commit()
    except StaleDataError as exc:  # a concurrent action won the race (at a flush or the commit)
        if depth == 0:
            session.rollback()
            raise stale_version() from exc
        raise
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth


def wrote(session: Session) -> bool:
    """Whether the session's transaction holds writes (pending, flushed or executed DML)."""
    return bool(session.new or session.dirty or session.deleted or session.info.get(_WROTE))


@event.listens_for(AppSession, "after_flush")
def _flushed(session: Session, _ctx: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(AppSession, "do_orm_execute")
def _executed(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(AppSession, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
