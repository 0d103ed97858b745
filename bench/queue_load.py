"""The case queue under load against `/api/v1/me` in the same gunicorn, 1k → 1M cases.

    python bench/queue_load.py                                  # 1k, 100k, 1M cases
    python bench/queue_load.py --sizes 1000,100000 --seconds 15 # a quicker run
    python bench/queue_load.py --sizes 100000,1000000 --search-only  # the text search alone
    python bench/queue_load.py --sizes 100000 --search-only --backend spatialite

PostGIS (MINQING_BENCH_DATABASE_URL, as `make bench` sets it); `--search-only --backend
spatialite` measures the text search alone on a temporary SpatiaLite file. The demo sub-district is
seeded, then cases are loaded by COPY (Chinese descriptions from a small vocabulary, one rare
phrase per 10,000 cases) in steps up to each size. At each size:

1. **in-process, per page** (the CPU a page costs, no HTTP): the ORM path the queue used
   before (`list_cases` + `present` + the marshmallow schema + the json module) against the
   row path it uses now (`list_case_rows` + `present_row` + orjson), same page, same run;
2. **under load**: gunicorn (2 workers × 4 threads) and a closed loop of 8 Python clients
   with keep-alive connections, alternately on `/api/v1/me` and on the queue's first page
   (50 cases) as the dispatcher, twice each; throughput, p50, p95, and queue ÷ me;
3. **text search** (`q`): the queue's page for a needle with the search indexes usable
   (trigrams for 3+ characters, the character grams of 0015_search_bigrams for 1–2) and
   with them disabled (`SET enable_bitmapscan = off`: the plan the unindexed ILIKE had; on
   SQLite the bare LIKE), against the plain page (no `q`) of the same run.

The machine is shared: read the ratios, measured in the same run, not the absolute figures.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import fresh_app
from _server import Gunicorn, closed_loop
from sqlalchemy import select, text

STATUS_MIX = [
    ("closed", 55),
    ("awaiting_rating", 5),
    ("handled", 4),
    ("in_progress", 8),
    ("dispatched", 10),
    ("accepted", 6),
    ("reported", 7),
    ("rejected", 4),
    ("merged", 1),
]
WHAT = ["垃圾堆放", "路灯不亮", "井盖缺失", "噪音扰民", "违章停车", "占道经营", "楼道杂物",
        "污水外溢", "绿化损坏", "违建搭建", "漏水", "积水", "油烟", "犬只扰民"]  # fmt: skip
WHERE = ["小区门口", "菜市场旁", "学校附近", "公园东门", "老街巷口", "河边步道", "停车场",
         "单元楼下", "公交站台", "社区广场"]  # fmt: skip
RARE = "青石板路面塌陷"  # in one case of 10,000
# the text search's GIN indexes (trigrams; the 1–2 character grams of 0015_search_bigrams):
# dropped before a COPY and rebuilt after from their own definitions
SEARCH_INDEXES = ("ix_cases_description_trgm", "ix_cases_number_trgm", "ix_cases_address_trgm",
                  "ix_cases_search_grams")  # fmt: skip


COLUMNS = (
    "id, number, public_token, subdistrict_id, community_id, grid_id, category_id, "
    "priority, source, status, description, address, point, lon, lat, reported_crs, "
    "reporter_role, reporter_name, reporter_phone, reported_at, created_at, updated_at, "
    "overdue, rework_count, send_back_count, extension_count, version, deadline_at, unit_id"
)


def synthetic_cases(n: int, start: int, ctx: dict[str, Any]) -> Any:
    """n synthetic cases as rows of COLUMNS (the point as EWKT)."""
    rng: random.Random = ctx["rng"]
    statuses = [s for s, w in STATUS_MIX for _ in range(w)]
    now = datetime.now(UTC)
    for i in range(start, start + n):
        gid, cid, lon, lat = rng.choice(ctx["grids"])
        created = now - timedelta(seconds=rng.randint(0, 365 * 86400))
        status = rng.choice(statuses)
        description = (
            RARE if i % 10_000 == 5_000 else f"{rng.choice(WHERE)}{rng.choice(WHAT)}"
        ) + f"，编号{i}"
        on_clock = status in ("dispatched", "in_progress")
        yield (
            uuid.uuid4().hex, f"BN-{i:09d}", uuid.uuid4().hex,
            ctx["subdistrict_id"], cid, gid, rng.choice(ctx["categories"]),
            "normal", "hotline", status, description,
            f"{rng.choice(WHERE)}{rng.randint(1, 200)}号",
            f"SRID=4326;POINT({lon} {lat})",
            lon, lat, "wgs84", "dispatcher", "王小明", "13912345678",
            created, created, created, False, 0, 0, 0, 1,
            created + timedelta(days=3) if on_clock else None,
            rng.choice(ctx["units"]) if on_clock else None,
        )  # fmt: skip


def insert_cases_sqlite(n: int, start: int, ctx: dict[str, Any]) -> float:
    """INSERT n synthetic cases on SpatiaLite, through the search triggers."""
    from server.extensions import db

    marks = ", ".join("GeomFromEWKT(?)" if c == "point" else "?" for c in COLUMNS.split(", "))
    began = time.perf_counter()
    with db.engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        batch: list[Any] = []
        for row in synthetic_cases(n, start, ctx):
            batch.append(
                tuple(
                    v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v
                    for v in row
                )
            )
            if len(batch) == 10_000:
                raw.executemany(f"INSERT INTO cases ({COLUMNS}) VALUES ({marks})", batch)
                batch = []
        if batch:
            raw.executemany(f"INSERT INTO cases ({COLUMNS}) VALUES ({marks})", batch)
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


def copy_cases(n: int, start: int, ctx: dict[str, Any]) -> float:
    """COPY n synthetic cases; the search's GIN indexes are dropped first and rebuilt after
    (a bulk build is much cheaper than n GIN insertions)."""
    from server.extensions import db

    began = time.perf_counter()
    with db.engine.begin() as conn:
        ddl = list(
            conn.scalars(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                {"names": list(SEARCH_INDEXES)},
            )
        )
        for name in SEARCH_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY cases ({COLUMNS}) FROM STDIN") as cp:
            for row in synthetic_cases(n, start, ctx):
                cp.write_row(row)
        for statement in ddl:
            conn.execute(text(statement))
        conn.execute(text("ANALYZE cases"))
    return time.perf_counter() - began


def per_page_cpu(app: Any, token: str, repeat: int) -> tuple[float, float, int]:
    """Median ms of the ORM path and of the row path for the queue's first page."""
    from server.api.cases import CasePageSchema
    from server.services.caseloop import case_present, case_queries

    f = case_queries.CaseFilter()

    def orm_path() -> bytes:
        page = case_queries.list_cases(principal, f, limit=50)
        body = CasePageSchema().dump(
            {
                "items": [case_present.present(c, principal) for c in page.items],
                "next_cursor": page.next_cursor,
            }
        )
        data = bytes(app.json.response(body).get_data())
        from server.extensions import db

        db.session.expunge_all()  # as a request's end would: the next page loads afresh
        return data

    def row_path() -> bytes:
        import orjson

        page = case_queries.list_case_rows(principal, f, limit=50)
        return orjson.dumps(
            {
                "items": [case_present.present_row(r, principal) for r in page.items],
                "next_cursor": page.next_cursor,
            }
        )

    with app.test_request_context():
        principal = _principal(token)
        assert orm_path().rstrip(b"\n") == row_path(), "the two paths disagree"
        times: dict[str, list[float]] = {"orm": [], "rows": []}
        for _ in range(repeat):
            for label, fn in (("orm", orm_path), ("rows", row_path)):
                began = time.perf_counter()
                fn()
                times[label].append((time.perf_counter() - began) * 1000)
        n = len(case_queries.list_case_rows(principal, f, limit=50).items)
    return statistics.median(times["orm"]), statistics.median(times["rows"]), n


