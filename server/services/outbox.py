"""Celery tasks enqueued only after the transaction that called for them commits.

A use case calls `after_commit(task, *ids)` while it works; if the transaction rolls back,
nothing is sent. Without a broker (the embedded default) the task runs in-process, still
after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db

log = logging.getLogger(__name__)
_KEY = "minqing.after_commit"


def after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Send `task.delay(*args, **kwargs)` once the current transaction has committed.

    `task` is a task or its name; it is looked up on *this* Flask app's Celery, so the
    task runs (eagerly or on a worker) against this app's database.
    """
    name = task if isinstance(task, str) else task.name
    bound = current_app.extensions["celery"].tasks[name]
    session = db.session()
    session.connection()  # make sure a real transaction exists, so a rollback is seen
    session.info.setdefault(_KEY, []).append((bound, args, kwargs))


@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for task, args, kwargs in pending:
        try:
            task.delay(*args, **kwargs)
        except Exception:  # the broker is down: the periodic sweeps pick the work up later
            log.exception("could not enqueue %s%r", getattr(task, "name", task), args)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
