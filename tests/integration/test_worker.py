"""A real Celery worker on Redis runs our tasks against the same database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from conftest import World, redis_url
from flask import Flask

pytestmark = pytest.mark.worker


@pytest.fixture
def worker(app: Flask, tmp_path: Path) -> Iterator[Celery]:
    """A worker process with the test app's database and Redis as broker and result store."""
    broker = redis_url()
    env = {
        **os.environ,
        "MINQING_ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "MINQING_INSTANCE_PATH": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"  # no stray worker can take our tasks
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "server.celery_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sender = Celery("minqing-test-sender", broker=broker, backend=broker)
    sender.conf.task_default_queue = queue
    try:
        yield sender
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        sender.close()
        if process.returncode not in (0, -signal.SIGTERM):
            print(output.decode(errors="replace"))


def test_ping_round_trip_reads_the_test_database(
    worker: Celery, world: World, backend: str
) -> None:
    result = worker.send_task("minqing.health.ping")
    summary = result.get(timeout=60)
    assert summary["grids"] == 4
    assert summary["communities"] == 3
    assert summary["backend"] == ("sqlite" if backend == "spatialite" else "postgresql")
