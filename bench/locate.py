"""Assign 100,000 random points in the demo sub-district to grids, three ways, one run.

    make bench                       # both backends
    python bench/locate.py --backend spatialite --points 20000

Ways: the vectorised STRtree (`GridLocator.locate_many`), the same locator one point at a
time, and set-based SQL on the backend (points loaded into a table, one spatial join that
uses the spatial index). Prints each time, points per second, the ratio to the vectorised
baseline measured in the same run, and how often the ways agree.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
from typing import Any

import numpy as np
import shapely
from _common import fresh_app, timed
from geoalchemy2.shape import to_shape
from sqlalchemy import select, text


def random_points(boundary: shapely.Geometry, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = boundary.bounds
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    have = 0
    while have < n:
        xs = rng.uniform(x0, x1, n)
        ys = rng.uniform(y0, y1, n)
        inside = shapely.contains_xy(boundary, xs, ys)
        lons.append(xs[inside])
        lats.append(ys[inside])
        have += int(inside.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def sql_assign(
    backend: str, lons: np.ndarray, lats: np.ndarray
) -> tuple[dict[int, int], float, float]:
    """Load the points, then one spatial join; returns point → grid, load s, join s."""
    from server.extensions import db

    rows = [
        {"id": i, "x": float(x), "y": float(y)}
        for i, (x, y) in enumerate(zip(lons, lats, strict=True))
    ]
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_points"))
        if backend == "postgresql":
            conn.execute(
                text(
                    "CREATE TABLE bench_points (id integer PRIMARY KEY, geom geometry(Point, 4326))"
                )
            )
        else:
            conn.execute(text("CREATE TABLE bench_points (id integer PRIMARY KEY, x real, y real)"))

    def load() -> None:
        with db.engine.begin() as conn:
            if backend == "postgresql":
                raw = conn.connection.dbapi_connection
                with raw.cursor() as cur, cur.copy("COPY bench_points (id, geom) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row((r["id"], f"SRID=4326;POINT({r['x']!r} {r['y']!r})"))
                conn.execute(text("ANALYZE bench_points"))
            else:
                conn.execute(text("INSERT INTO bench_points (id, x, y) VALUES (:id, :x, :y)"), rows)

    if backend == "postgresql":
        join = text(
            "SELECT p.id, min(g.id) FROM bench_points p JOIN grids g "
            "ON g.geom && p.geom AND ST_Intersects(g.geom, p.geom) GROUP BY p.id"
        )
    else:
        join = text(
            "SELECT p.id, min(g.id) FROM bench_points p JOIN grids g ON g.id IN ("
            " SELECT rowid FROM SpatialIndex WHERE f_table_name = 'grids'"
            " AND f_geometry_column = 'geom' AND search_frame = MakePoint(p.x, p.y, 4326))"
            " AND ST_Intersects(g.geom, MakePoint(p.x, p.y, 4326)) = 1 GROUP BY p.id"
        )

    def run_join() -> dict[int, int]:
        with db.engine.connect() as conn:
            return {pid: gid for pid, gid in conn.execute(join)}

    _, load_s = timed(load)
    result, join_s = timed(run_join)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_points"))
    return result, load_s, join_s


def service_figures(app: Any, lons: np.ndarray, lats: np.ndarray, m: int) -> dict[str, Any]:
    """locate() per point, the API through the test client, locate_many() in bulk."""
    import statistics
    import time

    from server.errors import DomainError
    from server.services.territory import locate

    points = list(zip(lons[:m].tolist(), lats[:m].tolist(), strict=True))
    out: dict[str, Any] = {"points": m}
    with app.app_context():
        locate.locate_many(
            [(x, y, "wgs84") for x, y in points[:10]]
        )  # the index is built (or checked) for this context
        samples = []
        for lon, lat in points:
            began = time.perf_counter()
            with contextlib.suppress(DomainError):  # a point on no grid: timed all the same
                locate.locate(lon, lat, "wgs84", None)
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        out["p50"] = statistics.median(samples)
        out["p95"] = samples[int(0.95 * (len(samples) - 1))]
        tuples = [(x, y, "wgs84") for x, y in points]
        bare_locator = locate.grid_locator()
        bare_s, many_s = [], []
        for _ in range(5):  # alternately, so that both see the same machine
            _, secs = timed(lambda: bare_locator.locate_many(lons[:m], lats[:m]))
            bare_s.append(secs)
            many, secs = timed(lambda: locate.locate_many(tuples))
            many_s.append(secs)
        out["many_s"] = statistics.median(many_s)
        out["bare_s"] = statistics.median(bare_s)
        bare = locate.grid_locator().locate_many(lons[:m], lats[:m])
        got = [a.grid_id if isinstance(a, locate.Located) else None for a in many]
        out["agree"] = sum(a == b for a, b in zip(got, bare, strict=True)) / m
    client = app.test_client()
    api, healthz = [], []
    k = min(m, 2000)
    for lon, lat in points[:k]:
        began = time.perf_counter()
        client.get(f"/api/v1/locate?lon={lon}&lat={lat}")
        api.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        client.get("/api/v1/no-such-thing")  # the floor: a 404 through the same app
        healthz.append((time.perf_counter() - began) * 1000)
    api.sort()
    out["api_p50"] = statistics.median(api)
    out["api_p95"] = api[int(0.95 * (k - 1))]
    out["healthz_p50"] = statistics.median(healthz)
    return out


def bench(backend_name: str, n: int, seed: int) -> None:
    from geo.locator import GridLocator
    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Grid, Subdistrict
    from server.services.uow import unit_of_work

    app = fresh_app(backend_name)
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        backend = db.engine.dialect.name
        grids = db.session.execute(select(Grid.id, Grid.code, Grid.geom)).all()
        boundary = to_shape(db.session.scalar(select(Subdistrict.geom)))
        # The locator keys by grid id here, as the service does.
        locator, build_s = timed(lambda: GridLocator((g.id, to_shape(g.geom)) for g in grids))
        lons, lats = random_points(boundary, n, seed)

        vectorised, vec_s = timed(lambda: locator.locate_many(lons, lats), repeat=3)
        one_by_one, one_s = timed(
            lambda: [locator.locate(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]
        )
        sql, load_s, join_s = sql_assign(backend, lons, lats)
        service = service_figures(app, lons, lats, min(n, 20_000))

    sql_list = [sql.get(i) for i in range(n)]
    agree_one = sum(a == b for a, b in zip(vectorised, one_by_one, strict=True)) / n
    agree_sql = sum(a == b for a, b in zip(vectorised, sql_list, strict=True)) / n
    located = sum(v is not None for v in vectorised)
    print(
        f"\n## locate: {n:,} points, {len(grids)} grids, backend {backend_name} "
        f"({platform.python_version()}, shapely {shapely.__version__})"
    )
    print(f"  build STRtree            {build_s * 1000:9.1f} ms")
    print(f"  {'way':<24} {'seconds':>9} {'points/s':>12} {'× vectorised':>13}")
    for label, secs in (
        ("vectorised STRtree", vec_s),
        ("one-by-one locator", one_s),
        ("SQL spatial join", join_s),
        ("SQL load + join", load_s + join_s),
    ):
        print(f"  {label:<24} {secs:9.3f} {n / secs:12,.0f} {secs / vec_s:13.1f}")
    print(
        f"  located {located:,}/{n:,}; one-by-one agrees {agree_one:.4%}, "
        f"SQL agrees {agree_sql:.4%}"
    )
    m = service["points"]
    bare_one = one_s / n * 1000
    print(f"  through the service (server/services/territory/locate.py), {m:,} points:")
    print(
        f"  {'locate() p50 / p95':<24} {service['p50']:9.4f} {service['p95']:9.4f} ms per point "
        f"(bare locator one-by-one: {bare_one:.4f} ms; target p50 < 0.05)"
    )
    print(
        f"  {'GET /api/v1/locate p50':<24} {service['api_p50']:9.3f} ms, p95 "
        f"{service['api_p95']:.3f} ms through the test client (target p50 < 1); "
        f"a 404 through the same app p50 {service['healthz_p50']:.3f} ms (the floor)"
    )
    print(
        f"  {'locate_many()':<24} {service['many_s']:9.3f} s for {m:,} points = "
        f"{service['many_s'] / service['bare_s']:.2f}× the bare vectorised STRtree "
        f"({service['bare_s']:.3f} s, timed alternately; target ≤ 1.5); "
        f"agrees {service['agree']:.4%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["spatialite", "postgis", "both"], default="both")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    backends = ["spatialite", "postgis"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench(backend, args.points, args.seed)


if __name__ == "__main__":
    main()
