"""Chaos and load for offline sync: many phones, lossy network, a server crash mid-run.

    make chaos                                          # 50 devices × 200 records, PostGIS
    python scripts/sync_chaos.py --devices 8 --records 25 --backend spatialite

Each device is a `sync.client.SyncClient` in its own thread, talking to a real server
(gunicorn, `tests/live.py`) through an in-process proxy that forwards every request but
drops the response with probability `--drop` (the server applied the request, the phone
never hears back) and sends a request twice with probability `--dup` (a duplicate retry).
Halfway through, the server is killed (SIGKILL) and started again.

Every device first syncs its grids, then goes "offline" and writes `--records` records —
patrol logs and some case reports (5 %), some with a photo, some edited again (a log's text,
a case's collector note) before or after they reached the server — and tries to sync every
10–40 writes; when its retries run out (5 attempts, 10 s timeout) it stays offline and tries
again later. Nothing is deleted: the server keeps logs and cases. Each device keeps a ledger
of what its user meant the server to hold. At the end:

- the server holds exactly the union of the ledgers: 0 lost, 0 duplicated (every record
  carries a unique tag, so one stored twice under two ids is caught too; case numbers are
  unique), equal contents;
- every device converges: after a final sync its local store equals both the server's rows
  for its grids and what a freshly installed phone of the same collector pulls.

It prints the figures and exits 1 on any loss, duplicate, difference or divergence. The
bounded CI version is `tests/sync/test_chaos.py`; both call `run_chaos`.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from sync.client import RetryPolicy, SyncClient, SyncError, Unauthorized  # noqa: E402

PHOTO_SHARE = 0.05
EDIT_SHARE = 0.15
CASE_SHARE = 0.05  # of the writes, offline case reports (the rest are patrol logs)
# per table: the column carrying the record's unique tag, the one edited offline, and the
# columns compared with the server's row
TAG = {"patrol_logs": "text", "cases": "description"}
EDITED = {"patrol_logs": "text", "cases": "collector_note"}
COMPARED = {
    "patrol_logs": ("text", "lon", "lat", "grid_id", "logged_at", "photos"),
    "cases": (
        "description",
        "lon",
        "lat",
        "category_id",
        "collector_note",
        "reported_at",
        "photos",
    ),
}

# ------------------------------------------------------------------------------ the proxy


class LossyProxy:
    """Forwards HTTP to `upstream`; drops responses and duplicates requests at random.

    A dropped response means the request reached the server and was applied; the client's
    socket is closed without an answer. Upstream down (the server restarting) gives 502.
    """

    def __init__(self, upstream: str, *, drop: float, dup: float, seed: int) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.drop, self.dup = drop, dup
        self.rng = random.Random(seed)
        self.plan: list[tuple[bool, bool]] = []  # (drop, dup) for the next requests, then dice
        self.lock = threading.Lock()
        self.counts = {"forwarded": 0, "dropped": 0, "duplicated": 0, "upstream_down": 0}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                drop, dup = proxy._dice()
                answer = None
                for _ in range(2 if dup else 1):
                    answer = proxy._forward(self.command, self.path, self.headers, body)
                if answer is None:
                    answer, drop, dup = (502, [], b""), False, False  # the server is down
                if dup:
                    proxy._count("duplicated")
                if drop:
                    proxy._count("dropped")
                    self.close_connection = True  # applied upstream, never answered
                    return
                status, headers, payload = answer
                self.close_connection = True
                try:
                    self.send_response(status)
                    for name, value in headers:
                        if name.lower() not in (
                            "transfer-encoding",
                            "connection",
                            "content-length",
                        ):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except OSError:
                    pass  # the client timed out and hung up: its retry will come

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _dice(self) -> tuple[bool, bool]:
        with self.lock:
            if self.plan:
                return self.plan.pop(0)
            return self.rng.random() < self.drop, self.rng.random() < self.dup

    def _count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def _forward(
        self, method: str, path: str, headers: Any, body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body, headers=keep)
            response = conn.getresponse()
            payload = response.read()
        except OSError:
            self._count("upstream_down")
            return None
        finally:
            conn.close()
        self._count("forwarded")
        return response.status, response.getheaders(), payload

    def start(self) -> LossyProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------ devices


def tiny_png(seed: str) -> bytes:
    """A valid 4 × 4 PNG whose pixels come from `seed` (a distinct photo per seed)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixels = hashlib.sha512(seed.encode()).digest()[:48]
    rows = b"".join(b"\x00" + pixels[r * 12 : (r + 1) * 12] for r in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class DeviceSpec:
    """A phone to play: its token, its collector and grid, and a second (observer) token of
    the same collector, used for the fresh-install comparison."""

    name: str
    token: str
    collector: str
    collector_id: int
    observer_token: str


@dataclass
class Ledger:
    """What one device's user meant the server to hold: record id -> (table, columns)."""

    records: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    gave_up: int = 0  # syncs abandoned when the retries ran out (the phone went offline)


@dataclass
class ChaosResult:
    devices: int
    records_written: int
    expected: int
    by_table: dict[str, int]  # expected records per table
    on_server: int
    lost: list[str]
    duplicated: list[str]
    different: list[str]
    diverged: list[str]
    errors: list[str]
    retries: int
    retry_causes: dict[str, int]
    gave_up: int
    requests: int
    conflicts: int
    rejected: int
    uploads: int
    proxy: dict[str, int]
    restarts: int
    wall_s: float

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.different or self.diverged or self.errors)

    def summary(self) -> str:
        def few(items: list[str]) -> str:
            return f"{len(items)}" + (f"  e.g. {items[:3]}" if items else "")

        return "\n".join(
            [
                f"devices                 {self.devices}",
                f"records written         {self.records_written}  "
                f"(expected on server {self.expected} {self.by_table}, found {self.on_server})",
                f"lost                    {few(self.lost)}",
                f"duplicated              {few(self.duplicated)}",
                f"contents differ         {few(self.different)}",
                f"devices not converged   {few(self.diverged)}",
                f"device errors           {few(self.errors)}",
                f"requests / retries      {self.requests} / {self.retries}",
                f"retry causes            {self.retry_causes}",
                f"syncs given up          {self.gave_up}  (retries ran out; synced again later)",
                f"409s / rejected         {self.conflicts} / {self.rejected}",
                f"photos uploaded         {self.uploads}",
                f"proxy                   {self.proxy}",
                f"server restarts         {self.restarts}",
                f"wall time               {self.wall_s:.1f} s",
            ]
        )


