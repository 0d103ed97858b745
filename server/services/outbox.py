"""Celery tasks enqueued only after the outermost transaction that called for them commits.

A use case calls `uow.after_commit(task, *ids)` while it works. The tasks are sent when the
outermost transaction of the app's session commits — never at a savepoint's release — and
dropped when it rolls back; a savepoint rolled back drops the tasks queued inside it only.
Without a broker (the embedded default) the task runs in-process, still after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from server.extensions import AppSession, db

log = logging.getLogger(__name__)
_KEY = "minqing.after_commit"  # session.info: [(task, args, kwargs)] in order
_MARKS = "minqing.after_commit_marks"  # session.info: {savepoint: queue length at its start}


def after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Send `task.delay(*args, **kwargs)` once the outermost transaction has committed.

    `task` is a task or its name; it is looked up on *this* Flask app's Celery, so the
    task runs (eagerly or on a worker) against this app's database.
    """
    name = task if isinstance(task, str) else task.name
    bound = current_app.extensions["celery"].tasks[name]
    session = db.session()
    session.connection()  # make sure a real transaction exists, so a rollback is seen
    session.info.setdefault(_KEY, []).append((bound, args, kwargs))


def pending(session: Session) -> int:
    """How many tasks wait for the commit (tests, diagnostics)."""
    return len(session.info.get(_KEY, []))


@event.listens_for(AppSession, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_KEY, []))


@event.listens_for(AppSession, "after_commit")
def _send(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the work is not durable until the outermost commit
    session.info.pop(_MARKS, None)
    queued = session.info.pop(_KEY, [])
    for task, args, kwargs in queued:
        try:
            task.delay(*args, **kwargs)
        except Exception:  # the broker is down: the periodic sweeps pick the work up later
            log.exception("could not enqueue %s%r", getattr(task, "name", task), args)


@event.listens_for(AppSession, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        mark = session.info.get(_MARKS, {}).pop(previous, None)
        if mark is not None:
            del session.info.get(_KEY, [])[mark:]
    elif previous.parent is None:
        session.info.pop(_KEY, None)
        session.info.pop(_MARKS, None)
