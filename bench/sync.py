"""Offline sync on PostGIS: push ingest against raw inserts, and pull cost against history.

    make bench                      # with the other benchmarks
    python bench/sync.py            # 20,000 logs from 100 devices; pulls at 10k and 1M history
    python bench/sync.py --quick    # smoke: 2,000 logs from 10 devices; 1k and 20k history

A synthetic sub-district (one community of 10 square grids near Yangzhou), 100 collectors
(10 per grid) with one device each, and a real server: gunicorn (`tests/live.py`, 2 workers)
on the bench database. Everything goes through real HTTP on 127.0.0.1.

(a) Push ingest: each device pushes its 200 new patrol logs in one
    `POST /api/v1/sync/push` (100 batches, one after another), timed end to end from the
    encoded body (the phone's JSON is made before the clock starts, as the raw insert's
    parameter tuples are) to the parsed answer; after each push the same rows (new ids) go
    in with a raw psycopg `executemany` INSERT, one transaction per batch of 200 — the floor
    for writing these rows at all. The two ways alternate batch by batch, so load from other
    work on the machine hits both alike.
(a') Statements: a push of 200 logs and of 1 log with every SQL statement (and commit)
    counted (in-process, the same code the server runs), and a 1-record push's latency over
    HTTP.
(b) Pull cost: the history (patrol logs spread over the 10 grids) is loaded by COPY straight
    into `patrol_logs` and the engine's change log `sync_rows` (one cursor per record, the
    clock moved past them), then another device of the same grid pushes 10 new logs and a
    device times `GET /api/v1/sync/pull?last_pulled_at=<before those 10>` (median of 30
    after warm-up) — at 10,000 rows of history, then again at 1,000,000.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ROOT, fresh_app
from sqlalchemy import text

sys.path.insert(0, str(ROOT / "tests"))

LON0, LAT0 = 119.43, 32.39
STEP = 0.004  # grid squares of ~380 × 440 m
GRIDS = 10
SUBDISTRICT = "321002098"
COMMUNITY = SUBDISTRICT + "001"


def territory() -> dict[str, Any]:
    def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}

    def feature(code: str, name: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": geometry,
            "properties": {"code": code, "name": name, **props},
        }

    x1 = LON0 + GRIDS * STEP
    features = [
        feature(SUBDISTRICT, "同步压测街道", square(LON0, LAT0, x1, LAT0 + STEP)),
        feature(
            COMMUNITY,
            "同步压测社区",
            square(LON0, LAT0, x1, LAT0 + STEP),
            kind="community",
            population=9000,
            households=3000,
        ),
    ]
    for g in range(GRIDS):
        x = LON0 + g * STEP
        features.append(
            feature(
                f"{COMMUNITY}{g + 1:03d}",
                f"压测网格{g + 1}",
                square(x, LAT0, x + STEP, LAT0 + STEP),
                population=900,
                households=300,
            )
        )
    return {"type": "FeatureCollection", "features": features}


def grid_box(g: int) -> tuple[float, float, float, float]:
    x = LON0 + g * STEP
    return x + STEP * 0.1, LAT0 + STEP * 0.1, x + STEP * 0.9, LAT0 + STEP * 0.9


def setup(app: Any, n_devices: int) -> dict[str, Any]:
    """Territory, `n_devices` collectors (round-robin over the grids) with a device each."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Grid, Subdistrict
    from server.services.people.devices import issue_device
    from server.services.people.users import create_user
    from server.services.territory.grids_import import import_geojson
    from server.services.uow import unit_of_work

    with app.app_context():
        with unit_of_work() as uow:
            import_geojson(uow, territory())
        grid_ids = [
            g.id
            for g in db.session.scalars(
                select(Grid).where(Grid.code.like(COMMUNITY + "%")).order_by(Grid.code)
            )
        ]
        sd = db.session.scalar(select(Subdistrict).where(Subdistrict.code == SUBDISTRICT))
        devices = []
        for i in range(n_devices + 2):  # two spare phones for (b)
            g = i % GRIDS
            name = f"sync{i:03d}"
            with unit_of_work() as uow:
                user = create_user(
                    uow,
                    username=name,
                    password="bench-password-1",
                    role="collector",
                    display_name=f"压测收集员{i}",
                    subdistrict_code=SUBDISTRICT,
                    grid_codes=[f"{COMMUNITY}{g + 1:03d}"],
                )
                token = issue_device(uow, name).token
            devices.append(
                {
                    "token": token,
                    "grid": g,
                    "grid_id": grid_ids[g],
                    "collector_id": user.id,
                }
            )
        return {"grid_ids": grid_ids, "subdistrict_id": sd.id, "devices": devices}


