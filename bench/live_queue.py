"""The live queue's cost: 50 open consoles polling the ETag'd counts endpoint.

    make bench                                   # with the other benchmarks
    python bench/live_queue.py --cases 20000 --consoles 50 --period 5 --repeat 60

On PostGIS with the demo sub-district and `--cases` synthetic cases, through the real Flask
app (session cookie, scope, queries, JSON), it times as a signed-in dispatcher:
  - the baseline in the same run: a full queue page (GET /console/cases), what a console
    without live counts costs each time someone reloads it;
  - GET /console/live/counts answered in full (200) and when nothing changed (304, the
    If-None-Match of the previous answer);
the counts of one scope are computed at most once per SHARED_SECONDS per process and shared
(server/web/console/live.py), so it times a computed answer and a shared one; then the load
of N consoles each polling every P seconds (requests per second, share of one core from the
p50s), against the same consoles computing every poll, and reloading the queue page instead.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from typing import Any

from _common import fresh_app
from cases import _centre, load, percentiles
from sqlalchemy import select

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client: Any, username: str, password: str) -> None:
    page = client.get("/login")
    token = CSRF.search(page.get_data(as_text=True))
    assert token, "no CSRF field on /login"
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert response.status_code in (302, 303), response.status_code


def sample(
    client: Any,
    url: str,
    repeat: int,
    headers: dict[str, str] | None = None,
    before: Any = None,
) -> Any:
    out = []
    status = None
    for i in range(repeat + 3):
        if before is not None:
            before()
        began = time.perf_counter()
        response = client.get(url, headers=headers or {})
        elapsed = time.perf_counter() - began
        status = response.status_code
        assert status in (200, 304), (url, status, response.get_data(as_text=True)[:200])
        if i >= 3:
            out.append(elapsed * 1000)
    return (*percentiles(out), status, len(response.get_data()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--period", type=float, default=5.0, help="seconds between polls")
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()

    from server.demo.seed import seed_demo
    from server.extensions import db
    from server.models import Category, Grid, Subdistrict
    from server.services.uow import unit_of_work

    app = fresh_app("postgis")
    with app.app_context():
        with unit_of_work() as uow:
            seed_demo(uow, "bench-password")
        ctx = {
            "grids": [
                (g.id, g.community_id, *_centre(g)) for g in db.session.scalars(select(Grid))
            ],
            "categories": list(db.session.scalars(select(Category.id))),
            "subdistrict_id": db.session.scalar(select(Subdistrict.id)),
            "rng": random.Random(15),
        }
        seconds = load(args.cases, 0, ctx)
    print(f"loaded {args.cases:,} cases in {seconds:.1f} s")

    client = app.test_client()
    sign_in(client, "dispatcher", "bench-password")
    from server.web.console import live

    queue = sample(client, "/console/cases", args.repeat)
    miss = sample(client, "/console/live/counts", args.repeat, before=live._shared.clear)
    etag = client.get("/console/live/counts").headers["ETag"]
    miss304 = sample(
        client,
        "/console/live/counts",
        args.repeat,
        {"If-None-Match": etag},
        before=live._shared.clear,
    )
    client.get("/console/live/counts")  # fill the shared counts
    hit304 = sample(client, "/console/live/counts", args.repeat, {"If-None-Match": etag})
    assert miss304[2] == 304 and hit304[2] == 304, (miss304, hit304)

    rate = args.consoles / args.period
    misses = 1 / live.SHARED_SECONDS  # per process: one computation per interval
    print(
        f"\n## live queue on PostGIS, {args.cases:,} cases, dispatcher's scope "
        f"(p50 / p95 ms over {args.repeat} requests, through the app)"
    )
    print(f"  {'request':<52} {'p50':>7} {'p95':>7} {'bytes':>8}")
    for label, (p50, p95, _status, size) in (
        ("baseline: GET /console/cases (the queue page)", queue),
        ("GET /console/live/counts, computed (200)", miss),
        ("GET /console/live/counts, computed, unchanged (304)", miss304),
        ("GET /console/live/counts, shared counts, unchanged (304)", hit304),
    ):
        print(f"  {label:<52} {p50:7.2f} {p95:7.2f} {size:8d}")
    polled = (rate - misses) * hit304[0] + misses * miss304[0]
    unshared = rate * miss304[0]
    reloads = rate * queue[0]
    print(
        f"\n  {args.consoles} consoles of one scope, a poll every {args.period:g} s "
        f"= {rate:.1f} requests/s: about {polled / 10:.1f} % of one core with the shared counts "
        f"(one computation per {live.SHARED_SECONDS:g} s), {unshared / 10:.1f} % if each poll "
        f"computed them, {reloads / 10:.1f} % if each console reloaded the queue page as often."
    )
    print(
        f"  bytes per second sent: {rate * hit304[3]:.0f} (304s) vs {rate * queue[3]:,.0f} "
        "(page reloads)"
    )


if __name__ == "__main__":
    main()
