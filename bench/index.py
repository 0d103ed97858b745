"""A year of the daily sentiment index (民情指数) on PostGIS, against one plain SQL pass.

    make bench                                      # with the other benchmarks
    python bench/index.py                           # 1,000 grids, 1M logs, 100k cases, 365 days
    python bench/index.py --quick                   # smoke: 100 grids, 20k logs, 5k cases, 30 days
    python bench/index.py --explain                 # also EXPLAIN ANALYZE one day's queries

It fills the bench database with one synthetic sub-district (a lattice of square grids near
Yangzhou, ~20 grids per community), a year of cases through every stage with their events
and ratings, daily patrol schedules with their slots (done / missed), patrols with coverage
set directly, and patrol logs attached to the patrols — all by COPY — then ANALYZE.

It then times, in the same run:

1. the index for every day of the period, every grid and every community, through the real
   service (`server.services.patrolling.index.backfill(first, last)`: set-wise, one windowed
   SQL pass per chunk of days, vectorised scoring, binary COPY of slim rows, the bulletins),
   with the time spent in SQL; then `compute_day` for single days as the beat runs it;
2. one plain SQL aggregate pass over the same rows: a single GROUP BY grid, local day over
   cases, report_done events, ratings, patrols, slots and logs giving the per-grid per-day
   counts the index reads (and, as a second figure, the same with the index's trailing
   window summed by window functions);

and prints both, the ratio (target ≤ 3×), the storage per area-day (target < 200 bytes with
its indexes) and the rows loaded.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import re
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from _common import fresh_app
from sqlalchemy import event, insert, select, text

LON0, LAT0 = 119.43, 32.39  # Qujiang, Yangzhou
CELL_M = 150.0  # grid squares of 150 m
BLOCK = (5, 4)  # a community is a block of 5 × 4 grids
SUBDISTRICT_CODE = "321002099"
SCHEDULED_SHARE = 0.6  # grids with a daily 09:00 patrol
SLOT_DONE = 0.9  # scheduled patrols done on time
UNSCHEDULED_PATROL = 0.15  # chance of a patrol on a day in a grid with no schedule
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
PRIORITY_MIX = [("low", 10), ("normal", 65), ("high", 20), ("urgent", 5)]
VERDICT_MIX = [("satisfied", 70), ("basic", 18), ("unsatisfied", 8), ("none", 4)]
SOURCES = ["patrol", "patrol", "patrol", "resident", "hotline", "wechat", "visit"]
HANDLED = ("handled", "awaiting_rating", "closed")
DISPATCHED = ("dispatched", "in_progress", *HANDLED)


# ------------------------------------------------------------------------------ helpers


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(sep=" ")


def _cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def copy_rows(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY rows (already text-safe: no tab, newline or backslash) into `table`."""
    from server.extensions import db

    raw = db.session.connection().connection.dbapi_connection
    n = 0
    with raw.cursor() as cur:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cur.copy(statement) as copy:
            buf = io.StringIO()
            for row in rows:
                buf.write("\t".join(map(_cell, row)))
                buf.write("\n")
                n += 1
                if n % 20000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
    return n


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def weighted(mix: list[tuple[str, int]]) -> list[str]:
    return [s for s, w in mix for _ in range(w)]


# ------------------------------------------------------------------------------ territory