def call(url: str, token: str, method: str = "GET", body: bytes | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        assert answer.status == 200, answer.status
        return json.loads(answer.read() or b"null")


def new_logs(rng: random.Random, grid: int, grid_id: int, n: int) -> list[dict[str, Any]]:
    x0, y0, x1, y1 = grid_box(grid)
    now = int(time.time() * 1000)
    return [
        {
            "id": uuid.uuid4().hex,
            "grid_id": str(grid_id),
            "text": f"巡查：楼道堆物 {rng.randint(0, 10**6)}",
            "lon": round(rng.uniform(x0, x1), 7),
            "lat": round(rng.uniform(y0, y1), 7),
            "crs": "wgs84",
            "photos": "[]",
            "logged_at": now - rng.randint(0, 3_600_000),
            "patrol_id": None,
            "category_id": None,
            "case_id": None,
        }
        for _ in range(n)
    ]


def encode(logs: list[dict[str, Any]]) -> bytes:
    return json.dumps({"patrol_logs": {"created": logs, "updated": [], "deleted": []}}).encode()


def push(url: str, device: dict[str, Any], cursor: int, logs: list[dict[str, Any]] | bytes) -> Any:
    body = logs if isinstance(logs, bytes) else encode(logs)
    return call(f"{url}/api/v1/sync/push?last_pulled_at={cursor}", device["token"], "POST", body)


def bench_push(
    app: Any, url: str, world: dict[str, Any], per_device: int, devices: int, rng: random.Random
) -> None:
    """Each device's push, then the same rows (new ids) by raw executemany, batch after
    batch: the two ways alternate, so a machine shared with other work slows both alike and
    the ratio holds within the run."""
    from server.extensions import db

    phones = world["devices"][:devices]
    cursors = [call(f"{url}/api/v1/sync/pull", d["token"])["timestamp"] for d in phones]
    batches = [new_logs(rng, d["grid"], d["grid_id"], per_device) for d in phones]
    rows = sum(len(b) for b in batches)
    sd = world["subdistrict_id"]
    insert = (
        "INSERT INTO patrol_logs (id, collector_id, grid_id, subdistrict_id, text, point, lon, lat,"
        " photos, logged_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s,"
        " ST_GeomFromText(%s, 4326), %s, %s, %s, %s, now(), now())"
    )
    latencies: list[float] = []
    raw_times: list[float] = []
    with app.app_context():
        raw = db.engine.raw_connection()
        cur = raw.cursor()
        for phone, cursor, batch in zip(phones, cursors, batches, strict=True):
            # the phone's body is ready before the clock starts, as the raw insert's rows are
            body = encode(batch)
            t = time.perf_counter()
            answer = push(url, phone, cursor, body)
            latencies.append(time.perf_counter() - t)
            assert not answer or not answer.get("experimentalRejectedIds"), answer
            values = [
                (
                    r["id"] + "-raw",
                    phone["collector_id"],
                    phone["grid_id"],
                    sd,
                    r["text"],
                    f"POINT({r['lon']} {r['lat']})",
                    r["lon"],
                    r["lat"],
                    "[]",
                    datetime.fromtimestamp(r["logged_at"] / 1000, UTC),
                )
                for r in batch
            ]
            t = time.perf_counter()
            cur.executemany(insert, values)
            raw.commit()
            raw_times.append(time.perf_counter() - t)
        raw.close()
        stored = db.session.execute(
            text("SELECT count(*) FROM patrol_logs WHERE id NOT LIKE '%-raw'")
        ).scalar_one()
        assert stored == rows, (stored, rows)
        db.session.remove()
    push_s, raw_s = sum(latencies), sum(raw_times)
    ratios = [p / r for p, r in zip(latencies, raw_times, strict=True)]
    print(
        f"\n(a) push ingest: {rows:,} patrol logs, {len(phones)} devices × {per_device} "
        "(real HTTP to gunicorn, one push after another; each push followed by the raw insert "
        "of the same rows)"
    )
    print(f"  {'way':<52} {'seconds':>8} {'rows/s':>8} {'× raw':>6}")
    print(
        f"  {'POST /api/v1/sync/push, batches of ' + str(per_device):<52} {push_s:8.2f} "
        f"{rows / push_s:8.0f} {push_s / raw_s:6.1f}"
    )
    print(
        f"  {'raw executemany INSERT, one commit per batch':<52} {raw_s:8.2f} "
        f"{rows / raw_s:8.0f} {1.0:6.1f}"
    )
    print(
        f"  push latency per batch: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms; raw p50 "
        f"{statistics.median(raw_times) * 1000:.0f} ms; ratio per batch p50 "
        f"{statistics.median(ratios):.1f}, min {min(ratios):.1f}"
    )


def bench_statements(
    app: Any, url: str, world: dict[str, Any], per_device: int, repeat: int
) -> None:
    """SQL statements a push runs, counted in-process (the Flask test client, the same
    code as gunicorn runs), for a push of `per_device` logs and of one log; and a one-record
    push's fixed cost through real HTTP (median of `repeat`)."""
    from sqlalchemy import event

    from server.extensions import db

    spare = world["devices"][-2]
    rng = random.Random(5)
    client = app.test_client()
    statements: list[str] = []

    commits: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def count_commit(_conn: Any) -> None:
        commits.append(1)

    def counted_push(n: int) -> int:
        cursor = call(f"{url}/api/v1/sync/pull", spare["token"])["timestamp"]
        logs = new_logs(rng, spare["grid"], spare["grid_id"], n)
        body = json.dumps({"patrol_logs": {"created": logs, "updated": [], "deleted": []}})
        with app.app_context():
            engine = db.engine
        statements.clear()
        commits.clear()
        event.listen(engine, "before_cursor_execute", count)
        event.listen(engine, "commit", count_commit)
        try:
            answer = client.post(
                f"/api/v1/sync/push?last_pulled_at={cursor}",
                data=body,
                headers={
                    "Authorization": f"Bearer {spare['token']}",
                    "Content-Type": "application/json",
                },
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
            event.remove(engine, "commit", count_commit)
        assert answer.status_code == 200 and not answer.get_json(), answer.get_data(as_text=True)
        return len(statements), len(commits)

    many, many_commits = counted_push(per_device)
    one, one_commits = counted_push(1)
    cursor = call(f"{url}/api/v1/sync/pull", spare["token"])["timestamp"]
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        push(url, spare, cursor, new_logs(rng, spare["grid"], spare["grid_id"], 1))
        samples.append(time.perf_counter() - t)
    print("\n(a') SQL statements per push (counted in-process, same code as the server)")
    print(
        f"  push of {per_device} logs: {many} statements, {many / per_device:.3f} per log "
        f"({many_commits} commits)"
    )
    print(f"  push of 1 log: {one} statements, {one_commits} commits (the fixed cost of a push)")
    print(
        f"  1-record push through real HTTP: p50 {statistics.median(samples) * 1000:.1f} ms, "
        f"min {min(samples) * 1000:.1f} ms ({repeat} pushes)"
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_history(app: Any, world: dict[str, Any], n: int, rng: random.Random) -> None:
    """`n` more patrol logs over the grids, each with its change-log row, by COPY."""
    from server.extensions import db

    sd = world["subdistrict_id"]
    authors = world["devices"]
    with app.app_context():
        conn = db.session.connection()
        clock = conn.execute(text("SELECT value FROM sync_clock WHERE id = 1")).scalar_one()
        raw = conn.connection.dbapi_connection
        start = datetime.now(UTC) - timedelta(days=300)
        logs = io.StringIO()
        changes = io.StringIO()
        with raw.cursor() as cur:
            for k in range(n):
                author = authors[k % len(authors)]
                x0, y0, x1, y1 = grid_box(author["grid"])
                lon, lat = round(rng.uniform(x0, x1), 7), round(rng.uniform(y0, y1), 7)
                rid = f"h{clock + k + 1:010d}"
                at = (start + timedelta(seconds=k * 25)).isoformat()
                logs.write(
                    f"{rid}\t{author['collector_id']}\t{author['grid_id']}\t{sd}\t历史记录{k}\t"
                    f"SRID=4326;POINT({lon} {lat})\t{lon}\t{lat}\t[]\t{at}\t{at}\t{at}\n"
                )
                cursor = clock + k + 1
                changes.write(f"patrol_logs\t{rid}\t{cursor}\t{cursor}\t{author['grid_id']}\tf\n")
                if (k + 1) % 50_000 == 0 or k + 1 == n:
                    with cur.copy(
                        "COPY patrol_logs (id, collector_id, grid_id, subdistrict_id, text, point,"
                        " lon, lat, photos, logged_at, created_at, updated_at) FROM STDIN"
                    ) as copy:
                        copy.write(logs.getvalue())
                    with cur.copy(
                        "COPY sync_rows (table_name, record_id, cursor, created_cursor, scope_key,"
                        " deleted) FROM STDIN"
                    ) as copy:
                        copy.write(changes.getvalue())
                    logs, changes = io.StringIO(), io.StringIO()
        conn.execute(text("UPDATE sync_clock SET value = :v WHERE id = 1"), {"v": clock + n})
        db.session.commit()
        conn = db.session.connection()
        conn.execute(text("ANALYZE patrol_logs"))
        conn.execute(text("ANALYZE sync_rows"))
        db.session.commit()


def clock(app: Any) -> int:
    from server.extensions import db

    with app.app_context():
        value = db.session.execute(text("SELECT value FROM sync_clock WHERE id = 1")).scalar_one()
        db.session.remove()
    return int(value)


def forget_logs(app: Any) -> None:
    """Empty patrol_logs (and their change-log rows) so that (b) starts from no history."""
    from server.extensions import db

    with app.app_context():
        db.session.execute(text("DELETE FROM sync_rows WHERE table_name = 'patrol_logs'"))
        db.session.execute(text("DELETE FROM patrol_logs"))
        db.session.commit()


def time_pull(
    app: Any, url: str, world: dict[str, Any], rng: random.Random, repeat: int
) -> tuple[float, float, float, int]:
    """A writer pushes 10 logs in a grid; a reader of that grid pulls them: p50, p95, min s,
    and the number of records the pull carried."""
    writer = world["devices"][-1]
    grid = writer["grid"]
    reader = next(d for d in world["devices"] if d["grid"] == grid and d is not writer)
    before = clock(app)
    push(url, writer, before, new_logs(rng, grid, writer["grid_id"], 10))
    pull_url = f"{url}/api/v1/sync/pull?last_pulled_at={before}"
    answer = call(pull_url, reader["token"])
    got = sum(len(c["created"]) + len(c["updated"]) for c in answer["changes"].values())
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        call(pull_url, reader["token"])
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), percentile(samples, 0.95), min(samples), got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="10 devices; 1k and 20k history")
    parser.add_argument("--seed", type=int, default=11)
    args, unknown = parser.parse_known_args()
    if unknown:
        print(f"(ignoring arguments meant for other benchmarks: {' '.join(unknown)})")
    if args.quick:
        args.devices, args.small, args.large, args.repeat = 10, 1_000, 20_000, 10
    rng = random.Random(args.seed)

    from live import LiveServer

    began = time.perf_counter()
    app = fresh_app("postgis")
    # one spare phone pushes 30+ times in a minute for (a'): not the rate limit's bench
    app.config["SYNC_PUSHES_PER_MINUTE"] = 1_000_000
    world = setup(app, args.devices)
    live = LiveServer(dict(app.config), Path(app.config["INSTANCE_PATH"]))
    live.start()
    try:
        bench_push(app, live.url, world, args.batch, args.devices, rng)
        bench_statements(app, live.url, world, args.batch, args.repeat)
        forget_logs(app)
        t = time.perf_counter()
        load_history(app, world, args.small, rng)
        small_load = time.perf_counter() - t
        small = time_pull(app, live.url, world, rng, args.repeat)
        t = time.perf_counter()
        load_history(app, world, args.large - args.small - 10, rng)  # 10 came with the pull
        large_load = time.perf_counter() - t
        large = time_pull(app, live.url, world, rng, args.repeat)
    finally:
        live.stop()
    print(f"\n(b) pull of 10 new changes (real HTTP, {args.repeat} pulls after a warm-up)")
    print(
        f"  {'history':<24} {'p50 ms':>8} {'p95 ms':>8} {'min ms':>8} {'changes':>8} "
        f"{'loaded in':>10}"
    )
    for label, (p50, p95, low, got), took in (
        (f"{args.small:,} patrol logs", small, small_load),
        (f"{args.large:,} patrol logs", large, large_load),
    ):
        print(
            f"  {label:<24} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {low * 1000:8.1f} {got:8} "
            f"{took:9.1f}s"
        )
    print(f"  ratio large / small: p50 {large[0] / small[0]:.2f}, min {large[2] / small[2]:.2f}")
    print(f"\n  whole run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
