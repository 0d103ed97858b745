"""The vectorised 民情指数 (server/domain/index_vector.py) equals the reference formula.

A property test on seeded random inputs (hypothesis is not among the dev dependencies):
every published figure — the index and every component score, to one decimal — of
`score_many` equals `compute_index`'s, including rows built to sit on rounding ties.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from server.domain.index import COMPONENTS, DEFAULT_WEIGHTS, IndexInputs, Weights, compute_index
from server.domain.index_vector import MISSING, InputArrays, score_many, tenths_to_float


def random_inputs(rng: random.Random) -> IndexInputs:
    def count(high: int) -> int:
        return 0 if rng.random() < 0.3 else rng.randint(0, high)

    due, handled, scheduled = count(40), count(40), count(20)
    coverage: float | None
    pick = rng.random()
    if pick < 0.3:
        coverage = None
    elif pick < 0.5:
        coverage = round(rng.random(), 4)  # 0.6804 → 850.5 tenths: a tie the float misses
    elif pick < 0.6:
        coverage = rng.choice([0.0, 0.8, 1.0, 0.0004, 0.9996])
    else:
        coverage = rng.random()
    return IndexInputs(
        population=0 if rng.random() < 0.2 else rng.randint(1, 60_000),
        window_days=rng.choice([7, 7, 7, 1, 14, 30]),
        new_cases_by_priority={p: count(12) for p in ("low", "normal", "high", "urgent")},
        due_count=due,
        closed_on_time=rng.randint(0, due),
        ratings_satisfied=count(20),
        ratings_basic=count(10),
        ratings_unsatisfied=count(6),
        handled_count=handled,
        reworked_count=rng.randint(0, handled),
        patrol_coverage=coverage,
        scheduled_patrols=scheduled,
        patrols_done_on_time=rng.randint(0, scheduled),
        topic_satisfied=count(30) if rng.random() < 0.3 else 0,
        topic_basic=count(10) if rng.random() < 0.3 else 0,
        topic_unsatisfied=count(10) if rng.random() < 0.3 else 0,
    )


def random_weights(rng: random.Random) -> Weights:
    while True:
        mapping = {
            name: rng.choice([0.0, round(rng.uniform(0, 1), rng.choice([1, 2, 3])), 0.05, 1.0])
            for name in COMPONENTS
        }
        if any(v > 0 for v in mapping.values()):
            return Weights.from_mapping(mapping)


def assert_same(rows: list[IndexInputs], weights: Weights) -> None:
    index, comps = score_many(InputArrays.from_inputs(rows), weights)
    published = tenths_to_float(index)
    for i, row in enumerate(rows):
        want = compute_index(row, weights)
        assert published[i] == want.score, (row, weights)
        for name in COMPONENTS:
            got = comps[name][i]
            expected = want.components[name].score
            assert (None if got == MISSING else got / 10) == expected, (name, row)


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_equals_reference_on_random_inputs(seed: int) -> None:
    rng = random.Random(20261203 + seed)
    rows = [random_inputs(rng) for _ in range(1500)]
    assert_same(rows, DEFAULT_WEIGHTS)
    assert_same(rows[:500], random_weights(rng))


def test_vectorised_equals_reference_on_the_worked_examples() -> None:
    from test_index import AREAS_M2, GRID_A, GRID_B, GRID_C

    from server.domain.index import combine_inputs

    community = combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2)
    index, _ = score_many(
        InputArrays.from_inputs([GRID_A, GRID_B, GRID_C, community]), DEFAULT_WEIGHTS
    )
    assert tenths_to_float(index) == [83.4, 55.0, 93.4, 73.5]  # docs/index.md, 73.495 → 73.5


def test_ties_of_the_index_round_half_up() -> None:
    # built so that Σ w·s ÷ Σ w is exactly x.x5 in decimals: 0.5·80.1 + 0.5·80.0 = 80.05 → 80.1
    weights = Weights.from_mapping(
        {n: (0.5 if n in ("on_time_closure", "rework") else 0) for n in COMPONENTS}
    )
    row = IndexInputs(
        population=0,
        new_cases_by_priority={},
        due_count=1000,
        closed_on_time=801,
        ratings_satisfied=0,
        ratings_basic=0,
        ratings_unsatisfied=0,
        handled_count=5,
        reworked_count=1,
        patrol_coverage=None,
        scheduled_patrols=0,
        patrols_done_on_time=0,
    )
    index, _ = score_many(InputArrays.from_inputs([row]), weights)
    assert compute_index(row, weights).score == 80.1
    assert tenths_to_float(index) == [80.1]


def test_exotic_weights_fall_back_to_the_reference() -> None:
    rng = random.Random(7)
    rows = [random_inputs(rng) for _ in range(50)]
    weights = Weights.from_mapping({"satisfaction": 1 / 3, "rework": 2 / 7})  # 16 decimals
    assert_same(rows, weights)
    assert np.asarray([1]).dtype.kind == "i"
