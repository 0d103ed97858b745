"""A 100k-row 台账 export: time and peak memory, XLSX and CSV, on SpatiaLite and PostGIS.

    make bench
    python bench/exports.py --rows 100000 --backend spatialite --backend postgis

Fills the demo subdistrict with synthetic cases (bench/cases.py's generator), then exports
the whole queue as a dispatcher through the real app (GET /api/v1/exports/cases, auth,
scope, masking, the export log), reading the streamed body chunk by chunk. Prints the time,
the time to the first byte, the file size, and the peak of Python memory allocated during
the export (tracemalloc, a separate run) next to the process's peak RSS. The file is opened
back (openpyxl read-only / csv) to check its row count.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import time
import tracemalloc
from typing import Any

from _common import fresh_app
from cases import load
from sqlalchemy import select


def centre(grid: Any) -> tuple[float, float]:
    from geoalchemy2.shape import to_shape

    point = to_shape(grid.geom).representative_point()
    return round(point.x, 7), round(point.y, 7)


def export_once(client: Any, headers: dict[str, str], fmt: str) -> tuple[float, float, bytes]:
    """Seconds to the first byte and to the last, and the file."""
    started = time.perf_counter()
    response = client.get(f"/api/v1/exports/cases?format={fmt}", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    first = None
    parts = []
    for chunk in response.response:
        if first is None:
            first = time.perf_counter() - started
        parts.append(chunk)
    response.close()
    return first or 0.0, time.perf_counter() - started, b"".join(parts)


def rows_in(fmt: str, data: bytes) -> int:
    if fmt == "csv":
        return sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    return sum(1 for _ in book.worksheets[0].iter_rows()) - 1


def peak_python_mb(client: Any, headers: dict[str, str], fmt: str) -> float:
    """Peak Python allocation during one export, counting only what the export holds (the
    chunks are dropped as they come, as a server sends them)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    response = client.get(f"/api/v1/exports/cases?format={fmt}", headers=headers, buffered=False)
    for _chunk in response.response:
        pass
    response.close()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def run(backend: str, rows: int) -> None:
    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Category, Grid, Subdistrict
    from server.services.uow import unit_of_work

    app = fresh_app(backend)
    client = app.test_client()
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        ctx = {
            "grids": [(g.id, g.community_id, *centre(g)) for g in db.session.scalars(select(Grid))],
            "categories": list(db.session.scalars(select(Category.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": random.Random(7),
        }
        seconds = load(rows, 0, ctx) if backend == "postgis" else _load_sqlite(rows, ctx)
    print(f"\n## {backend}: loaded {rows:,} cases in {seconds:.1f} s")
    token = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": "bench-password"}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    print(
        f"  {'format':<6} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'1st byte s':>10} "
        f"{'MB':>6} {'peak Python MB':>15} {'peak RSS MB':>12}"
    )
    for fmt in ("xlsx", "csv"):
        first, total, data = export_once(client, headers, fmt)
        count = rows_in(fmt, data)
        peak = peak_python_mb(client, headers, fmt)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  {fmt:<6} {count:>8,} {total:8.1f} {count / total:8,.0f} {first:10.2f} "
            f"{len(data) / 2**20:6.1f} {peak:15.1f} {rss:12.0f}"
        )


def _load_sqlite(rows: int, ctx: dict[str, Any]) -> float:
    # bench/cases.py's loader, whose ANALYZE statement both backends understand
    return load(rows, 0, ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", action="append", choices=["spatialite", "postgis"])
    args, _ = parser.parse_known_args()
    for backend in args.backend or ["spatialite", "postgis"]:
        run(backend, args.rows)


if __name__ == "__main__":
    main()
