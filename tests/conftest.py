"""Fixtures shared by every test: the app on both backends, a small world, tokens.

Tests that take `app` (or anything built on it) run twice: on SpatiaLite and on PostGIS.
PostGIS comes from MINQING_TEST_DATABASE_URL (set by `make test`); without it those
tests fail loudly rather than skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from factories import build_world_geojson
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, text

pytest_plugins = ["phones"]  # sync fixtures: phone, make_phone

TEST_PASSWORD = "test-password-1"
BACKENDS = ("spatialite", "postgis")


def postgis_url() -> str:
    url = os.environ.get("MINQING_TEST_DATABASE_URL")
    if not url:
        pytest.fail(
            "MINQING_TEST_DATABASE_URL is not set: run the suite with `make test`, which "
            "provides a PostGIS database (or set it to a database with the postgis extension)"
        )
    return url


def redis_url() -> str:
    url = os.environ.get("MINQING_TEST_REDIS_URL")
    if not url:
        pytest.fail("MINQING_TEST_REDIS_URL is not set: run the suite with `make test`")
    return url


def drop_all_postgis_tables(url: str) -> None:
    """Leave the database as `CREATE EXTENSION postgis` left it."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'spatial_ref_sys'"
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()


def database_url_for(backend: str, folder: Path, name: str = "minqing") -> str:
    if backend == "spatialite":
        return f"sqlite:///{folder / (name + '.db')}"
    return postgis_url()


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    from server.app import create_app

    config: dict[str, Any] = {
        "MINQING_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "INSTANCE_PATH": str(instance),
        # the engine's tests push many times a minute from one phone; the limit has its own
        # tests (tests/security/test_sync_limits.py)
        "SYNC_PUSHES_PER_MINUTE": 100_000,
    }
    from server.config import engine_options, normalise_database_url, spatialite_url

    url = normalise_database_url(database_url)
    if url.startswith("sqlite"):
        url = spatialite_url(url)
    config["SQLALCHEMY_DATABASE_URI"] = url
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp(f"db-{backend}")
    url = database_url_for(backend, folder)
    if backend == "postgis":
        drop_all_postgis_tables(url)
    return url


