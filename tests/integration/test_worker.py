"""A real Celery worker on Redis runs our tasks against the same database."""

from __future__ import annotations

import pytest
from conftest import Worker, World
from flask import Flask

pytestmark = pytest.mark.worker


def test_ping_round_trip_reads_the_test_database(
    app: Flask, worker: Worker, world: World, backend: str
) -> None:
    celery = app.extensions["celery"]
    result = celery.send_task("minqing.health.ping", queue=worker.queue)
    summary = result.get(timeout=60)
    assert summary["grids"] == 4
    assert summary["communities"] == 3
    assert summary["backend"] == ("sqlite" if backend == "spatialite" else "postgresql")


def test_after_commit_enqueues_on_the_worker_only_after_commit(
    app: Flask, worker: Worker, world: World
) -> None:
    """A task asked for inside a transaction that rolls back is never sent."""
    from server.extensions import db
    from server.services.outbox import after_commit

    with app.app_context():
        after_commit("minqing.health.ping")
        db.session.rollback()
        assert not db.session().info.get("minqing.after_commit")
        after_commit("minqing.health.ping")
        assert db.session().info.get("minqing.after_commit")
        db.session.commit()
        assert not db.session().info.get("minqing.after_commit")
