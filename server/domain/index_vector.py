"""The 民情指数 formula of `server.domain.index`, vectorised with numpy for many areas at once.

`score_many` scores thousands of area-days in a few array operations and gives exactly the
published figures of `compute_index` — the same one-decimal component scores and the same
index, bit for bit — which the property test in tests/unit/domain/test_index_vector.py
checks on random inputs against the reference implementation:

* ratios (on-time closure, satisfaction, rework, patrols on time, topic evaluation) are
  rounded half up in exact integer arithmetic: ``round_half_up(1000·a/b) = (2000·a + b) //
  (2·b)`` tenths of a point;
* issue pressure (an exponential) and patrol coverage (a float input read as the decimal it
  prints as) are computed in floats, and the rare rows whose float lands within 1e-6 of a
  rounding tie are recomputed by the reference `compute_index` (Decimal);
* the index ``Σ wᵢ·sᵢ ÷ Σ wᵢ`` is exact integer arithmetic on the weights scaled to whole
  numbers (their decimal digits as printed) and the scores in tenths, rounded half up;
  weights with more than 9 decimals fall back to the reference for every row.

Scores come back as tenths (int64), −1 where a component is missing or the index is None.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from server.domain.deadlines import PRIORITIES
from server.domain.index import (
    COMPONENTS,
    POPULATION_FLOOR,
    IndexInputs,
    Weights,
    compute_index,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MISSING = -1
"""Tenths value of a missing component score or of an index of None."""

_TIE = 1e-6


@dataclass
class InputArrays:
    """The fields of `IndexInputs` as parallel arrays, one element per area-day; coverage is
    NaN where the area has no coverage figure for the day (None)."""

    population: IntArray
    window_days: IntArray
    new_low: IntArray
    new_normal: IntArray
    new_high: IntArray
    new_urgent: IntArray
    due_count: IntArray
    closed_on_time: IntArray
    ratings_satisfied: IntArray
    ratings_basic: IntArray
    ratings_unsatisfied: IntArray
    handled_count: IntArray
    reworked_count: IntArray
    patrol_coverage: FloatArray
    scheduled_patrols: IntArray
    patrols_done_on_time: IntArray
    topic_satisfied: IntArray
    topic_basic: IntArray
    topic_unsatisfied: IntArray

    def __len__(self) -> int:
        return len(self.population)

    def row(self, i: int) -> IndexInputs:
        """One area-day as the reference's inputs."""
        cov = float(self.patrol_coverage[i])
        return IndexInputs(
            population=int(self.population[i]),
            window_days=int(self.window_days[i]),
            new_cases_by_priority={
                p: int(getattr(self, f"new_{p}")[i])
                for p in PRIORITIES
                if int(getattr(self, f"new_{p}")[i])
            },
            due_count=int(self.due_count[i]),
            closed_on_time=int(self.closed_on_time[i]),
            ratings_satisfied=int(self.ratings_satisfied[i]),
            ratings_basic=int(self.ratings_basic[i]),
            ratings_unsatisfied=int(self.ratings_unsatisfied[i]),
            handled_count=int(self.handled_count[i]),
            reworked_count=int(self.reworked_count[i]),
            patrol_coverage=None if np.isnan(cov) else cov,
            scheduled_patrols=int(self.scheduled_patrols[i]),
            patrols_done_on_time=int(self.patrols_done_on_time[i]),
            topic_satisfied=int(self.topic_satisfied[i]),
            topic_basic=int(self.topic_basic[i]),
            topic_unsatisfied=int(self.topic_unsatisfied[i]),
        )

    @classmethod
    def from_inputs(cls, rows: list[IndexInputs]) -> InputArrays:
        """Arrays from reference inputs (for tests and small callers)."""
        cols: dict[str, list[float]] = {f.name: [] for f in fields(cls)}
        for r in rows:
            for f in fields(cls):
                if f.name.startswith("new_"):
                    cols[f.name].append(r.new_cases_by_priority.get(f.name[4:], 0))
                elif f.name == "patrol_coverage":
                    cols[f.name].append(np.nan if r.patrol_coverage is None else r.patrol_coverage)
                else:
                    cols[f.name].append(getattr(r, f.name))
        arrays: dict[str, Any] = {
            name: np.asarray(v, dtype=np.float64 if name == "patrol_coverage" else np.int64)
            for name, v in cols.items()
        }
        return cls(**arrays)


def _ratio_tenths(numerator: IntArray, denominator: IntArray) -> IntArray:
    """round_half_up(1000 · n / d) for d > 0 (n / d being a share 0..1 of 100 points),
    MISSING where d = 0."""
    safe = np.where(denominator > 0, denominator, 1)
    out = (2000 * numerator + safe) // (2 * safe)
    return np.where(denominator > 0, out, MISSING)


