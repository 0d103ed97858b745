"""Shared set-up for benchmarks: an app on a fresh database of the chosen backend."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T = TypeVar("T")


def fresh_app(backend: str) -> Flask:
    """An app on an empty, migrated database: a temp SpatiaLite file, or the bench PostGIS."""
    from flask_migrate import upgrade

    from server.app import create_app
    from server.config import engine_options, normalise_database_url, spatialite_url

    if backend == "spatialite":
        folder = Path(tempfile.mkdtemp(prefix="minqing-bench-"))
        url = spatialite_url(f"sqlite:///{folder / 'bench.db'}")
    else:
        raw = os.environ.get("MINQING_BENCH_DATABASE_URL")
        if not raw:
            raise SystemExit("MINQING_BENCH_DATABASE_URL is not set (run `make bench`)")
        url = normalise_database_url(raw)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            for table in (
                conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                        "AND tablename <> 'spatial_ref_sys'"
                    )
                )
                .scalars()
                .all()
            ):
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        engine.dispose()
        folder = Path(tempfile.mkdtemp(prefix="minqing-bench-"))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
            "INSTANCE_PATH": str(folder),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    return app


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run `fn` `repeat` times; the result of the last run and the median seconds."""
    times = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)