def _grid_box(client: SyncClient) -> tuple[str, tuple[float, float, float, float]]:
    """The device's grid (its collector has one) and the inner part of its bounding box."""
    grids = client.all("grids")
    if not grids:
        raise RuntimeError("the first sync brought no grid")
    grid = grids[0]
    geometry = json.loads(grid["polygon"])
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else []
    if geometry["type"] == "MultiPolygon":
        ring = geometry["coordinates"][0][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    dx, dy = (max(xs) - min(xs)) * 0.2, (max(ys) - min(ys)) * 0.2
    return str(grid["id"]), (min(xs) + dx, min(ys) + dy, max(xs) - dx, max(ys) - dy)


def try_sync(client: SyncClient, ledger: Ledger) -> bool:
    """One sync; a phone whose retries run out just stays offline and carries on."""
    try:
        client.sync()
    except Unauthorized:
        raise
    except SyncError:
        ledger.gave_up += 1
        return False
    return True


def settle(client: SyncClient, ledger: Ledger, attempts: int = 40) -> None:
    """Sync until the phone has nothing left to push (the network comes back eventually)."""
    for _ in range(attempts):
        if try_sync(client, ledger) and not client.has_local_changes():
            return
        time.sleep(0.5)
    raise SyncError(f"still unsynced after {attempts} syncs")


def play_device(
    spec: DeviceSpec,
    client: SyncClient,
    records: int,
    rng: random.Random,
    progress: Callable[[], None],
) -> Ledger:
    """First sync, then `records` offline writes (patrol logs, some case reports, photos,
    edits) with a sync every 10–40 writes."""
    ledger = Ledger()
    settle(client, ledger)
    grid_id, (x0, y0, x1, y1) = _grid_box(client)
    category_id = next((c["id"] for c in client.all("categories") if c["active"]), None)
    next_sync = rng.randint(10, 40)
    for n in range(records):
        tag = f"[{spec.name}-{n:04d}]"
        photos: list[str] = []
        if rng.random() < PHOTO_SHARE:
            photos.append(client.attach(tiny_png(f"{tag} {rng.random()}")))
        at = int(time.time() * 1000) - rng.randint(0, 3_600_000)
        point = {"lon": round(rng.uniform(x0, x1), 7), "lat": round(rng.uniform(y0, y1), 7)}
        table = "cases" if category_id and rng.random() < CASE_SHARE else "patrol_logs"
        columns: dict[str, Any]
        if table == "cases":
            columns = {
                "category_id": category_id,
                "description": f"{tag} 路灯不亮，已拍照 {rng.randint(0, 10**6)}",
                **point,
                "crs": "wgs84",
                "photos": json.dumps(photos),
                "reported_at": at,
                "collector_note": None,
            }
        else:
            columns = {
                "grid_id": grid_id,
                "text": f"{tag} 巡查记录 {rng.randint(0, 10**6)}",
                **point,
                "crs": "wgs84",
                "photos": json.dumps(photos),
                "logged_at": at,
                "patrol_id": None,
                "category_id": None,
                "case_id": None,
            }
        record_id = client.create(table, columns)
        ledger.records[record_id] = (table, columns)
        progress()
        if rng.random() < EDIT_SHARE:
            victim = rng.choice(list(ledger.records))
            table, columns = ledger.records[victim]
            column = EDITED[table]
            value = f"{columns[TAG[table]].split(']')[0]}] 已更正 {rng.random():.6f}"
            if table == "cases":
                value = f"备注 {rng.random():.6f}"  # the tag stays in the description
            client.update(table, victim, {column: value})
            columns[column] = value
        next_sync -= 1
        if next_sync <= 0:
            try_sync(client, ledger)
            next_sync = rng.randint(10, 40)
    settle(client, ledger)
    return ledger


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-7
    return bool(a == b)


def _local_view(client: SyncClient) -> dict[str, dict[str, dict[str, Any]]]:
    return {t: {r["id"]: r for r in client.all(t)} for t in client.tables()}


def run_chaos(
    server_url: str,
    devices: list[DeviceSpec],
    *,
    records: int,
    drop: float,
    dup: float,
    seed: int,
    restart: Callable[[], None] | None,
    server_rows: Callable[[list[int]], dict[str, dict[str, Any]]],
    retry: RetryPolicy | None = None,
) -> ChaosResult:
    """Play the devices concurrently, restart the server halfway, check truth and convergence.

    `server_rows(collector_ids)` reads the server's database directly, not through the API:
    record id -> `table` and its columns (see `read_server_rows`).
    """
    started = time.perf_counter()
    proxy = LossyProxy(server_url, drop=drop, dup=dup, seed=seed).start()
    # Few attempts, short timeouts: a phone soon gives up and syncs again later.
    retry = retry or RetryPolicy(attempts=5, base_s=0.05, cap_s=1.0)
    clients = {
        d.name: SyncClient(
            proxy.url, d.token, retry=retry, timeout_s=10, rng=random.Random(f"{seed}{d.name}")
        )
        for d in devices
    }
    ledgers: dict[str, Ledger] = {}
    errors: list[str] = []
    written = 0
    lock = threading.Lock()
    halfway = threading.Event()
    total = len(devices) * records

    def progress() -> None:
        nonlocal written
        with lock:
            written += 1
            if written >= total // 2:
                halfway.set()

    def worker(spec: DeviceSpec) -> None:
        try:
            ledgers[spec.name] = play_device(
                spec, clients[spec.name], records, random.Random(f"{seed}/{spec.name}"), progress
            )
        except Exception as err:  # reported, and counted as a failure of the run
            errors.append(f"{spec.name}: {type(err).__name__}: {err}")
            halfway.set()

    threads = [threading.Thread(target=worker, args=(d,), daemon=True) for d in devices]
    for t in threads:
        t.start()
    restarts = 0
    if restart is not None:
        halfway.wait()
        try:
            restart()
            restarts += 1
        except Exception as err:  # the phones carry on; the run fails with the reason
            errors.append(f"server restart: {type(err).__name__}: {str(err)[:300]}")
    for t in threads:
        t.join()

    # Convergence: one more sync each on a quiet network, then compare.
    proxy.drop = proxy.dup = 0.0
    for d in devices:
        try:
            settle(clients[d.name], ledgers.setdefault(d.name, Ledger()))
        except Exception as err:
            errors.append(f"{d.name} final sync: {type(err).__name__}: {err}")

    expected: dict[str, tuple[str, dict[str, Any]]] = {}
    collector_of: dict[str, int] = {}
    for d in devices:
        for record_id, entry in ledgers.get(d.name, Ledger()).records.items():
            expected[record_id] = entry
            collector_of[record_id] = d.collector_id
    actual = server_rows(sorted({d.collector_id for d in devices}))
    lost = sorted(set(expected) - set(actual))
    tags: dict[str, list[str]] = {}
    numbers: dict[str, list[str]] = {}
    for record_id, row in actual.items():
        tag = str(row[TAG[row["table"]]]).split("]")[0]
        tags.setdefault(tag, []).append(record_id)
        if row["table"] == "cases":
            numbers.setdefault(str(row["number"]), []).append(record_id)
    duplicated = sorted(i for i in actual if i not in expected)  # never written, or twice
    duplicated += sorted(t for t, ids in tags.items() if len(ids) > 1)
    duplicated += sorted(f"case number {n}" for n, ids in numbers.items() if len(ids) > 1)
    different = []
    for record_id in sorted(set(expected) & set(actual)):
        (table, want), got = expected[record_id], actual[record_id]
        if got["table"] != table:
            different.append(f"{record_id}: a {table} record stored as {got['table']}")
            continue
        for column in COMPARED[table]:
            if not _same(_norm(column, want[column]), _norm(column, got[column])):
                different.append(f"{record_id}.{column}: {want[column]!r} != {got[column]!r}")
        if got["collector_id"] != collector_of[record_id]:
            different.append(f"{record_id}.collector_id")

    diverged = []
    fresh: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}
    for d in devices:
        if d.collector_id not in fresh:
            observer = SyncClient(server_url, d.observer_token, retry=retry, timeout_s=30)
            settle(observer, Ledger())
            fresh[d.collector_id] = _local_view(observer)
            observer.close()
        truth = fresh[d.collector_id]
        mine = _local_view(clients[d.name])
        if clients[d.name].has_local_changes():
            diverged.append(f"{d.name}: local changes left unpushed")
        for table in sorted(set(truth) | set(mine)):
            want_rows, got_rows = truth.get(table, {}), mine.get(table, {})
            if want_rows != got_rows:
                missing = sorted(set(want_rows) - set(got_rows))[:3]
                extra = sorted(set(got_rows) - set(want_rows))[:3]
                changed = [i for i in want_rows if i in got_rows and want_rows[i] != got_rows[i]]
                detail = ""
                if changed:  # which columns, phone's value -> the server's
                    w, g = want_rows[changed[0]], got_rows[changed[0]]
                    detail = " " + ", ".join(
                        f"{c}: {g.get(c)!r} -> {w.get(c)!r}"
                        for c in sorted(set(w) | set(g))
                        if w.get(c) != g.get(c)
                    )
                diverged.append(
                    f"{d.name}.{table}: missing {missing} extra {extra} differ {changed[:3]}"
                    + detail
                )
        grid = _grid_of(mine)
        for table in TAG:
            held = {
                i for i, r in actual.items() if r["table"] == table and str(r["grid_id"]) == grid
            }
            if held - set(mine.get(table, {})):
                diverged.append(f"{d.name}: server {table} of its grid missing locally")

    stats = [c.stats for c in clients.values()]
    for c in clients.values():
        c.close()
    proxy.stop()
    return ChaosResult(
        devices=len(devices),
        records_written=written,
        expected=len(expected),
        by_table={t: sum(1 for e in expected.values() if e[0] == t) for t in TAG},
        on_server=len(actual),
        lost=lost,
        duplicated=duplicated,
        different=different,
        diverged=diverged,
        errors=errors,
        retries=sum(s.retries for s in stats),
        gave_up=sum(ledger.gave_up for ledger in ledgers.values()),
        retry_causes={
            kind: sum(s.errors.get(kind, 0) for s in stats)
            for kind in sorted({k for s in stats for k in s.errors})
        },
        requests=sum(s.requests for s in stats),
        conflicts=sum(s.conflicts for s in stats),
        rejected=sum(s.rejected for s in stats),
        uploads=sum(s.uploads for s in stats),
        proxy=dict(proxy.counts),
        restarts=restarts,
        wall_s=time.perf_counter() - started,
    )


