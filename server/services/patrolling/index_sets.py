"""Every input of the 民情指数 for a range of days, set-wise: one SQL pass per kind of fact.

`grid_day_inputs(first, last)` reads the daily counts of every active grid from cases, case
events, ratings, patrols and patrol slots in one statement — a dense grid × day calendar with
window functions for the trailing window — on PostGIS and SpatiaLite alike, and returns them
as numpy arrays [grid, day]. It gives, day by day, exactly what the per-day queries of
`index.grid_inputs` give (the integration test compares them on random data):

* local days: PostGIS ``(ts AT TIME ZONE tz)::date``; SQLite shifts the UTC timestamp by the
  zone's offset at that instant (a CASE over the zone's transitions within the range);
* a case handled twice in a window counts once: each report_done day of a case counts from
  that day until the window ends or the case's next report_done day begins (a +1 and a −1
  on a running sum), so overlapping windows of one case never add up twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from server.extensions import db

IntArray = npt.NDArray[np.int64]
NULL_COV = "CAST(NULL AS DOUBLE PRECISION)"

FIELDS = (
    "new_low",
    "new_normal",
    "new_high",
    "new_urgent",
    "due_count",
    "closed_on_time",
    "ratings_satisfied",
    "ratings_basic",
    "ratings_unsatisfied",
    "handled_count",
    "reworked_count",
    "slots_done",
    "slots_missed",
    "slot_today",
)
"""Integer columns of `grid_day_inputs` besides grid and day, in order; then coverage."""


@dataclass(frozen=True)
class GridDays:
    grid_ids: list[int]
    days: list[date]
    counts: dict[str, IntArray]  # name → [grid, day]
    coverage: npt.NDArray[np.float64]  # [grid, day], NaN = none that day


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, int]]:
    """(from this UTC instant on, the zone's UTC offset in seconds) over [start, end)."""

    def off(t: datetime) -> int:
        delta = t.astimezone(tz).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    out = [(start, off(start))]
    t = start
    while t < end:
        nxt = min(t + timedelta(hours=6), end)
        if off(nxt) != out[-1][1]:  # a transition in (t, nxt]: find its second
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if off(mid) == out[-1][1] else (lo, mid)
            out.append((hi, off(hi)))
        t = nxt
    return out


class Dialect:
    """Local-day arithmetic and literals for one backend."""

    def __init__(self, name: str, tz: ZoneInfo, d0: date, start: datetime, end: datetime):
        self.pg = name == "postgresql"
        self.tz, self.d0 = tz, d0
        self.offsets = _offsets(start - timedelta(days=1), end + timedelta(days=1), tz)

    def ts(self, t: datetime) -> str:
        if self.pg:
            return f"TIMESTAMPTZ '{t.isoformat()}'"
        return f"'{t.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"

    def day(self, column: str) -> str:
        """Whole local days from d0 to the local day of the UTC timestamp `column`."""
        if self.pg:
            return f"(({column} AT TIME ZONE '{self.tz.key}')::date - DATE '{self.d0}')"
        if len(self.offsets) == 1:
            shift = f"'{self.offsets[0][1]:+d} seconds'"
        else:
            cases = " ".join(
                f"WHEN {column} < {self.ts(t)} THEN '{prev:+d} seconds'"
                for (t, _), (_, prev) in zip(self.offsets[1:], self.offsets, strict=False)
            )
            shift = f"CASE {cases} ELSE '{self.offsets[-1][1]:+d} seconds' END"
        # whole seconds (a boundary is a whole second), then days since d0's midnight
        return (
            f"CAST(julianday(substr({column}, 1, 19), {shift}) - julianday('{self.d0}') AS INTEGER)"
        )


def grid_day_inputs(
    first: date,
    last: date,
    window: int,
    tz: ZoneInfo,
    grid_ids: list[int],
    subdistrict_id: int | None,
) -> GridDays:
    """The counts of every active grid (of one subdistrict, or all) for every day of
    [first, last], over the trailing `window` days ending on each (coverage and slot_today:
    on the day itself)."""
    d0 = first - timedelta(days=window - 1)
    n = (last - d0).days + 1
    w_start, w_end = _utc(d0, tz), _utc(last + timedelta(days=1), tz)
    dialect = db.session.get_bind().dialect.name
    q = Dialect(dialect, tz, d0, w_start, w_end)
    ws, we = q.ts(w_start), q.ts(w_end)
    true = "true" if q.pg else "1"
    scope = f" AND g.subdistrict_id = {int(subdistrict_id)}" if subdistrict_id else ""
    grids = f"SELECT g.id, g.subdistrict_id FROM grids g WHERE g.active = {true}{scope}"
    not_new = "c.status NOT IN ('rejected', 'merged')"

    def fact(grid: str, day: str, values: dict[str, str], cov: str = NULL_COV) -> str:
        cols = [f"{values.get(f, '0')} AS {f}" for f in FIELDS]
        return f"SELECT {grid} AS grid_id, {day} AS d, {', '.join(cols)}, {cov} AS cov"

    # joins to `grids` itself (not the CTE): the planner knows its statistics and hashes
    active = f"g.active = {true}{scope}"
    case_join = (
        "FROM cases c JOIN grids g ON g.id = c.grid_id AND g.subdistrict_id = c.subdistrict_id"
        f" AND {active}"
    )
    facts = [
        fact(
            "c.grid_id",
            q.day("c.reported_at"),
            {
                f"new_{p}": f"CASE WHEN c.priority = '{p}' THEN 1 ELSE 0 END"
                for p in ("low", "normal", "high", "urgent")
            },
        )
        + f" {case_join} WHERE c.reported_at >= {ws} AND c.reported_at < {we} AND {not_new}",
        fact(
            "c.grid_id",
            q.day("c.deadline_at"),
            {
                "due_count": "1",
                "closed_on_time": f"CASE WHEN c.handled_on_time = {true} THEN 1 ELSE 0 END",
            },
        )
        + f" {case_join} WHERE c.deadline_at >= {ws} AND c.deadline_at < {we} AND {not_new}",
        fact(
            "c.grid_id",
            q.day("r.created_at"),
            {
                f"ratings_{v}": f"CASE WHEN r.verdict = '{v}' THEN 1 ELSE 0 END"
                for v in ("satisfied", "basic", "unsatisfied")
            },
        )
        + f" FROM ratings r JOIN cases c ON c.id = r.case_id"
        f" JOIN grids g ON g.id = c.grid_id AND g.subdistrict_id = c.subdistrict_id AND {active}"
        f" WHERE r.created_at >= {ws} AND r.created_at < {we} AND r.verdict <> 'none'",
        # handled: +1 from each report_done day, −1 when its window ends or the next begins
        fact("grid_id", "e", {"handled_count": "1", "reworked_count": "rw"}) + " FROM hd",
        fact(
            "grid_id",
            f"CASE WHEN nxt IS NOT NULL AND nxt < e + {window} THEN nxt ELSE e + {window} END",
            {"handled_count": "-1", "reworked_count": "-rw"},
        )
        + f" FROM hd WHERE e + {window} < {n} OR (nxt IS NOT NULL AND nxt < {n})",
        fact("p.grid_id", q.day("p.started_at"), {}, "p.coverage")
        + f" FROM patrols p JOIN grids g ON g.id = p.grid_id AND {active}"
        f" WHERE p.started_at >= {q.ts(_utc(first, tz))} AND p.started_at < {we}"
        " AND p.status = 'ended' AND p.coverage IS NOT NULL",
        fact(
            "s.grid_id",
            q.day("s.due_at"),
            {
                "slots_done": "CASE WHEN s.status = 'done' THEN 1 ELSE 0 END",
                "slots_missed": "CASE WHEN s.status = 'missed' THEN 1 ELSE 0 END",
                "slot_today": "1",
            },
        )
        + f" FROM patrol_slots s JOIN grids g ON g.id = s.grid_id AND {active}"
        f" WHERE s.due_at >= {ws} AND s.due_at < {we}",
    ]
    daily_cols = ", ".join(
        f"max({f}) AS {f}" if f == "slot_today" else f"sum({f}) AS {f}" for f in FIELDS
    )
    trailing = f"ROWS BETWEEN {window - 1} PRECEDING AND CURRENT ROW"
    running = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    out_cols = []
    for f in FIELDS:
        if f == "slot_today":
            out_cols.append("coalesce(a.slot_today, 0)")
        else:
            frame = running if f in ("handled_count", "reworked_count") else trailing
            out_cols.append(
                f"sum(coalesce(a.{f}, 0)) OVER (PARTITION BY sel.id ORDER BY cal.d {frame})"
            )
    int_cast = "::int" if q.pg else ""
    sql = f"""
WITH RECURSIVE cal(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM cal WHERE d < {n - 1}),
sel AS ({grids}),
hd AS (
  SELECT grid_id, rw, e, LEAD(e) OVER (PARTITION BY case_id ORDER BY e) AS nxt FROM (
    SELECT DISTINCT c.id AS case_id, c.grid_id AS grid_id,
           CASE WHEN c.rework_count > 0 THEN 1 ELSE 0 END AS rw, {q.day("ev.created_at")} AS e
    FROM case_events ev JOIN cases c ON c.id = ev.case_id
    JOIN grids g ON g.id = c.grid_id AND g.subdistrict_id = c.subdistrict_id AND {active}
    WHERE ev.action = 'report_done' AND ev.created_at >= {ws} AND ev.created_at < {we}
  ) AS x
),
facts AS ({" UNION ALL ".join(facts)}),
agg AS (SELECT grid_id, d, {daily_cols}, max(cov) AS cov FROM facts GROUP BY grid_id, d),
dense AS (
  SELECT sel.id AS grid_id, cal.d AS d,
         {", ".join(f"{c} AS {f}" for c, f in zip(out_cols, FIELDS, strict=True))},
         a.cov AS cov
  FROM sel CROSS JOIN cal LEFT JOIN agg a ON a.grid_id = sel.id AND a.d = cal.d
)
SELECT grid_id, d - {window - 1} AS d,
       {", ".join(f"{f}{int_cast}" for f in FIELDS)},
       coalesce(cov, -1.0) AS cov
FROM dense WHERE d >= {window - 1}
ORDER BY grid_id, d
"""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    shape = (len(grid_ids), len(days))
    table = _fetch(sql, q.pg, len(FIELDS))
    counts = {f: np.zeros(shape, dtype=np.int64) for f in FIELDS}
    coverage = np.full(shape, np.nan)
    if len(table["grid"]):
        ordered = np.asarray(grid_ids, dtype=np.int64)  # ascending, the same grids as `sel`
        rows = np.searchsorted(ordered, table["grid"])
        d = table["d"]
        for f in FIELDS:
            counts[f][rows, d] = table[f]
        coverage[rows, d] = np.where(table["cov"] < 0, np.nan, table["cov"])
    return GridDays(grid_ids=grid_ids, days=days, counts=counts, coverage=coverage)


def _fetch(sql: str, pg: bool, n_ints: int) -> dict[str, Any]:
    """The rows of `sql` (grid, d, n_ints integers, one float) as numpy columns: by binary
    COPY on PostgreSQL (no Python object per value), by the DB-API on SQLite."""
    names = ["grid", "d", *FIELDS]
    if pg:
        raw = db.session.connection().connection.dbapi_connection
        assert raw is not None
        chunks: list[bytes] = []
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                chunks.append(bytes(chunk))
        data = b"".join(chunks)
        dtype = np.dtype(
            [("nf", ">i2")]
            + [x for name in names for x in ((f"l_{name}", ">i4"), (name, ">i4"))]
            + [("l_cov", ">i4"), ("cov", ">f8")]
        )
        body = data[19 : len(data) - 2]  # header (signature, flags, extension) and trailer
        rec = np.frombuffer(body, dtype=dtype)
        out: dict[str, Any] = {name: rec[name].astype(np.int64) for name in names}
        out["cov"] = rec["cov"].astype(np.float64)
        return out
    rows = db.session.connection().exec_driver_sql(sql).all()
    if not rows:
        return {**{name: np.zeros(0, dtype=np.int64) for name in names}, "cov": np.zeros(0)}
    arr = np.asarray(rows, dtype=np.float64)
    out = {name: arr[:, i].astype(np.int64) for i, name in enumerate(names)}
    out["cov"] = arr[:, len(names)]
    assert arr.shape[1] == n_ints + 3
    return out


def community_day_counts(
    first: date, last: date, tz: ZoneInfo, subdistrict_id: int | None
) -> dict[tuple[int, int, date], tuple[int, int, int]]:
    """For the bulletins: (new, closed, overdue) cases per (subdistrict, community, local day)
    of [first, last], in one grouped statement."""
    start, end = _utc(first, tz), _utc(last + timedelta(days=1), tz)
    dialect = db.session.get_bind().dialect.name
    q = Dialect(dialect, tz, first, start, end)
    scope = f" AND c.subdistrict_id = {int(subdistrict_id)}" if subdistrict_id else ""
    not_new = "c.status NOT IN ('rejected', 'merged')"

    def part(column: str, cond: str, kind: int) -> str:
        return (
            f"SELECT c.subdistrict_id AS sid, c.community_id AS cid, {q.day(column)} AS d, "
            f"{int(kind == 0)} AS n, {int(kind == 1)} AS k, {int(kind == 2)} AS o FROM cases c "
            f"WHERE {column} >= {q.ts(start)} AND {column} < {q.ts(end)} AND {cond}{scope}"
        )

    sql = (
        "SELECT sid, cid, d, sum(n), sum(k), sum(o) FROM ("
        + " UNION ALL ".join(
            [
                part("c.reported_at", not_new, 0),
                part("c.closed_at", "c.status = 'closed'", 1),
                part(
                    "c.deadline_at",
                    f"(c.handled_at IS NULL OR c.handled_at > c.deadline_at) AND {not_new}",
                    2,
                ),
            ]
        )
        + ") AS x GROUP BY sid, cid, d"
    )
    return {
        (sid, cid, first + timedelta(days=int(d))): (int(n), int(k), int(o))
        for sid, cid, d, n, k, o in db.session.connection().exec_driver_sql(sql)
    }