def build_territory(n_grids: int, n_collectors: int, rng: random.Random) -> dict[str, Any]:
    """1 subdistrict, communities of 5×4 square grids, a unit, categories, users."""
    from server.demo.seed import CATEGORIES, DEADLINE_HOURS
    from server.domain import codes
    from server.extensions import db
    from server.models import (
        Category,
        CollectorGrid,
        Community,
        Grid,
        Subdistrict,
        Unit,
        User,
    )

    dlat = CELL_M / 111_320.0
    dlon = CELL_M / (111_320.0 * math.cos(math.radians(LAT0)))
    bw, bh = BLOCK
    per_block = bw * bh
    n_blocks = math.ceil(n_grids / per_block)
    blocks_x = math.ceil(math.sqrt(n_blocks * bh / bw))  # roughly square overall
    cells: list[tuple[int, int, int, int]] = []  # block, seq, col, row
    for b in range(n_blocks):
        bx, by = b % blocks_x, b // blocks_x
        for k in range(per_block):
            if len(cells) == n_grids:
                break
            cells.append((b, k + 1, bx * bw + k % bw, by * bh + k // bw))

    def square(col: int, row: int) -> tuple[float, float, str]:
        x0 = round(LON0 + col * dlon, 7)
        y0 = round(LAT0 - (row + 1) * dlat, 7)
        x1, y1 = round(x0 + dlon, 7), round(y0 + dlat, 7)
        ring = f"{x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}"
        return x0, y0, ring

    sub = Subdistrict(code=SUBDISTRICT_CODE, name="压测街道", case_prefix="BI")
    db.session.add(sub)
    db.session.flush()
    community_ids = []
    for b in range(n_blocks):
        mine = [c for c in cells if c[0] == b]
        cols = [c[2] for c in mine]
        rows = [c[3] for c in mine]
        # the block's cells are filled row by row, so its outline is at most an L: union below
        community_ids.append(
            db.session.execute(
                insert(Community)
                .values(
                    code=f"{SUBDISTRICT_CODE}{b + 1:03d}",
                    name=f"压测社区{b + 1}",
                    kind="community",
                    subdistrict_id=sub.id,
                    geom=f"SRID=4326;MULTIPOLYGON((({square(min(cols), min(rows))[2]})))",
                )
                .returning(Community.id)
            ).scalar_one()
        )
    grid_rows = []
    for b, seq, col, row in cells:
        _x0, _y0, ring = square(col, row)
        population = rng.randint(300, 1500)
        grid_rows.append(
            {
                "code": codes.grid_code(f"{SUBDISTRICT_CODE}{b + 1:03d}", seq),
                "name": f"压测社区{b + 1}第{seq}网格",
                "community_id": community_ids[b],
                "subdistrict_id": sub.id,
                "population": population,
                "households": population * 10 // 27,
                "geom": f"SRID=4326;POLYGON(({ring}))",
            }
        )
    db.session.execute(insert(Grid), grid_rows)
    db.session.execute(
        text("UPDATE grids SET area_m2 = ST_Area(geom::geography) WHERE subdistrict_id = :s"),
        {"s": sub.id},
    )
    db.session.execute(
        text(
            "UPDATE communities c SET geom = ST_Multi(u.geom), area_m2 = u.area, "
            "population = u.pop, households = u.hh FROM ("
            " SELECT community_id, ST_Union(geom) AS geom, sum(area_m2) AS area,"
            " sum(population) AS pop, sum(households) AS hh FROM grids GROUP BY community_id"
            ") u WHERE u.community_id = c.id"
        )
    )
    db.session.execute(
        text(
            "UPDATE subdistricts SET geom = (SELECT ST_Multi(ST_Union(geom)) FROM communities) "
            "WHERE id = :s"
        ),
        {"s": sub.id},
    )
    unit = Unit(subdistrict_id=sub.id, code="BI-HW", name="压测环卫所", kind="department")
    db.session.add(unit)
    for order, (code, name_zh, name_en, priority) in enumerate(CATEGORIES):
        db.session.add(
            Category(
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                default_priority=priority,
                deadline_hours=DEADLINE_HOURS,
                sort_order=order,
            )
        )
    users = [
        {
            "username": "dispatcher",
            "display_name": "调度员",
            "password_hash": "bench-not-a-hash",
            "role": "dispatcher",
            "subdistrict_id": sub.id,
        }
    ] + [
        {
            "username": f"collector{i:03d}",
            "display_name": f"收集员{i}",
            "password_hash": "bench-not-a-hash",
            "role": "collector",
            "subdistrict_id": sub.id,
        }
        for i in range(1, n_collectors + 1)
    ]
    db.session.execute(insert(User), users)
    db.session.flush()
    grids = db.session.execute(
        text(
            "SELECT id, community_id, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), "
            "population FROM grids ORDER BY code"
        )
    ).all()
    collectors = list(
        db.session.scalars(select(User.id).where(User.role == "collector").order_by(User.id))
    )
    dispatcher = db.session.scalar(select(User.id).where(User.role == "dispatcher"))
    owner = {g[0]: collectors[n * len(collectors) // len(grids)] for n, g in enumerate(grids)}
    db.session.execute(
        insert(CollectorGrid), [{"collector_id": c, "grid_id": g} for g, c in owner.items()]
    )
    db.session.commit()
    return {
        "subdistrict_id": sub.id,
        "unit_id": unit.id,
        "dispatcher": dispatcher,
        "categories": list(db.session.scalars(select(Category.id))),
        "grids": [tuple(g) for g in grids],  # id, community, x0, y0, x1, y1, population
        "owner": owner,
        "communities": len(community_ids),
    }


# ---------------------------------------------------------------------------------- cases


def load_cases(n: int, ctx: dict[str, Any], rng: random.Random) -> dict[str, int]:
    """`n` cases reported over the period, each with its event trail and rating."""
    from server.demo.seed import DEADLINE_HOURS

    t0, t1, now = ctx["t0"], ctx["t1"], ctx["now"]
    grids = ctx["grids"]
    cum = []
    total = 0
    for g in grids:
        total += g[6]
        cum.append(total)
    statuses = weighted(STATUS_MIX)
    priorities = weighted(PRIORITY_MIX)
    verdicts = weighted(VERDICT_MIX)
    sid, unit, dispatcher = ctx["subdistrict_id"], ctx["unit_id"], ctx["dispatcher"]
    cats = ctx["categories"]
    events: list[tuple[Any, ...]] = []
    ratings: list[tuple[Any, ...]] = []
    ids: list[str] = []

    def cap(t: float) -> float:
        return min(t, now - 60.0)

    def cases() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            gid, cid, x0, y0, x1, y1, _ = rng.choices(grids, cum_weights=cum)[0]
            lon = round(rng.uniform(x0, x1), 7)
            lat = round(rng.uniform(y0, y1), 7)
            # mostly daytime: a day, then a local hour 7–21
            rep = t0 + rng.randrange(int((t1 - t0) // 86400)) * 86400 + rng.uniform(7, 21) * 3600
            rep = cap(rep)
            status = rng.choice(statuses)
            priority = rng.choice(priorities)
            hours = DEADLINE_HOURS[priority]
            source = rng.choice(SOURCES)
            role = "collector" if source == "patrol" else "dispatcher"
            reporter = ctx["owner"][gid] if source == "patrol" else dispatcher
            case_id = uuid.uuid4().hex
            ids.append(case_id)
            trail: list[tuple[str, str | None, str, float]] = [("report", None, "reported", rep)]
            acc = disp = ack = deadline = handled = verified = closed = overdue_at = None
            on_time = None
            rework = 0
            rating = None
            merged_into = None
            if status == "rejected":
                trail.append(("reject", "reported", "rejected", cap(rep + rng.uniform(600, 7200))))
            elif status == "merged":
                merged_into = ids[rng.randrange(len(ids) - 1)] if len(ids) > 1 else None
                if merged_into is None:
                    status = "rejected"
                    trail.append(("reject", "reported", "rejected", cap(rep + 900)))
                else:
                    trail.append(("merge", "reported", "merged", cap(rep + rng.uniform(600, 7200))))
            elif status != "reported":
                acc = cap(rep + rng.uniform(300, 3 * 3600))
                trail.append(("accept", "reported", "accepted", acc))
            if status in DISPATCHED:
                disp = cap(acc + rng.uniform(300, 2 * 3600))  # type: ignore[operator]
                deadline = disp + hours * 3600
                trail.append(("dispatch", "accepted", "dispatched", disp))
                if status != "dispatched":
                    ack = cap(disp + rng.uniform(600, 3 * 3600))
                    trail.append(("acknowledge", "dispatched", "in_progress", ack))
                if status in HANDLED:
                    if rng.random() < 0.85:
                        took = hours * 3600 * rng.uniform(0.1, 0.95)
                    else:
                        took = hours * 3600 * rng.uniform(1.05, 2.0)
                    handled = cap(disp + took)
                    if rng.random() < 0.07:
                        rework = 1
                        first = cap(disp + took * 0.4)
                        trail.append(("report_done", "in_progress", "handled", first))
                        trail.append(("verify_fail", "handled", "in_progress", cap(first + 1800)))
                    trail.append(("report_done", "in_progress", "handled", handled))
                    on_time = handled <= deadline
                if status in ("awaiting_rating", "closed"):
                    verified = cap(handled + rng.uniform(3600, 24 * 3600))  # type: ignore[operator]
                    trail.append(("verify_ok", "handled", "awaiting_rating", verified))
                if status == "closed":
                    closed = cap(verified + rng.uniform(3600, 72 * 3600))  # type: ignore[operator]
                    if rng.random() < 0.75:
                        rating = rng.choice(verdicts)
                        rated = cap(verified + (closed - verified) * rng.random())  # type: ignore[operator]
                        ratings.append((case_id, 1, rating, None, _ts(rated)))
                        trail.append(("rate", "awaiting_rating", "closed", closed))
                    else:
                        trail.append(("rating_timeout", "awaiting_rating", "closed", closed))
                end = handled if handled is not None else now
                if end > deadline:
                    overdue_at = deadline
            for seq, (action, before, after, at) in enumerate(trail, start=1):
                events.append((case_id, seq, action, before, after, None, "system", "{}", _ts(at)))
            yield (
                case_id,
                f"BI-{i:09d}",
                uuid.uuid4().hex,
                sid,
                cid,
                gid,
                rng.choice(cats),
                priority,
                source,
                status,
                f"合成事项 {i}",
                f"SRID=4326;POINT({lon} {lat})",
                lon,
                lat,
                "wgs84",
                reporter,
                role,
                _ts(rep),
                unit if disp is not None else None,
                None if acc is None else _ts(acc),
                None if disp is None else _ts(disp),
                None if disp is None else _ts(disp),
                None if ack is None else _ts(ack),
                None if deadline is None else _ts(deadline),
                None if handled is None else _ts(handled),
                on_time,
                None if verified is None else _ts(verified),
                None if closed is None else _ts(closed),
                overdue_at is not None,
                None if overdue_at is None else _ts(overdue_at),
                rework,
                0,
                0,
                merged_into,
                rating,
                1,
                _ts(rep),
                _ts(closed or handled or disp or acc or rep),
            )

    case_columns = [
        "id",
        "number",
        "public_token",
        "subdistrict_id",
        "community_id",
        "grid_id",
        "category_id",
        "priority",
        "source",
        "status",
        "description",
        "point",
        "lon",
        "lat",
        "reported_crs",
        "reporter_id",
        "reporter_role",
        "reported_at",
        "unit_id",
        "accepted_at",
        "dispatched_at",
        "first_dispatched_at",
        "acknowledged_at",
        "deadline_at",
        "handled_at",
        "handled_on_time",
        "verified_at",
        "closed_at",
        "overdue",
        "overdue_at",
        "rework_count",
        "send_back_count",
        "extension_count",
        "merged_into_id",
        "rating",
        "version",
        "created_at",
        "updated_at",
    ]
    n_cases = copy_rows("cases", case_columns, cases())
    n_events = copy_rows(
        "case_events",
        [
            "case_id",
            "seq",
            "action",
            "from_status",
            "to_status",
            "actor_id",
            "actor_role",
            "payload",
            "created_at",
        ],
        iter(events),
    )
    n_ratings = copy_rows(
        "ratings", ["case_id", "round", "verdict", "comment", "created_at"], iter(ratings)
    )
    return {"cases": n_cases, "case_events": n_events, "ratings": n_ratings}


# -------------------------------------------------------------------------------- patrols


def load_patrols(n_logs: int, ctx: dict[str, Any], rng: random.Random) -> dict[str, int]:
    """Daily 09:00 schedules for a share of the grids, their slots, patrols and logs."""
    from server.extensions import db
    from server.models import PatrolSchedule

    grids, owner, sid = ctx["grids"], ctx["owner"], ctx["subdistrict_id"]
    days: list[date] = ctx["days"]
    midnights: list[float] = ctx["midnights"]
    now = ctx["now"]
    scheduled = {g[0] for g in grids if rng.random() < SCHEDULED_SHARE}
    db.session.execute(
        insert(PatrolSchedule),
        [
            {
                "collector_id": owner[gid],
                "grid_id": gid,
                "times": ["09:00"],
                "weekdays": [1, 2, 3, 4, 5, 6, 7],
                "tolerance_minutes": 60,
                "skip_holidays": False,
                "valid_from": days[0],
            }
            for gid in sorted(scheduled)
        ],
    )
    schedule_of = dict(db.session.execute(select(PatrolSchedule.grid_id, PatrolSchedule.id)).all())
    patrols: list[tuple[Any, ...]] = []  # id, collector, grid, start, end, box
    slots: list[tuple[Any, ...]] = []
    for midnight in midnights:
        for gid, _cid, x0, y0, x1, y1, _pop in grids:
            start = None
            if gid in scheduled:
                due = midnight + 9 * 3600
                if due + 3600 > now:
                    continue
                done = rng.random() < SLOT_DONE
                if done:
                    start = due + rng.uniform(-30, 50) * 60
                elif rng.random() < 0.5:
                    start = due + rng.uniform(2, 5) * 3600  # late: does not count
                pid = uuid.uuid4().hex if start is not None else None
                slots.append(
                    (
                        schedule_of[gid],
                        owner[gid],
                        gid,
                        _ts(due),
                        _ts(due + 3600),
                        "done" if done else "missed",
                        pid if done else None,
                        _ts(min(now, due + 3900)),
                    )
                )
            elif rng.random() < UNSCHEDULED_PATROL:
                start = midnight + rng.uniform(8, 17) * 3600
                pid = uuid.uuid4().hex
            if start is not None and start + 5400 < now:
                end = start + rng.uniform(30, 90) * 60
                patrols.append((pid, owner[gid], gid, start, end, (x0, y0, x1, y1)))

    def patrol_rows() -> Iterator[tuple[Any, ...]]:
        for pid, collector, gid, start, end, _box in patrols:
            duration = end - start
            yield (
                pid,
                collector,
                gid,
                sid,
                "ended",
                _ts(start),
                _ts(end),
                "[]",
                round(rng.uniform(800, 3000), 1),
                round(duration, 1),
                round(duration * rng.uniform(0.8, 1.0), 1),
                round(min(1.0, rng.betavariate(5, 1.6)), 4),
                "[]",
                True,
                _ts(start),
                _ts(end),
            )

    n_patrols = copy_rows(
        "patrols",
        [
            "id",
            "collector_id",
            "grid_id",
            "subdistrict_id",
            "status",
            "started_at",
            "ended_at",
            "points",
            "distance_m",
            "duration_s",
            "time_inside_s",
            "coverage",
            "flags",
            "plausible",
            "created_at",
            "updated_at",
        ],
        patrol_rows(),
    )
    n_slots = copy_rows(
        "patrol_slots",
        [
            "schedule_id",
            "collector_id",
            "grid_id",
            "due_at",
            "window_end_at",
            "status",
            "patrol_id",
            "marked_at",
        ],
        iter(slots),
    )
    cats = ctx["categories"]

    def log_rows() -> Iterator[tuple[Any, ...]]:
        count = len(patrols)
        for i in range(n_logs):
            pid, collector, gid, start, end, (x0, y0, x1, y1) = patrols[rng.randrange(count)]
            at = _ts(start + (end - start) * rng.random())
            lon = round(rng.uniform(x0, x1), 7)
            lat = round(rng.uniform(y0, y1), 7)
            yield (
                uuid.uuid4().hex,
                pid,
                collector,
                gid,
                sid,
                rng.choice(cats) if i % 3 == 0 else None,
                f"巡查记录 {i}",
                f"SRID=4326;POINT({lon} {lat})",
                lon,
                lat,
                "[]",
                at,
                at,
                at,
            )

    n_logs_loaded = copy_rows(
        "patrol_logs",
        [
            "id",
            "patrol_id",
            "collector_id",
            "grid_id",
            "subdistrict_id",
            "category_id",
            "text",
            "point",
            "lon",
            "lat",
            "photos",
            "logged_at",
            "created_at",
            "updated_at",
        ],
        log_rows(),
    )
    return {
        "patrol_schedules": len(schedule_of),
        "patrols": n_patrols,
        "patrol_slots": n_slots,
        "patrol_logs": n_logs_loaded,
    }


# ---------------------------------------------------------------------------- plain pass

PLAIN_DAILY = """
SELECT grid_id, day,
       sum(new_cases) AS new_cases, sum(due) AS due, sum(on_time) AS on_time,
       sum(handled) AS handled, sum(reworked) AS reworked,
       sum(satisfied) AS satisfied, sum(basic) AS basic, sum(unsatisfied) AS unsatisfied,
       max(coverage) AS coverage, sum(slots_done) AS slots_done,
       sum(slots_missed) AS slots_missed, sum(logs) AS logs
FROM (
  SELECT grid_id, (reported_at AT TIME ZONE :tz)::date AS day, 1 AS new_cases, 0 AS due,
         0 AS on_time, 0 AS handled, 0 AS reworked, 0 AS satisfied, 0 AS basic,
         0 AS unsatisfied, NULL::float AS coverage, 0 AS slots_done, 0 AS slots_missed,
         0 AS logs
    FROM cases WHERE status NOT IN ('rejected', 'merged')
  UNION ALL
  SELECT grid_id, (deadline_at AT TIME ZONE :tz)::date, 0, 1,
         CASE WHEN handled_on_time THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, NULL, 0, 0, 0
    FROM cases WHERE deadline_at IS NOT NULL AND status NOT IN ('rejected', 'merged')
  UNION ALL
  SELECT c.grid_id, (e.created_at AT TIME ZONE :tz)::date, 0, 0, 0, 1,
         CASE WHEN c.rework_count > 0 THEN 1 ELSE 0 END, 0, 0, 0, NULL, 0, 0, 0
    FROM case_events e JOIN cases c ON c.id = e.case_id WHERE e.action = 'report_done'
  UNION ALL
  SELECT c.grid_id, (r.created_at AT TIME ZONE :tz)::date, 0, 0, 0, 0, 0,
         CASE WHEN r.verdict = 'satisfied' THEN 1 ELSE 0 END,
         CASE WHEN r.verdict = 'basic' THEN 1 ELSE 0 END,
         CASE WHEN r.verdict = 'unsatisfied' THEN 1 ELSE 0 END, NULL, 0, 0, 0
    FROM ratings r JOIN cases c ON c.id = r.case_id WHERE r.verdict <> 'none'
  UNION ALL
  SELECT grid_id, (started_at AT TIME ZONE :tz)::date, 0, 0, 0, 0, 0, 0, 0, 0, coverage,
         0, 0, 0
    FROM patrols WHERE status = 'ended'
  UNION ALL
  SELECT grid_id, (due_at AT TIME ZONE :tz)::date, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
         CASE WHEN status = 'done' THEN 1 ELSE 0 END,
         CASE WHEN status = 'missed' THEN 1 ELSE 0 END, 0
    FROM patrol_slots
  UNION ALL
  SELECT grid_id, (logged_at AT TIME ZONE :tz)::date, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 1
    FROM patrol_logs
) AS rows
WHERE day BETWEEN :first AND :last
GROUP BY grid_id, day
"""

# The same daily counts summed over the index's trailing window, per grid.
PLAIN_WINDOWED = f"""
SELECT grid_id, day,
       {
    ", ".join(
        f"sum({c}) OVER w AS {c}"
        for c in (
            "new_cases",
            "due",
            "on_time",
            "handled",
            "reworked",
            "satisfied",
            "basic",
            "unsatisfied",
            "slots_done",
            "slots_missed",
            "logs",
        )
    )
},
       coverage
FROM ({PLAIN_DAILY}) AS daily
WINDOW w AS (PARTITION BY grid_id ORDER BY day
             RANGE BETWEEN CAST(:span AS interval) PRECEDING AND CURRENT ROW)
"""


def plain_pass(sql: str, params: dict[str, Any]) -> tuple[float, int]:
    from server.extensions import db

    began = time.perf_counter()
    rows = db.session.execute(text(sql), params).all()
    elapsed = time.perf_counter() - began
    db.session.rollback()
    return elapsed, len(rows)


# ------------------------------------------------------------------------ statement timing

_IN_LIST = re.compile(r"IN \((?:%\([a-z0-9_]+\)s(?:::[A-Z]+)?(?:, )?)+\)")
_CAST = re.compile(r"::(?:INTEGER|VARCHAR|TIMESTAMP WITH TIME ZONE|DATE|BOOLEAN)")
_TABLE = re.compile(r"\b(?:cases|case_events|ratings|patrols|patrol_slots|grids|sentiment_index)\.")
_SPACES = re.compile(r"\s+")


def short_sql(statement: str) -> str:
    s = _SPACES.sub(" ", _IN_LIST.sub("IN (…)", statement)).strip()
    s = _TABLE.sub("", _CAST.sub("", re.sub(r"%\(([a-z0-9_]+)\)s", r":\1", s)))
    return re.sub(r"_\d+\b", "", s)


class StatementClock:
    """Wall time per SQL statement (grouped by its text, IN lists folded)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.capture: list[tuple[str, Any]] | None = None
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self._started.append(time.perf_counter())
        if self.capture is not None:
            self.capture.append((statement, params))

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        key = short_sql(statement)
        self.total[key] += elapsed
        self.count[key] += 1

    def reset(self) -> None:
        self.total.clear()
        self.count.clear()

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def explain_day(day: date, clock: StatementClock) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every SELECT that compute_day(day) runs."""
    from server.extensions import db
    from server.services.patrolling.index import compute_day
    from server.services.uow import unit_of_work

    clock.capture = []
    with unit_of_work() as uow:
        compute_day(uow, day, publish=False)
    captured, clock.capture = clock.capture, None
    raw = db.session.connection().connection.dbapi_connection
    print(f"\n## EXPLAIN ANALYZE of compute_day({day}) — its SELECTs")
    for statement, params in captured:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = [r[0] for r in cur.fetchall()]
        print(f"\n-- {short_sql(statement)[:160]}")
        for line in plan:
            print(f"   {line}")
    db.session.rollback()


# ----------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=1_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--collectors", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="100 grids, 20k logs, 5k cases, 30 d")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE one day")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the plain pass")
    parser.add_argument("--seed", type=int, default=17)
    args, unknown = parser.parse_known_args()
    if unknown:
        print(f"(ignoring arguments meant for other benchmarks: {' '.join(unknown)})")
    if args.quick:
        args.grids, args.logs, args.cases, args.days = 100, 20_000, 5_000, 30
        args.collectors = min(args.collectors, 10)

    from server.extensions import db
    from server.services.caseloop.case_deadlines import local_zone
    from server.services.patrolling.index import backfill, compute_day, local_bounds, yesterday
    from server.services.uow import unit_of_work

    began_run = time.perf_counter()
    rng = random.Random(args.seed)
    app = fresh_app("postgis")
    with app.app_context():
        tz = local_zone()
        window = app.config["INDEX_WINDOW_DAYS"]
        last = yesterday()
        first = last - timedelta(days=args.days - 1)
        days = [first + timedelta(days=i) for i in range(args.days)]
        t0, t1 = (b.timestamp() for b in local_bounds(first, last))
        ctx = build_territory(args.grids, args.collectors, rng)
        ctx.update(
            t0=t0,
            t1=t1,
            now=datetime.now(UTC).timestamp(),
            days=days,
            midnights=[local_bounds(d, d)[0].timestamp() for d in days],
        )
        load_began = time.perf_counter()
        loaded = {"grids": len(ctx["grids"]), "communities": ctx["communities"]}
        loaded.update(load_cases(args.cases, ctx, rng))
        loaded.update(load_patrols(args.logs, ctx, rng))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        load_seconds = time.perf_counter() - load_began
        total_rows = sum(v for k, v in loaded.items() if k not in ("grids", "communities"))
        print(
            f"loaded {total_rows:,} rows in {load_seconds:.1f} s "
            f"({total_rows / load_seconds:,.0f} rows/s, COPY): "
            + ", ".join(f"{k} {v:,}" for k, v in loaded.items())
        )

        # 1. the index of the whole period through the service: `backfill`, set-wise
        clock = StatementClock(db.engine)
        index_began = time.perf_counter()
        with unit_of_work() as uow:
            n_days = backfill(uow, first, last)
        index_seconds = time.perf_counter() - index_began
        sql_seconds = sum(clock.total.values())
        top = sorted(clock.total.items(), key=lambda kv: -kv[1])[:6]
        counts = dict(clock.count)
        clock.close()
        areas = db.session.scalar(text("SELECT count(*) FROM sentiment_index"))
        # one day at a time, as the beat does it (the last 7 days, each recomputed)
        per_day: list[float] = []
        for day in days[-7:]:
            start = time.perf_counter()
            with unit_of_work() as uow:
                compute_day(uow, day, publish=False)
            per_day.append(time.perf_counter() - start)

        # 2. the plain pass, same rows, same local days
        params = {"tz": str(tz), "first": first, "last": last}
        daily = [plain_pass(PLAIN_DAILY, params) for _ in range(args.repeat)]
        windowed = [
            plain_pass(PLAIN_WINDOWED, {**params, "span": f"{window - 1} days"})
            for _ in range(args.repeat)
        ]
        plain_s = statistics.median(t for t, _ in daily)
        windowed_s = statistics.median(t for t, _ in windowed)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE sentiment_index"))  # settled sizes
        stored = db.session.scalar(text("SELECT count(*) FROM sentiment_index"))
        total_bytes = db.session.scalar(text("SELECT pg_total_relation_size('sentiment_index')"))
        heap_bytes = db.session.scalar(text("SELECT pg_relation_size('sentiment_index')"))
        formulas = db.session.scalar(text("SELECT pg_total_relation_size('index_formulas')"))

        print(
            f"\n## 民情指数 for {args.days} days on PostGIS: {len(ctx['grids']):,} grids + "
            f"{ctx['communities']} communities, {loaded['patrol_logs']:,} patrol logs, "
            f"{loaded['cases']:,} cases (window {window} d, {first} … {last})"
        )
        print(f"  {'what':<58} {'seconds':>9} {'× plain':>8}")
        rows_out = [
            (f"index: backfill of {n_days} days, set-wise (publish=False)", index_seconds),
            ("  of which SQL (read, write, commit)", sql_seconds),
            (f"plain SQL pass: one GROUP BY grid, day ({daily[0][1]:,} rows)", plain_s),
            (f"plain pass + {window}-day window sums ({windowed[0][1]:,} rows)", windowed_s),
        ]
        for label, seconds in rows_out:
            print(f"  {label:<58} {seconds:9.2f} {seconds / plain_s:8.2f}")
        print(
            f"\n  ratio index / plain pass: {index_seconds / plain_s:.2f}× "
            f"(target ≤ 3×; / windowed pass: {index_seconds / windowed_s:.2f}×); "
            f"{areas:,} area-days ({areas / index_seconds:,.0f}/s)"
        )
        print(
            f"  one day as the beat computes it (compute_day, last 7 days): "
            f"p50 {statistics.median(per_day) * 1000:.0f} ms, max {max(per_day) * 1000:.0f} ms"
        )
        print(
            f"  storage: {stored:,} rows, {total_bytes / 2**20:.1f} MiB with indexes = "
            f"{total_bytes / stored:.0f} bytes per area-day (heap alone "
            f"{heap_bytes / stored:.0f} B; target < 200 B); index_formulas {formulas:,} B"
        )
        print("  slowest statements (total s, calls, ms/call):")
        for key, seconds in top:
            calls = counts[key]
            shown = key if len(key) <= 150 else f"{key[:84]} … {key[-62:]}"
            print(f"    {seconds:7.2f} {calls:6} {seconds / calls * 1000:7.1f}  {shown}")
        if args.explain:
            clock = StatementClock(db.engine)
            explain_day(days[len(days) // 2], clock)
            clock.close()
    print(f"\n  whole run {time.perf_counter() - began_run:.0f} s")


if __name__ == "__main__":
    main()
