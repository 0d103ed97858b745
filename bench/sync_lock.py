"""How long one sync push holds SQLite's write lock, at the push limits.

    python bench/sync_lock.py                  # 1,000 records (MINQING_SYNC_MAX_PUSH_RECORDS)
    python bench/sync_lock.py --records 200

On SQLite a push runs in one `BEGIN IMMEDIATE` transaction: from that BEGIN to its COMMIT
no other request can write (they wait up to the busy timeout, then fail). This bench builds
a SpatiaLite database (the demo-sized test territory of bench/sync.py: 10 grids, one
collector with a device), then times, in-process, the span from BEGIN IMMEDIATE to the end
of the commit for pushes of N records of each kind a phone sends:

- N new patrol logs (set-wise path);
- N edits of existing logs (set-wise: `patrols.edit_logs`);
- N deletions of existing logs (each refused: logs are kept on the server);
- N new logs outside the collector's grids (each refused: `outside_your_grids`).

Baseline in the same run: N rows written by one raw executemany INSERT in one transaction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_app


def _bench_sync() -> Any:
    """bench/sync.py (its territory and phones), loaded under another name: `sync` is the
    engine's package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_sync", Path(__file__).with_name("sync.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args, _unknown = parser.parse_known_args()

    import random

    from server.services.syncing import sync as sync_service

    held: list[float] = []
    cpu: list[float] = []
    original = sync_service._write_lock

    @contextmanager
    def timed_lock() -> Any:
        began, began_cpu = time.perf_counter(), time.process_time()
        with original():
            yield
        held.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)

    sync_service._write_lock = timed_lock  # type: ignore[assignment]

    bench_sync = _bench_sync()
    app = fresh_app("spatialite")
    world = bench_sync.setup(app, 1)
    phone = world["devices"][0]
    app.config["SYNC_PUSHES_PER_MINUTE"] = 1_000_000
    app.config["SYNC_MAX_PUSH_RECORDS"] = max(args.records, app.config["SYNC_MAX_PUSH_RECORDS"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {phone['token']}", "Content-Type": "application/json"}
    rng = random.Random(3)
    n = args.records

    def pull() -> int:
        return int(client.get("/api/v1/sync/pull", headers=headers).get_json()["timestamp"])

    def push(changes: dict[str, Any]) -> tuple[tuple[float, float], Any]:
        cursor = pull()
        held.clear()
        cpu.clear()
        body = json.dumps({"patrol_logs": {"created": [], "updated": [], "deleted": [], **changes}})
        answer = client.post(
            f"/api/v1/sync/push?last_pulled_at={cursor}", data=body, headers=headers
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert len(held) == 1, held
        return (held[0], cpu[0]), answer.get_json()

    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        logs = bench_sync.new_logs(rng, phone["grid"], phone["grid_id"], n)
        took, answer = push({"created": logs})
        assert not answer, answer
        results.setdefault(f"{n:,} new logs", []).append(took)
        edits = [{**log, "text": log["text"] + " 已处理"} for log in logs]
        took, answer = push({"updated": edits})
        assert not answer, answer
        results.setdefault(f"{n:,} log edits", []).append(took)
        took, answer = push({"deleted": [log["id"] for log in logs]})
        results.setdefault(f"{n:,} deletions (each refused)", []).append(took)
        other = (phone["grid"] + 1) % bench_sync.GRIDS
        outside = bench_sync.new_logs(rng, other, world["grid_ids"][other], n)
        took, answer = push({"created": outside})
        assert len(answer["experimentalRejectedIds"]["patrol_logs"]) == n, answer
        results.setdefault(f"{n:,} new logs outside my grids (refused)", []).append(took)

    from sqlalchemy import text

    from server.extensions import db

    raw_times = []
    with app.app_context():
        for r in range(args.repeat):
            rows = [
                {
                    "id": f"raw-{r}-{i}",
                    "c": phone["collector_id"],
                    "g": phone["grid_id"],
                    "s": world["subdistrict_id"],
                    "t": "巡查",
                    "p": "POINT(119.431 32.391)",
                    "lon": 119.431,
                    "lat": 32.391,
                }
                for i in range(n)
            ]
            began = time.perf_counter()
            db.session.execute(
                text(
                    "INSERT INTO patrol_logs (id, collector_id, grid_id, subdistrict_id, text,"
                    " point, lon, lat, photos, logged_at, created_at, updated_at) VALUES (:id,"
                    " :c, :g, :s, :t, ST_GeomFromText(:p, 4326), :lon, :lat, '[]',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                rows,
            )
            db.session.commit()
            raw_times.append(time.perf_counter() - began)
    print(f"\nSQLite write lock held by one push (BEGIN IMMEDIATE → COMMIT), {args.repeat} runs")
    print(
        "  (cpu s: this process's CPU time while it held the lock — what the span would be on"
        " an idle machine, less disk waits; wall s grows with the machine's load)"
    )
    print(f"  {'push':<44} {'wall s':>7} {'max':>6} {'cpu s':>6} {'× raw':>6}")
    base = statistics.median(raw_times)
    for label, pairs in results.items():
        walls = [w for w, _ in pairs]
        cpus = [c for _, c in pairs]
        print(
            f"  {label:<44} {statistics.median(walls):7.2f} {max(walls):6.2f} "
            f"{statistics.median(cpus):6.2f} {statistics.median(walls) / base:6.1f}"
        )
    print(
        f"  {'baseline: raw executemany of ' + str(n) + ' rows':<44} "
        f"{base:7.2f} {max(raw_times):6.2f} {'':>6} {1.0:6.1f}"
    )


if __name__ == "__main__":
    main()