def _half_up(x: FloatArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Floats rounded half up, and where they sit too close to a tie to trust the float."""
    low = np.floor(x)
    tie = np.abs(x - low - 0.5) < _TIE
    return (low + (x - low >= 0.5)).astype(np.int64), tie


def component_tenths(a: InputArrays) -> dict[str, IntArray]:
    """Each component's score in tenths of a point (MISSING where missing)."""
    n = len(a)
    out: dict[str, IntArray] = {}
    new2 = a.new_low + 2 * a.new_normal + 4 * a.new_high + 8 * a.new_urgent  # 2 · weighted
    new_any = a.new_low + a.new_normal + a.new_high + a.new_urgent
    residents = np.maximum(a.population, POPULATION_FLOOR)
    pressure = (new2 * 500.0) / (residents * a.window_days)  # weighted · 1000 ÷ (res · days)
    p_tenths, p_tie = _half_up(1000.0 * np.exp(-pressure))
    p_missing = (a.population == 0) & (new_any == 0)
    out["issue_pressure"] = np.where(p_missing, MISSING, p_tenths)
    out["on_time_closure"] = _ratio_tenths(a.closed_on_time, a.due_count)
    rated = a.ratings_satisfied + a.ratings_basic + a.ratings_unsatisfied
    # (s + 0.8·b) ÷ n · 1000 = (1000·s + 800·b) ÷ n
    sat_num = 1000 * a.ratings_satisfied + 800 * a.ratings_basic
    safe = np.where(rated > 0, rated, 1)
    out["satisfaction"] = np.where(rated > 0, (2 * sat_num + safe) // (2 * safe), MISSING)
    out["rework"] = _ratio_tenths(a.handled_count - a.reworked_count, a.handled_count)
    cov = a.patrol_coverage
    has_cov = ~np.isnan(cov)
    c_tenths, c_tie = _half_up(np.where(has_cov, cov, 0.0) * 1250.0)  # 100 · c ÷ 0.8
    out["patrol_coverage"] = np.where(has_cov, np.minimum(c_tenths, 1000), MISSING)
    out["patrol_on_time"] = _ratio_tenths(a.patrols_done_on_time, a.scheduled_patrols)
    t_rated = a.topic_satisfied + a.topic_basic + a.topic_unsatisfied
    t_num = 1000 * a.topic_satisfied + 800 * a.topic_basic
    t_safe = np.where(t_rated > 0, t_rated, 1)
    out["topic_evaluation"] = np.where(t_rated > 0, (2 * t_num + t_safe) // (2 * t_safe), MISSING)

    # the few floats too close to a tie: decided in decimals, as the reference does
    for i in np.flatnonzero(c_tie & has_cov & (c_tenths < 1000)).tolist():
        # 100 · v ÷ 0.8 = 125 · v exactly; tenths half up, v the decimal the float prints as
        exact = (Decimal(repr(float(cov[i]))) * 1250).quantize(Decimal(1), ROUND_HALF_UP)
        out["patrol_coverage"][i] = min(1000, int(exact))
    for i in np.flatnonzero(p_tie & ~p_missing).tolist():
        s = compute_index(a.row(i)).components["issue_pressure"].score
        out["issue_pressure"][i] = MISSING if s is None else round(s * 10)
    assert all(len(v) == n for v in out.values())
    return out


def _scaled_weights(weights: Weights) -> tuple[list[int], int] | None:
    """The weights as integers over a common power of ten (their digits as printed), or None
    when that would need more than 9 decimals."""
    decimals = [Decimal(repr(float(getattr(weights, name)))) for name in COMPONENTS]
    places = max(0, *(-int(d.as_tuple().exponent) for d in decimals))
    if places > 9:
        return None
    scale = Decimal(10) ** places
    return [int(d * scale) for d in decimals], places


def score_many(a: InputArrays, weights: Weights) -> tuple[IntArray, dict[str, IntArray]]:
    """The index (tenths, MISSING for None) and each component's tenths, for every row."""
    comps = component_tenths(a)
    scaled = _scaled_weights(weights)
    if scaled is None:  # exotic weights: the reference, row by row
        index = np.full(len(a), MISSING, dtype=np.int64)
        for i in range(len(a)):
            s = compute_index(a.row(i), weights).score
            index[i] = MISSING if s is None else round(s * 10)
        return index, comps
    ints, _ = scaled
    num = np.zeros(len(a), dtype=np.int64)
    den = np.zeros(len(a), dtype=np.int64)
    for name, w in zip(COMPONENTS, ints, strict=True):
        present = comps[name] != MISSING
        num += np.where(present, comps[name] * w, 0)
        den += np.where(present, w, 0)
    safe = np.where(den > 0, den, 1)
    index = np.where(den > 0, (2 * num + safe) // (2 * safe), MISSING)
    return index, comps


def tenths_to_float(tenths: IntArray) -> list[float | None]:
    """Published figures: 779 → 77.9 (the float nearest to the decimal), MISSING → None."""
    return [None if t == MISSING else t / 10 for t in tenths.tolist()]
