"""The case queue at 1k and at 200k cases on PostGIS: does a page cost the same?

    make bench                                  # with the other benchmarks
    python bench/cases.py --small 1000 --large 200000 --repeat 30

For each size it times, through the real Flask app (auth, scope, query, serialisation),
GET /api/v1/cases as a dispatcher: the first page, a deep page reached by its cursor, and
both again with filters (status + overdue flag). It prints p50/p95 in ms and the ratio
large/small (near 1 means the cost follows the page, not the history). Then it reports
the throughput of case creation (POST /api/v1/cases by collectors, one at a time).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import fresh_app
from sqlalchemy import func, insert, select, text

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


def synthetic_rows(
    n: int,
    start_seq: int,
    grids: list[Any],
    categories: list[int],
    subdistrict_id: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    statuses = [s for s, w in STATUS_MIX for _ in range(w)]
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        gid, cid, lon, lat = rng.choice(grids)
        created = now - timedelta(seconds=rng.randint(0, 365 * 86400))
        status = rng.choice(statuses)
        seq = start_seq + i
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "number": f"BN-{seq:09d}",
                "public_token": uuid.uuid4().hex + uuid.uuid4().hex[:8],
                "subdistrict_id": subdistrict_id,
                "community_id": cid,
                "grid_id": gid,
                "category_id": rng.choice(categories),
                "priority": "normal",
                "source": "patrol",
                "status": status,
                "description": f"合成事项 {seq}",
                "point": f"SRID=4326;POINT({lon} {lat})",
                "lon": lon,
                "lat": lat,
                "reported_crs": "wgs84",
                "reporter_role": "collector",
                "reported_at": created,
                "created_at": created,
                "updated_at": created,
                "overdue": False,
                "rework_count": 0,
                "send_back_count": 0,
                "extension_count": 0,
                "version": 1,
            }
        )
    return rows


def load(n: int, start_seq: int, ctx: dict[str, Any]) -> float:
    from server.extensions import db
    from server.models import Case

    began = time.perf_counter()
    table = Case.__table__
    for offset in range(0, n, 5000):
        batch = synthetic_rows(
            min(5000, n - offset),
            start_seq + offset,
            ctx["grids"],
            ctx["categories"],
            ctx["subdistrict_id"],
            ctx["rng"],
        )
        db.session.execute(insert(table), batch)
        db.session.commit()
    db.session.execute(text("ANALYZE cases"))
    db.session.commit()
    return time.perf_counter() - began


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def deep_cursor(category_code: str | None, status: str | None) -> str | None:
    """The cursor of the page about 80 % into the ordering (as if the user paged there)."""
    from server.extensions import db
    from server.models import Case, Category
    from server.services.pagination import encode_keyset

    stmt = select(Case.created_at, Case.id)
    if status:
        stmt = stmt.where(Case.status == status)
    if category_code:
        stmt = stmt.where(
            Case.category_id
            == select(Category.id).where(Category.code == category_code).scalar_subquery()
        )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    row = db.session.execute(
        stmt.order_by(Case.created_at.desc(), Case.id.desc()).offset(int(total * 0.8)).limit(1)
    ).first()
    return encode_keyset("-created_at", row[0], row[1]) if row else None


def time_queries(
    client: Any, headers: dict[str, str], repeat: int
) -> dict[str, tuple[float, float, int]]:
    from flask import current_app

    with current_app.app_context():
        cursors = {"plain": deep_cursor(None, None), "filtered": deep_cursor(None, "closed")}
    queries = {
        "first page": "/api/v1/cases?limit=50",
        "deep page (cursor)": f"/api/v1/cases?limit=50&cursor={cursors['plain']}",
        "filtered first page": "/api/v1/cases?limit=50&status=closed&overdue=false",
        "filtered deep page": (
            f"/api/v1/cases?limit=50&status=closed&overdue=false&cursor={cursors['filtered']}"
        ),
    }
    out = {}
    for label, url in queries.items():
        samples = []
        for i in range(repeat + 3):
            began = time.perf_counter()
            response = client.get(url, headers=headers)
            elapsed = time.perf_counter() - began
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            items = len(response.get_json()["items"])
            assert items > 0, label
            if i >= 3:  # warm-up
                samples.append(elapsed * 1000)
        out[label] = (*percentiles(samples), items)
    return out


def creation_throughput(client: Any, app: Any, n: int) -> float:
    from server.extensions import db
    from server.models import Grid, User

    with app.app_context():
        rows = db.session.execute(
            select(User.username, Grid.geom).join(User.grids).where(User.role == "collector")
        ).all()
    from geoalchemy2.shape import to_shape

    people = [(username, to_shape(geom).representative_point()) for username, geom in rows]
    tokens: dict[str, str] = {}
    began = time.perf_counter()
    for i in range(n):
        username, point = people[i % len(people)]
        if username not in tokens:
            tokens[username] = client.post(
                "/api/v1/auth/token", json={"username": username, "password": "bench-password"}
            ).get_json()["access_token"]
        response = client.post(
            "/api/v1/cases",
            headers={"Authorization": f"Bearer {tokens[username]}"},
            json={
                "category": "sanitation",
                "description": f"压测 {i}",
                "lon": point.x,
                "lat": point.y,
            },
        )
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--create", type=int, default=300)
    args = parser.parse_args()

    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Category, Community, Grid, Subdistrict
    from server.services.uow import unit_of_work

    app = fresh_app("postgis")
    client = app.test_client()
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        grids = [(g.id, g.community_id, *_centre(g)) for g in db.session.scalars(select(Grid))]
        ctx = {
            "grids": grids,
            "categories": list(db.session.scalars(select(Category.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": random.Random(11),
        }
        assert db.session.scalar(select(func.count()).select_from(Community))
    token = client.post(
        "/api/v1/auth/token", json={"username": "dispatcher", "password": "bench-password"}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    results = {}
    loaded = 0
    for size in (args.small, args.large):
        with app.app_context():
            seconds = load(size - loaded, loaded, ctx)
        print(
            f"loaded {size - loaded:,} cases in {seconds:.1f} s "
            f"({(size - loaded) / seconds:,.0f} rows/s)"
        )
        loaded = size
        with app.app_context():
            results[size] = time_queries(client, headers, args.repeat)

    print(
        f"\n## case queue on PostGIS: {args.small:,} vs {args.large:,} cases "
        f"(p50 / p95 ms over {args.repeat} requests, through the app)"
    )
    print(
        f"  {'query':<22} {'small p50':>10} {'p95':>7} {'large p50':>10} {'p95':>7} "
        f"{'ratio p50':>10} {'rows/page':>10}"
    )
    for label in results[args.small]:
        s50, s95, s_items = results[args.small][label]
        l50, l95, l_items = results[args.large][label]
        print(
            f"  {label:<22} {s50:10.2f} {s95:7.2f} {l50:10.2f} {l95:7.2f} {l50 / s50:10.2f} "
            f"{s_items:>4}/{l_items:<5}"
        )
    rate = creation_throughput(client, app, args.create)
    print(
        f"\n  case creation: {rate:,.0f} cases/s (POST /api/v1/cases, one at a time, "
        f"{args.create} cases, locate + number + event + duplicates)"
    )


def _centre(grid: Any) -> tuple[float, float]:
    from geoalchemy2.shape import to_shape

    point = to_shape(grid.geom).representative_point()
    return round(point.x, 7), round(point.y, 7)


if __name__ == "__main__":
    main()