@pytest.fixture(scope="session")
def _migrated_app(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    from flask_migrate import upgrade

    app = make_app(database_url, tmp_path_factory.mktemp(f"instance-{backend}"))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    yield app
    with app.app_context():
        from server.extensions import db

        db.engine.dispose()


def wipe(app: Flask) -> None:
    """Delete every row the test wrote (cheaper than re-creating the schema)."""
    from server.extensions import db

    with app.app_context():
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app(_migrated_app: Flask) -> Iterator[Flask]:
    """The app on one backend, with empty tables. Holds no app context of its own."""
    wipe(_migrated_app)
    yield _migrated_app
    wipe(_migrated_app)


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An app context for service-level tests (do not make HTTP requests inside it)."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class World:
    """Two subdistricts; the first with communities A (grids A1, A2) and B (grid B1)."""

    subdistrict_id: int
    other_subdistrict_id: int
    grid_ids: dict[str, int]  # "A1" -> id
    grid_codes: dict[str, str]
    community_ids: dict[str, int]
    unit_id: int
    other_unit_id: int
    user_ids: dict[str, int]


@pytest.fixture
def world(app: Flask) -> World:
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Category, Community, Grid, Subdistrict, Unit
    from server.services.people.users import assign_grids, create_user
    from server.services.territory.grids_import import import_geojson
    from server.services.uow import unit_of_work

    fc, codes = build_world_geojson()
    with app.app_context():
        with unit_of_work() as uow:
            import_geojson(uow, fc)
        sd = db.session.scalar(select(Subdistrict).where(Subdistrict.code == codes["SD"]))
        sd2 = db.session.scalar(select(Subdistrict).where(Subdistrict.code == codes["SD2"]))
        assert sd is not None and sd2 is not None
        unit = Unit(code="U1", name="城管中队", kind="department", subdistrict_id=sd.id)
        unit2 = Unit(code="U2", name="他街道物管", kind="property_office", subdistrict_id=sd2.id)
        db.session.add_all([unit, unit2])
        db.session.add(
            Category(
                code="sanitation",
                name_zh="环境卫生",
                name_en="Sanitation",
                default_priority="normal",
                deadline_hours={"urgent": 4, "high": 24, "normal": 72, "low": 168},
            )
        )
        db.session.commit()
        people = [
            ("cityadmin", "admin", None, None),
            ("admin", "admin", codes["SD"], None),
            ("dispatcher", "dispatcher", codes["SD"], None),
            ("dispatcher2", "dispatcher", codes["SD2"], None),
            ("staff", "unit_staff", codes["SD"], "U1"),
            ("collector", "collector", codes["SD"], None),
            ("collector2", "collector", codes["SD"], None),
            ("collector3", "collector", codes["SD2"], None),
        ]
        user_ids = {}
        for i, (username, role, sd_code, unit_code) in enumerate(people):
            with unit_of_work() as uow:
                user = create_user(
                    uow,
                    username=username,
                    password=TEST_PASSWORD,
                    role=role,
                    display_name=f"测试{username}",
                    phone=f"1380000{i:04d}",
                    subdistrict_code=sd_code,
                    unit_code=unit_code,
                )
            user_ids[username] = user.id
        with unit_of_work() as uow:
            assign_grids(uow, "collector", [codes["A1"]])
        with unit_of_work() as uow:
            assign_grids(uow, "collector2", [codes["B1"]])
        with unit_of_work() as uow:
            assign_grids(uow, "collector3", [codes["C1"]])
        grids = {g.code: g.id for g in db.session.scalars(select(Grid))}
        communities = {c.code: c.id for c in db.session.scalars(select(Community))}
        return World(
            subdistrict_id=sd.id,
            other_subdistrict_id=sd2.id,
            grid_ids={k: grids[v] for k, v in codes.items() if v in grids},
            grid_codes={k: v for k, v in codes.items() if v in grids},
            community_ids={k: communities[v] for k, v in codes.items() if v in communities},
            unit_id=unit.id,
            other_unit_id=unit2.id,
            user_ids=user_ids,
        )


@dataclass
class Worker:
    """A real Celery worker process on Redis, with the test app's database."""

    process: subprocess.Popen[bytes]
    queue: str
    broker: str
    log: Path


@pytest.fixture(scope="session")
def _worker_process(
    _migrated_app: Flask, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    broker = redis_url()
    folder = tmp_path_factory.mktemp(f"worker-{backend}")
    queue = f"minqing-test-{backend}-{os.getpid()}"  # no stray worker can take our tasks
    env = {
        **os.environ,
        "MINQING_ENV": "testing",
        "DATABASE_URL": _migrated_app.config["SQLALCHEMY_DATABASE_URI"],
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "MINQING_INSTANCE_PATH": _migrated_app.config["INSTANCE_PATH"],
        "MINQING_MEDIA_PATH": _migrated_app.config["MEDIA_PATH"],
        "MINQING_WEBHOOK_RETRY_BASE_SECONDS": "1",
        "MINQING_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # the webhook tests' loopback receivers
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    log = folder / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "server.celery_app",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process=process, queue=queue, broker=broker, log=log)
    yield worker
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def worker(app: Flask, _worker_process: Worker) -> Iterator[Worker]:
    """Tasks the app enqueues go to Redis and run on the real worker (not in-process).

    The app gets a fresh Celery app configured for the broker (Celery caches its broker
    connection and result backend at first use, so reconfiguring the eager one is not
    enough); the eager one is put back afterwards.
    """
    from server.tasks import celery_init_app

    eager = app.extensions["celery"]
    saved = app.config["CELERY"]
    app.config["CELERY"] = {
        **saved,
        "broker_url": _worker_process.broker,
        "result_backend": _worker_process.broker,
        "task_always_eager": False,
        "task_default_queue": _worker_process.queue,
    }
    on_redis = celery_init_app(app)
    try:
        yield _worker_process
    finally:
        app.config["CELERY"] = saved
        app.extensions["celery"] = eager
        eager.set_default()
        on_redis.close()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def login(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> str:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


@pytest.fixture
def tokens(client: FlaskClient, world: World) -> dict[str, str]:
    return {name: login(client, name) for name in world.user_ids}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def _live_server(_migrated_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from live import LiveServer

    server = LiveServer(dict(_migrated_app.config), tmp_path_factory.mktemp("live"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server(app: Flask, _live_server: Any) -> Iterator[Any]:
    """A real server (gunicorn, child process) on this test's database; `.url`, `.restart()`."""
    if _live_server.process is None:
        _live_server.start()
    yield _live_server