def _grid_of(view: dict[str, dict[str, dict[str, Any]]]) -> str:
    return next(iter(view.get("grids", {})), "")


def _norm(column: str, value: Any) -> Any:
    if column in ("grid_id", "category_id"):
        return None if value is None else str(value)
    if column == "photos":
        return sorted(json.loads(value) if isinstance(value, str) else value)
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value


# ------------------------------------------------------------------------------ the server side


def make_devices(
    app: Any, n: int, grid_codes: list[str], subdistrict_code: str
) -> list[DeviceSpec]:
    """`n` collectors (chaos001…), one grid each, round-robin over `grid_codes`, each with a
    device and an observer device."""
    from server.services.people.devices import issue_device
    from server.services.people.users import create_user
    from server.services.uow import unit_of_work

    specs = []
    with app.app_context():
        for i in range(1, n + 1):
            username = f"chaos{i:03d}"
            with unit_of_work() as uow:
                user = create_user(
                    uow,
                    username=username,
                    password="chaos-password-1",
                    role="collector",
                    display_name=f"混沌收集员{i}",
                    subdistrict_code=subdistrict_code,
                    grid_codes=[grid_codes[(i - 1) % len(grid_codes)]],
                )
                phone = issue_device(uow, username, "chaos phone")
                observer = issue_device(uow, username, "fresh install")
            specs.append(
                DeviceSpec(
                    name=f"d{i:03d}",
                    token=phone.token,
                    collector=username,
                    collector_id=user.id,
                    observer_token=observer.token,
                )
            )
    return specs