def _principal(_token: str) -> Any:
    """The dispatcher as a Principal (the bench app has another secret key than the server,
    so the server's token is not resolved here)."""
    from server.extensions import db
    from server.models import User
    from server.services.people.auth import principal_for

    user = db.session.scalar(select(User).where(User.username == "dispatcher"))
    return principal_for(user)


def search_times(app: Any, token: str, repeat: int) -> list[tuple[str, float, float, int]]:
    """(needle, ms with the indexes, ms without, cases on the page); the first row is the
    plain page (no `q`), the baseline. Without the indexes: bitmap scans off on PostGIS (the
    plan the unindexed ILIKE had), the bare LIKE on SQLite."""
    from server.extensions import db
    from server.services.caseloop import case_queries, case_search

    postgres = db.engine.dialect.name == "postgresql"
    candidates = case_search._candidates

    needles = [
        "",  # the plain page, no search: the baseline
        "垃圾",  # a common two-character word (trigram indexes cannot serve it)
        "灯",  # a common single character
        "垃圾堆放",  # common, four characters
        RARE,  # rare: one case in 10,000
        "塌陷",  # the rare one's two-character word
        "塌",  # the rare one's single character
        "编号12345",  # a description's number: in 1 case (2 in 10 at 100k/1M)
        "BN-00000123",  # a number's prefix
    ]
    out = []
    with app.test_request_context():
        principal = _principal(token)
        for needle in needles:
            f = case_queries.CaseFilter(q=needle or None)
            ms: dict[bool, float] = {}
            found = 0
            for indexed in (True, False):
                samples = []
                case_search._candidates = candidates if indexed else lambda _text: None  # type: ignore[assignment]
                for _ in range(repeat):
                    if postgres:
                        db.session.execute(
                            text(f"SET enable_bitmapscan = {'on' if indexed else 'off'}")
                        )
                    began = time.perf_counter()
                    found = len(case_queries.list_case_rows(principal, f, limit=50).items)
                    samples.append((time.perf_counter() - began) * 1000)
                    db.session.rollback()
                ms[indexed] = statistics.median(samples)
            case_search._candidates = candidates  # type: ignore[method-assign]
            if postgres:
                db.session.execute(text("RESET enable_bitmapscan"))
            out.append((needle, ms[True], ms[False], found))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--seconds", type=float, default=20.0, help="per load phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=30, help="in-process samples")
    parser.add_argument(
        "--search-only", action="store_true", help="only the text search (no server, no load)"
    )
    parser.add_argument(
        "--backend",
        choices=("postgis", "spatialite"),
        default="postgis",
        help="spatialite: with --search-only (cases inserted through the search triggers)",
    )
    args = parser.parse_args()
    if args.backend == "spatialite" and not args.search_only:
        parser.error("--backend spatialite needs --search-only")
    sizes = [int(s) for s in args.sizes.split(",")]

    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Category, Grid, Subdistrict, Unit
    from server.services.uow import unit_of_work

    app = fresh_app(args.backend)
    load = copy_cases if args.backend == "postgis" else insert_cases_sqlite
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        from geoalchemy2.shape import to_shape

        grids = []
        for g in db.session.scalars(select(Grid)):
            p = to_shape(g.geom).representative_point()
            grids.append((g.id, g.community_id, round(p.x, 7), round(p.y, 7)))
        ctx = {
            "grids": grids,
            "categories": list(db.session.scalars(select(Category.id))),
            "units": list(db.session.scalars(select(Unit.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": random.Random(11),
        }
        url = db.engine.url.render_as_string(hide_password=False)
    rows: list[dict[str, Any]] = []
    loaded = 0
    server = contextlib.nullcontext() if args.search_only else Gunicorn(url)
    with server:
        token = ""
        if not args.search_only:
            print(f"gunicorn 2 workers × 4 threads on :{server.port}; log {server.log}")
            token = server.login("dispatcher", "bench-password")  # signed with the server's key
        headers = {"Authorization": f"Bearer {token}"}
        for size in sizes:
            with app.app_context():
                secs = load(size - loaded, loaded, ctx)
            print(
                f"{'COPY' if args.backend == 'postgis' else 'INSERT'} {size - loaded:,} cases "
                f"(+ search indexes) in {secs:.1f} s",
                flush=True,
            )
            loaded = size
            row: dict[str, Any] = {"size": size}
            if not args.search_only:
                with app.app_context():
                    row["orm_ms"], row["rows_ms"], row["items"] = per_page_cpu(
                        app, token, args.repeat
                    )
                phases: dict[str, list[Any]] = {"me": [], "queue": []}
                for _ in range(2):
                    for label, path in (
                        ("me", "/api/v1/me"),
                        ("queue", "/api/v1/cases?limit=50"),
                    ):
                        phases[label].append(
                            closed_loop(
                                server.port,
                                path,
                                headers,
                                concurrency=args.concurrency,
                                seconds=args.seconds,
                            )
                        )
                row["phases"] = phases
            with app.app_context():
                row["search"] = search_times(app, token, max(5, args.repeat // 3))
            rows.append(row)
            report(rows[-1], args)
    if args.search_only:
        return
    print("\n## summary: queue throughput ÷ /me, p95 by size")
    print(f"  {'cases':>10} {'me req/s':>9} {'queue req/s':>12} {'ratio':>6} {'queue p95':>10}")
    for r in rows:
        me, q = _merge(r["phases"]["me"]), _merge(r["phases"]["queue"])
        print(
            f"  {r['size']:>10,} {me.rate:9.0f} {q.rate:12.0f} {q.rate / me.rate:6.0%} "
            f"{q.pct(0.95):8.1f}ms"
        )


def _merge(results: list[Any]) -> Any:
    from _server import LoadResult

    return LoadResult(
        sum(r.requests for r in results),
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies_ms],
        {
            k: sum((r.statuses or {}).get(k, 0) for r in results)
            for r in results
            for k in (r.statuses or {})
        },
    )


def report(r: dict[str, Any], args: Any) -> None:
    print(f"\n## {r['size']:,} cases")
    if "phases" in r:
        _report_load(r, args)
    _report_search(r)


def _report_load(r: dict[str, Any], args: Any) -> None:
    print(
        f"  per page in-process (first page, {r['items']} cases, median of {args.repeat}): "
        f"ORM path {r['orm_ms']:.2f} ms, row path {r['rows_ms']:.2f} ms "
        f"({r['orm_ms'] / r['rows_ms']:.1f}× less)"
    )
    print(f"  under load ({args.concurrency} clients, 2 × {args.seconds:.0f} s each, alternating):")
    print(f"  {'endpoint':<8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    merged = {k: _merge(v) for k, v in r["phases"].items()}
    for label, m in merged.items():
        print(
            f"  {label:<8} {m.rate:8.0f} {m.p50:8.1f} {m.pct(0.95):8.1f} {m.pct(0.99):8.1f} "
            f"{m.errors:7d}" + (f"  {m.statuses}" if m.statuses else "")
        )
    print(f"  queue ÷ me: {merged['queue'].rate / merged['me'].rate:.0%}")


def _report_search(r: dict[str, Any]) -> None:
    print("  text search (q), the page's query in-process, median ms:")
    plain = r["search"][0][1]
    print(
        f"  {'needle':<14} {'indexed':>8} {'÷ plain':>8} {'no index':>9} {'speed-up':>9} "
        f"{'found':>6}"
    )
    for needle, with_ms, without_ms, found in r["search"]:
        print(
            f"  {needle or '(plain page)':<14} {with_ms:8.2f} {with_ms / plain:7.1f}× "
            f"{without_ms:9.2f} {without_ms / with_ms:8.1f}× {found:6d}"
        )


if __name__ == "__main__":
    main()
