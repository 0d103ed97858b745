"""A realistic mix at a fixed arrival rate against gunicorn on PostGIS, with locust.

    python bench/load_mix.py                                 # 20k cases, 40 users, 60 s
    python bench/load_mix.py --cases 100000 --users 60 --rate 0.5 --seconds 60

Sets up the demo sub-district (seeded, its index computed for yesterday) and `--cases`
cases by COPY (bench/queue_load.py's loader), starts gunicorn (2 workers × 4 threads), and
runs `locust -f bench/locustfile.py --headless` for `--seconds` with `--users` users, each
doing `--rate` tasks a second (dispatchers paging the queue and accepting cases, collectors
syncing and reporting, residents opening links and rating, the public board). Prints per
request type and in total: requests, throughput, p50/p95/p99 and failures (locust's CSV).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import fresh_app
from _server import Gunicorn
from queue_load import copy_cases
from sqlalchemy import select

HERE = Path(__file__).resolve().parent


def prepare(n_cases: int) -> tuple[str, dict[str, Any]]:
    """The database URL and the data the locust users need."""
    from geoalchemy2.shape import to_shape

    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Case, Category, CollectorGrid, Grid, Subdistrict, Unit, User
    from server.services.patrolling import index
    from server.services.uow import unit_of_work

    app = fresh_app("postgis")
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        grids = []
        for g in db.session.scalars(select(Grid)):
            p = to_shape(g.geom).representative_point()
            grids.append((g.id, g.community_id, round(p.x, 7), round(p.y, 7)))
        ctx = {
            "grids": grids,
            "categories": list(db.session.scalars(select(Category.id))),
            "units": list(db.session.scalars(select(Unit.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": random.Random(5),
        }
        copy_cases(n_cases, 0, ctx)
        with unit_of_work() as uow:
            index.compute_day(uow, index.yesterday())
        points = {gid: (x, y) for gid, _c, x, y in grids}
        collectors = [
            (username, points[grid_id])
            for username, grid_id in db.session.execute(
                select(User.username, CollectorGrid.grid_id).join(
                    CollectorGrid, CollectorGrid.collector_id == User.id
                )
            )
        ]
        links = list(db.session.scalars(select(Case.public_token).limit(5000)))
        awaiting = list(
            db.session.scalars(
                select(Case.public_token).where(Case.status == "awaiting_rating").limit(5000)
            )
        )
        url = db.engine.url.render_as_string(hide_password=False)
    data = {
        "password": "bench-password",
        "collectors": sorted(set(collectors)),
        "links": links,
        "awaiting_rating": awaiting,
    }
    return url, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--rate", type=float, default=0.5, help="tasks per user per second")
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()

    url, data = prepare(args.cases)
    folder = Path(tempfile.mkdtemp(prefix="minqing-locust-"))
    data_file = folder / "data.json"
    data_file.write_text(json.dumps(data))
    with Gunicorn(url) as server:
        print(
            f"gunicorn 2 workers × 4 threads on :{server.port}; {args.cases:,} cases; "
            f"{args.users} users × {args.rate} tasks/s for {args.seconds} s"
        )
        env = {
            **os.environ,
            "MINQING_LOAD_DATA": str(data_file),
            "MINQING_LOAD_RATE": str(args.rate),
        }
        cmd = [
            sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
            "--users", str(args.users), "--spawn-rate", str(args.users),
            "--run-time", f"{args.seconds}s", "--host", server.url,
            "--csv", str(folder / "run"), "--only-summary", "--stop-timeout", "10",
            "--loglevel", "WARNING",
        ]  # fmt: skip
        print("$ " + " ".join(cmd[2:]))
        done = subprocess.run(cmd, env=env, cwd=HERE.parent, capture_output=True, text=True)
        if done.returncode not in (0, 1):  # 1: some requests failed (reported below)
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"locust exited {done.returncode}")
    report(folder / "run_stats.csv", args)
    failures = folder / "run_failures.csv"
    if failures.exists():
        rows = list(csv.DictReader(failures.open()))
        for row in rows[:10]:
            what = f"{row['Method']} {row['Name']}"
            print(f"  failure: {what}: {row['Error'][:150]} ×{row['Occurrences']}")


def report(stats_csv: Path, args: Any) -> None:
    rows = list(csv.DictReader(stats_csv.open()))
    print(
        f"\n## mixed load: {args.users} users at {args.users * args.rate:.0f} tasks/s offered, "
        f"{args.seconds} s, {args.cases:,} cases (PostGIS, gunicorn 2 × 4)"
    )
    print(
        f"  {'request':<36} {'count':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'fail':>5}"
    )
    for row in rows:
        name = row["Name"] if row["Type"] else "all"
        if row["Name"] == "Aggregated":
            name = "ALL"
        print(
            f"  {(row['Type'] + ' ' + name).strip()[:36]:<36} {int(row['Request Count']):6d} "
            f"{float(row['Requests/s']):7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6} "
            f"{int(row['Failure Count']):5d}"
        )
    print("  (latencies in ms)")


if __name__ == "__main__":
    main()