def read_server_rows(app: Any) -> Callable[[list[int]], dict[str, dict[str, Any]]]:
    """The server's patrol logs and cases of these collectors, straight from its database."""

    def read(collector_ids: list[int]) -> dict[str, dict[str, Any]]:
        from sqlalchemy import select

        from server.extensions import db
        from server.models import Case, CaseAttachment, PatrolLog

        out: dict[str, dict[str, Any]] = {}
        with app.app_context():
            for log in db.session.scalars(
                select(PatrolLog).where(PatrolLog.collector_id.in_(collector_ids))
            ):
                out[log.id] = {
                    "table": "patrol_logs",
                    "text": log.text,
                    "lon": log.lon,
                    "lat": log.lat,
                    "grid_id": log.grid_id,
                    "photos": list(log.photos or []),
                    "logged_at": log.logged_at,
                    "collector_id": log.collector_id,
                }
            cases = list(
                db.session.scalars(select(Case).where(Case.reporter_id.in_(collector_ids)))
            )
            photos: dict[str, list[str]] = {}
            for case_id, sha in db.session.execute(
                select(CaseAttachment.case_id, CaseAttachment.sha256).where(
                    CaseAttachment.case_id.in_([c.id for c in cases])
                )
            ):
                photos.setdefault(case_id, []).append(sha)
            for case in cases:
                out[case.id] = {
                    "table": "cases",
                    "number": case.number,
                    "description": case.description,
                    "lon": case.lon,
                    "lat": case.lat,
                    "grid_id": case.grid_id,
                    "category_id": case.category_id,
                    "collector_note": case.collector_note,
                    "reported_at": case.reported_at,
                    "photos": photos.get(case.id, []),
                    "collector_id": case.reporter_id,
                }
            db.session.remove()
        return out

    return read


