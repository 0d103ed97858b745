"""Writing the slim 民情指数 rows of a whole range at once.

On PostgreSQL the rows go in by binary COPY built straight from the numpy arrays (no Python
object per value): the rows are grouped by which nullable columns (score, coverage) are NULL,
each group a fixed-layout record array. On SQLite, one executemany.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from server.domain.index_vector import MISSING
from server.extensions import db
from server.models.index import INPUT_COLUMNS

_PG_EPOCH = date(2000, 1, 1)

# the integer columns after score and coverage, in the table's order
_INTS = ("area_id", "subdistrict_id", *INPUT_COLUMNS)


def write_rows(
    level: str,
    area_ids: list[int],
    subdistrict_of: Any,
    days: list[date],
    cols: dict[str, Any],
    tenths: Any,
    formula_id: int,
    first: date,
) -> int:
    """Insert one row per (area, day): arrays in `cols` and `tenths` are [area, day]."""
    n_areas, n_days = len(area_ids), len(days)
    if n_areas == 0:
        return 0
    shape = (n_areas, n_days)
    flat: dict[str, Any] = {
        "area_id": np.repeat(np.asarray(area_ids, dtype=np.int64), n_days),
        "subdistrict_id": np.repeat(np.asarray(subdistrict_of, dtype=np.int64), n_days),
        "day": np.tile(np.arange(n_days, dtype=np.int64), n_areas) + (first - _PG_EPOCH).days,
    }
    for name in INPUT_COLUMNS:
        flat[name] = np.broadcast_to(cols[name], shape).reshape(-1).astype(np.int64)
    flat["window_days"] = np.broadcast_to(cols["window_days"], shape).reshape(-1)
    cov = np.asarray(cols["patrol_coverage"], dtype=np.float64).reshape(-1)
    t = np.asarray(tenths).reshape(-1)
    score = np.where(t == MISSING, np.nan, t / 10)
    if db.session.get_bind().dialect.name == "postgresql":
        _copy_pg(level, flat, score, cov, formula_id)
    else:
        _insert_sqlite(level, flat, score, cov, formula_id)
    return n_areas * n_days


_COLUMNS = ["score", "patrol_coverage", "day", *_INTS, "formula_id", "window_days", "level"]


def _copy_pg(level: str, flat: dict[str, Any], score: Any, cov: Any, formula_id: int) -> None:
    level_bytes = level.encode()
    chunks = [b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"]
    score_null, cov_null = np.isnan(score), np.isnan(cov)
    for s_null in (False, True):
        for c_null in (False, True):
            pick = np.flatnonzero((score_null == s_null) & (cov_null == c_null))
            if not len(pick):
                continue
            fields: list[tuple[str, str]] = [("nf", ">i2")]
            fields += [("l_score", ">i4")] + ([] if s_null else [("score", ">f8")])
            fields += [("l_cov", ">i4")] + ([] if c_null else [("cov", ">f8")])
            fields += [("l_day", ">i4"), ("day", ">i4")]
            for name in _INTS:
                fields += [(f"l_{name}", ">i4"), (name, ">i4")]
            fields += [("l_formula", ">i4"), ("formula", ">i2")]
            fields += [("l_window", ">i4"), ("window", ">i2")]
            fields += [("l_level", ">i4"), ("level", f"S{len(level_bytes)}")]
            rec = np.zeros(len(pick), dtype=np.dtype(fields))
            rec["nf"] = len(_COLUMNS)
            rec["l_score"] = -1 if s_null else 8
            if not s_null:
                rec["score"] = score[pick]
            rec["l_cov"] = -1 if c_null else 8
            if not c_null:
                rec["cov"] = cov[pick]
            rec["l_day"], rec["day"] = 4, flat["day"][pick]
            for name in _INTS:
                rec[f"l_{name}"], rec[name] = 4, flat[name][pick]
            rec["l_formula"], rec["formula"] = 2, formula_id
            rec["l_window"], rec["window"] = 2, flat["window_days"][pick]
            rec["l_level"], rec["level"] = len(level_bytes), level_bytes
            chunks.append(rec.tobytes())
    chunks.append(b"\xff\xff")
    raw = db.session.connection().connection.dbapi_connection
    assert raw is not None
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY sentiment_index ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT binary)"
        ) as copy,
    ):
        copy.write(b"".join(chunks))


def _insert_sqlite(level: str, flat: dict[str, Any], score: Any, cov: Any, formula_id: int) -> None:
    days = [(_PG_EPOCH + timedelta(days=d)).isoformat() for d in flat["day"].tolist()]
    columns = [
        [None if np.isnan(x) else x for x in score.tolist()],
        [None if np.isnan(x) else x for x in cov.tolist()],
        days,
        *(flat[name].tolist() for name in _INTS),
        [formula_id] * len(days),
        flat["window_days"].tolist(),
        [level] * len(days),
    ]
    marks = ", ".join("?" * len(_COLUMNS))
    db.session.connection().exec_driver_sql(
        f"INSERT INTO sentiment_index ({', '.join(_COLUMNS)}) VALUES ({marks})",
        list(zip(*columns, strict=True)),
    )