def crash_and_restart(live: Any) -> None:
    """SIGKILL the server mid-run and start it again; 50 phones retrying at once slow its
    start, hence the long wait for its health check."""
    live.stop(hard=True)
    live.start(timeout=180)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--records", type=int, default=200, help="offline records per device")
    parser.add_argument("--drop", type=float, default=0.1, help="share of responses dropped")
    parser.add_argument("--dup", type=float, default=0.05, help="share of requests sent twice")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--backend", choices=("postgis", "spatialite"), default="postgis")
    parser.add_argument("--no-restart", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from _common import fresh_app
    from factories import build_world_geojson
    from live import LiveServer

    from server.extensions import db
    from server.models import Category
    from server.services.territory.grids_import import import_geojson
    from server.services.uow import unit_of_work

    app = fresh_app(args.backend)
    fc, codes = build_world_geojson()
    with app.app_context():
        with unit_of_work() as uow:
            import_geojson(uow, fc)
        db.session.add(
            Category(
                code="streetlight",
                name_zh="路灯",
                name_en="Street lights",
                default_priority="normal",
                deadline_hours={"urgent": 4, "high": 24, "normal": 72, "low": 168},
            )
        )
        db.session.commit()
    devices = make_devices(app, args.devices, [codes["A1"], codes["A2"], codes["B1"]], codes["SD"])
    log_dir = Path(app.config["INSTANCE_PATH"])
    live = LiveServer(dict(app.config), log_dir, workers=4)
    live.start()
    print(
        f"chaos: {args.devices} devices × {args.records} records on {args.backend}, "
        f"drop {args.drop}, dup {args.dup}, server {live.url} (log {live.log})",
        flush=True,
    )
    try:
        result = run_chaos(
            live.url,
            devices,
            records=args.records,
            drop=args.drop,
            dup=args.dup,
            seed=args.seed,
            restart=None if args.no_restart else lambda: crash_and_restart(live),
            server_rows=read_server_rows(app),
        )
    finally:
        live.stop()
    print(result.summary())
    if not result.ok:
        for line in (result.lost + result.duplicated + result.different)[:10]:
            print("  ", line)
        for line in (result.diverged + result.errors)[:10]:
            print("  ", line)
    print("OK" if result.ok else "FAILED")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
