"""The sentiment index (民情指数) on small fixtures worked out by hand (docs/index.md)."""

from __future__ import annotations

import decimal
import itertools
import json
import math
import random
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from server.domain.index import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    FORMULA_VERSION,
    IndexInputs,
    IndexResult,
    Weights,
    bulletin_zh,
    combine_inputs,
    compute_index,
)


def inputs(**kw: Any) -> IndexInputs:
    """An area with nothing to report, overridden by `kw`."""
    base: dict[str, Any] = {
        "population": 0,
        "window_days": 7,
        "new_cases_by_priority": {},
        "due_count": 0,
        "closed_on_time": 0,
        "ratings_satisfied": 0,
        "ratings_basic": 0,
        "ratings_unsatisfied": 0,
        "handled_count": 0,
        "reworked_count": 0,
        "patrol_coverage": None,
        "scheduled_patrols": 0,
        "patrols_done_on_time": 0,
    }
    return IndexInputs(**{**base, **kw})


# Grid A, the worked example of docs/index.md: 2,000 residents, the 7 days ending on D.
GRID_A = inputs(
    population=2000,
    new_cases_by_priority={"low": 1, "normal": 1, "high": 1},
    due_count=8,
    closed_on_time=7,
    ratings_satisfied=5,
    ratings_basic=2,
    ratings_unsatisfied=1,
    handled_count=8,
    reworked_count=1,
    patrol_coverage=0.68,
    scheduled_patrols=14,
    patrols_done_on_time=13,
)
# Grid B: a busier grid of 1,000 residents with an urgent case.
GRID_B = inputs(
    population=1000,
    new_cases_by_priority={"normal": 2, "urgent": 1},
    due_count=4,
    closed_on_time=2,
    ratings_satisfied=1,
    ratings_unsatisfied=1,
    handled_count=4,
    patrol_coverage=0.5,
    scheduled_patrols=14,
    patrols_done_on_time=10,
)
# Grid C: a park with no registered residents, no patrol schedule and no ratings.
GRID_C = inputs(
    population=0,
    new_cases_by_priority={"low": 1},
    due_count=1,
    closed_on_time=1,
    handled_count=1,
)
AREAS_M2 = (40_000.0, 60_000.0, 100_000.0)


# ------------------------------------------------------------------ the worked example


@pytest.mark.parametrize(
    ("name", "value", "score", "weight"),
    [
        # weighted cases 0.5·1 + 1·1 + 2·1 = 3.5; p = 3.5 · 1000 / (2000 · 7) = 0.25
        # score 100 · e^(−0.25 / 1) = 77.880… → 77.9
        ("issue_pressure", 0.25, 77.9, 0.30),
        # 7 closed on time ÷ 8 due = 0.875 → 87.5
        ("on_time_closure", 0.875, 87.5, 0.20),
        # (5 + 0.8 · 2) ÷ (5 + 2 + 1) = 6.6 ÷ 8 = 0.825 → 82.5
        ("satisfaction", 0.825, 82.5, 0.25),
        # rework rate 1 ÷ 8 = 0.125; score 100 · (1 − 0.125) = 87.5
        ("rework", 0.125, 87.5, 0.10),
        # coverage 0.68; 100 · 0.68 ÷ 0.8 = 85.0 (full marks from 0.8 up)
        ("patrol_coverage", 0.68, 85.0, 0.10),
        # 13 ÷ 14 = 0.92857… → 92.857… → 92.9
        ("patrol_on_time", 13 / 14, 92.9, 0.05),
    ],
)
def test_worked_example_components(name: str, value: float, score: float, weight: float) -> None:
    c = compute_index(GRID_A).components[name]
    assert c.name == name
    assert c.value == pytest.approx(value, abs=1e-12)
    assert c.score == score
    assert c.weight == weight
    assert c.effective_weight == pytest.approx(weight)  # nothing missing: Σ w = 1
    assert c.missing is False


def test_worked_example_score() -> None:
    # 0.30·77.9 + 0.20·87.5 + 0.25·82.5 + 0.10·87.5 + 0.10·85.0 + 0.05·92.9
    # = 23.37 + 17.5 + 20.625 + 8.75 + 8.5 + 4.645 = 83.39 → 83.4
    result = compute_index(GRID_A)
    assert result.score == 83.4
    assert list(result.components) == list(COMPONENTS)
    # anyone can recompute the score from the published components
    again = sum(c.effective_weight * (c.score or 0) for c in result.components.values())
    assert round(again, 1) == 83.4


def test_worked_example_basis_explains_each_value() -> None:
    comps = compute_index(GRID_A).components
    assert comps["issue_pressure"].basis == {
        "new_cases": 3,
        "weighted_cases": 3.5,
        "population": 2000,
        "population_used": 2000,
        "window_days": 7,
    }
    assert comps["on_time_closure"].basis == {"closed_on_time": 7, "due": 8}
    assert comps["satisfaction"].basis == {"satisfied": 5, "basic": 2, "unsatisfied": 1}
    assert comps["rework"].basis == {"reworked": 1, "handled": 8}
    assert comps["patrol_coverage"].basis == {"coverage": 0.68, "target": 0.8}
    assert comps["patrol_on_time"].basis == {"done_on_time": 13, "scheduled": 14}


def test_as_dict_is_json_ready_with_labels() -> None:
    d = compute_index(GRID_A).as_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["formula"] == FORMULA_VERSION
    assert (d["label_zh"], d["label_en"], d["score"]) == ("民情指数", "sentiment index", 83.4)
    assert list(d["components"]) == list(COMPONENTS)
    sat = d["components"]["satisfaction"]
    assert (sat["label_zh"], sat["label_en"]) == ("群众满意", "resident satisfaction")
    assert (sat["value"], sat["score"], sat["weight"], sat["missing"]) == (0.825, 82.5, 0.25, False)
    assert d["components"]["patrol_on_time"]["value"] == 0.9286  # 13/14 to 4 decimals


def test_inputs_as_dict_round_trips() -> None:
    d = GRID_A.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["new_cases_by_priority"] == {"low": 1, "normal": 1, "high": 1, "urgent": 0}
    assert IndexInputs(**d) == replace(GRID_A, new_cases_by_priority=d["new_cases_by_priority"])
    assert compute_index(IndexInputs(**d)) == compute_index(GRID_A)


# ------------------------------------------------------------------ missing components


def test_missing_satisfaction_renormalises() -> None:
    # no ratings: satisfaction drops out, Σ w = 1 − 0.25 = 0.75
    # (23.37 + 17.5 + 8.75 + 8.5 + 4.645) ÷ 0.75 = 62.765 ÷ 0.75 = 83.6866… → 83.7
    result = compute_index(
        replace(GRID_A, ratings_satisfied=0, ratings_basic=0, ratings_unsatisfied=0)
    )
    assert result.score == 83.7
    sat = result.components["satisfaction"]
    assert (sat.missing, sat.value, sat.score, sat.effective_weight) == (True, None, None, 0.0)
    assert sat.weight == 0.25  # the configured weight is still shown
    assert result.components["issue_pressure"].effective_weight == pytest.approx(0.30 / 0.75)
    present = [c.effective_weight for c in result.components.values() if not c.missing]
    assert math.fsum(present) == pytest.approx(1.0)


def test_park_grid_with_three_components_missing() -> None:
    # population 0 → floor 500; weighted 0.5 · 1 = 0.5; p = 0.5 · 1000 / (500 · 7) = 1/7
    # pressure 100 · e^(−0.142857…) = 86.687… → 86.7; on time 1/1 → 100.0; rework 0/1 → 100.0
    # satisfaction, coverage and patrols on time are missing: Σ w = 0.30 + 0.20 + 0.10 = 0.6
    # (26.01 + 20 + 10) ÷ 0.6 = 93.35 exactly (in decimals) → 93.4, half up
    result = compute_index(GRID_C)
    assert result.components["issue_pressure"].basis["population_used"] == 500
    assert result.components["issue_pressure"].score == 86.7
    assert [n for n, c in result.components.items() if c.missing] == [
        "satisfaction",
        "patrol_coverage",
        "patrol_on_time",
        "topic_evaluation",  # index/2: a grid has no deliberation topics
    ]
    assert result.score == 93.4


def test_every_component_missing_gives_no_score() -> None:
    result = compute_index(inputs())  # no residents on record, nothing reported or scheduled
    assert result.score is None
    assert all(c.missing and c.score is None for c in result.components.values())
    assert all(c.effective_weight == 0.0 for c in result.components.values())
    assert result.as_dict()["score"] is None


def test_residents_but_no_cases_is_measured_pressure() -> None:
    # 1,300 residents and nothing reported in the week is a real observation: p = 0 → 100
    c = compute_index(inputs(population=1300)).components["issue_pressure"]
    assert (c.missing, c.value, c.score) == (False, 0.0, 100.0)


def test_only_zero_weight_components_present_gives_no_score() -> None:
    weights = Weights.from_mapping(
        {"issue_pressure": 0, "on_time_closure": 0, "rework": 0, "patrol_on_time": 0}
    )
    result = compute_index(replace(GRID_C, population=800), weights)
    assert result.score is None  # only pressure, closure and rework have data; all weigh 0
    assert result.components["issue_pressure"].score is not None  # still explained


def test_small_population_uses_the_floor() -> None:
    tiny = compute_index(inputs(population=120, new_cases_by_priority={"normal": 1}))
    c = tiny.components["issue_pressure"]
    # p = 1 · 1000 / (500 · 7) = 0.285714…; 100 · e^(−0.285714…) = 75.14… → 75.1
    assert c.basis["population_used"] == 500
    assert c.value == pytest.approx(2 / 7)
    assert c.score == 75.1


# ------------------------------------------------------------------ weights


def test_default_weights() -> None:
    assert DEFAULT_WEIGHTS.as_dict() == {
        "issue_pressure": 0.30,
        "on_time_closure": 0.20,
        "satisfaction": 0.25,
        "rework": 0.10,
        "patrol_coverage": 0.10,
        "patrol_on_time": 0.05,
        "topic_evaluation": 0.10,  # index/2; only present for communities with evaluated topics
    }
    assert math.fsum(DEFAULT_WEIGHTS.as_dict().values()) == pytest.approx(1.1)
    assert Weights.from_mapping(DEFAULT_WEIGHTS.as_dict()) == DEFAULT_WEIGHTS


def test_from_mapping_keeps_defaults_for_keys_left_out() -> None:
    w = Weights.from_mapping({"satisfaction": 0.4, "rework": 0})
    assert (w.satisfaction, w.rework, w.issue_pressure) == (0.4, 0.0, 0.30)


def test_only_the_shares_of_the_weights_matter() -> None:
    doubled = Weights.from_mapping({k: 2 * v for k, v in DEFAULT_WEIGHTS.as_dict().items()})
    assert compute_index(GRID_A, doubled).score == compute_index(GRID_A).score


@pytest.mark.parametrize(
    ("mapping", "names"),
    [
        ({"satisfation": 0.3}, "'satisfation'"),  # a typo names the key
        ({"rework": -0.1}, "'rework'"),
        ({"rework": float("nan")}, "'rework'"),
        ({"rework": float("inf")}, "'rework'"),
        ({"rework": "0.1"}, "'rework'"),
        ({"rework": True}, "'rework'"),
    ],
)
def test_from_mapping_refuses_bad_keys_and_values(mapping: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError) as err:
        Weights.from_mapping(mapping)
    message = str(err.value)
    assert names in message
    assert " / " in message  # Chinese and English


def test_weights_need_one_positive() -> None:
    with pytest.raises(ValueError, match="at least one weight must be positive"):
        Weights.from_mapping(dict.fromkeys(COMPONENTS, 0.0))
    with pytest.raises(ValueError, match="'satisfaction' must not be negative"):
        Weights(satisfaction=-1)


# ------------------------------------------------------------------ inputs validation


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"population": -1}, "population"),
        ({"window_days": 0}, "window_days"),
        ({"due_count": 1.5}, "due_count"),
        ({"closed_on_time": 3, "due_count": 2}, "closed_on_time"),
        ({"reworked_count": 1}, "reworked_count"),
        ({"patrols_done_on_time": 1}, "patrols_done_on_time"),
        ({"new_cases_by_priority": {"critical": 1}}, "critical"),
        ({"new_cases_by_priority": {"low": -1}}, "'low'"),
        ({"patrol_coverage": 1.2}, "patrol_coverage"),
        ({"patrol_coverage": float("nan")}, "patrol_coverage"),
    ],
)
def test_inputs_refuse_impossible_counts(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        inputs(**kw)


# ------------------------------------------------------------------ determinism


def test_same_inputs_same_result() -> None:
    first, second = compute_index(GRID_A), compute_index(GRID_A)
    assert first == second
    assert json.dumps(first.as_dict()) == json.dumps(second.as_dict())


def test_priority_order_does_not_matter() -> None:
    forward = {"low": 3, "normal": 5, "high": 2, "urgent": 1}
    backward = dict(reversed(list(forward.items())))
    a = compute_index(replace(GRID_A, new_cases_by_priority=forward))
    b = compute_index(replace(GRID_A, new_cases_by_priority=backward))
    assert a == b


def test_callers_decimal_context_does_not_matter() -> None:
    expected = compute_index(GRID_B)
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        assert compute_index(GRID_B) == expected


def test_grid_order_does_not_change_the_community() -> None:
    grids = list(zip((GRID_A, GRID_B, GRID_C), AREAS_M2, strict=True))
    results = set()
    for perm in itertools.permutations(grids):
        combined = combine_inputs([g for g, _ in perm], [a for _, a in perm])
        results.add(json.dumps(compute_index(combined).as_dict(), sort_keys=True))
        assert combined.patrol_coverage == 0.572
    assert len(results) == 1


def test_grid_order_does_not_change_coverage_bit_for_bit() -> None:
    rng = random.Random(20261126)
    grids = [
        inputs(population=rng.randint(0, 3000), patrol_coverage=rng.random()) for _ in range(60)
    ]
    areas = [rng.uniform(5_000, 250_000) for _ in grids]
    base = combine_inputs(grids, areas)
    for _ in range(20):
        order = list(range(len(grids)))
        rng.shuffle(order)
        shuffled = combine_inputs([grids[i] for i in order], [areas[i] for i in order])
        assert shuffled == base
        assert compute_index(shuffled) == compute_index(base)


# ------------------------------------------------------------------ community


def test_combine_inputs_by_hand() -> None:
    c = combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2)
    assert c.population == 3000  # 2000 + 1000 + 0
    assert c.new_cases_by_priority == {"low": 2, "normal": 3, "high": 1, "urgent": 1}
    assert (c.due_count, c.closed_on_time) == (13, 10)  # 8+4+1, 7+2+1
    assert (c.ratings_satisfied, c.ratings_basic, c.ratings_unsatisfied) == (6, 2, 2)
    assert (c.handled_count, c.reworked_count) == (13, 1)
    assert (c.scheduled_patrols, c.patrols_done_on_time) == (28, 23)
    # coverage over A and B only (C has none): (40,000·0.68 + 60,000·0.5) ÷ 100,000 = 0.572
    assert c.patrol_coverage == 0.572


@pytest.mark.parametrize(
    ("name", "value", "score"),
    [
        # weighted 0.5·2 + 1·3 + 2·1 + 4·1 = 10; p = 10 · 1000 / (3000 · 7) = 0.47619…
        # 100 · e^(−0.47619…) = 62.114… → 62.1
        ("issue_pressure", 10 / 21, 62.1),
        ("on_time_closure", 10 / 13, 76.9),  # 76.923… → 76.9
        ("satisfaction", 0.76, 76.0),  # (6 + 0.8·2) ÷ 10
        ("rework", 1 / 13, 92.3),  # 100 · 12/13 = 92.307… → 92.3
        ("patrol_coverage", 0.572, 71.5),  # 100 · 0.572 ÷ 0.8
        ("patrol_on_time", 23 / 28, 82.1),  # 82.142… → 82.1
    ],
)
def test_community_components(name: str, value: float, score: float) -> None:
    comp = compute_index(combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2)).components[name]
    assert comp.value == pytest.approx(value, abs=1e-12)
    assert comp.score == score


def test_community_score() -> None:
    # 0.30·62.1 + 0.20·76.9 + 0.25·76.0 + 0.10·92.3 + 0.10·71.5 + 0.05·82.1
    # = 18.63 + 15.38 + 19.0 + 9.23 + 7.15 + 4.105 = 73.495 → 73.5 (half up)
    community = compute_index(combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2))
    assert community.score == 73.5
    # grid B alone: 0.30·42.4 + 0.20·50 + 0.25·50 + 0.10·100 + 0.10·62.5 + 0.05·71.4 = 55.04
    assert compute_index(GRID_B).score == 55.0


def test_combine_without_any_coverage() -> None:
    c = combine_inputs([GRID_C, GRID_C], [1.0, 2.0])
    assert c.patrol_coverage is None
    assert c.population == 0 and c.new_cases == 2


@pytest.mark.parametrize(
    ("parts", "areas", "match"),
    [
        ([], [], "at least one grid"),
        ([GRID_A], [1.0, 2.0], "1 grids but 2 areas"),
        ([GRID_A, replace(GRID_B, window_days=30)], [1.0, 1.0], "different windows"),
        ([GRID_A], [0.0], "positive"),
        ([GRID_A], [float("nan")], "positive"),
    ],
)
def test_combine_refuses(parts: list[IndexInputs], areas: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        combine_inputs(parts, areas)


# ------------------------------------------------------------------ monotonicity


def test_more_urgent_cases_lower_the_pressure_score() -> None:
    scores = [
        compute_index(replace(GRID_A, new_cases_by_priority={"normal": 2, "urgent": n}))
        .components["issue_pressure"]
        .score
        for n in range(8)
    ]
    assert all(a is not None and b is not None and a > b for a, b in itertools.pairwise(scores))
    # an urgent case weighs as much as four normal ones
    urgent = compute_index(replace(GRID_A, new_cases_by_priority={"urgent": 1}))
    normal = compute_index(replace(GRID_A, new_cases_by_priority={"normal": 4}))
    u, n = urgent.components["issue_pressure"], normal.components["issue_pressure"]
    assert (u.value, u.score) == (n.value, n.score)


def test_more_satisfied_raises_satisfaction_and_the_index() -> None:
    results = [compute_index(replace(GRID_A, ratings_satisfied=n)) for n in range(0, 12, 2)]
    sat = [r.components["satisfaction"].score or 0 for r in results]
    idx = [r.score or 0 for r in results]
    assert all(a < b for a, b in itertools.pairwise(sat))
    assert all(a <= b for a, b in itertools.pairwise(idx)) and idx[0] < idx[-1]


def test_basic_counts_less_than_satisfied_and_more_than_unsatisfied() -> None:
    def sat(**kw: int) -> float | None:
        return compute_index(inputs(**kw)).components["satisfaction"].score

    assert sat(ratings_satisfied=1) == 100.0
    assert sat(ratings_basic=1) == 80.0
    assert sat(ratings_unsatisfied=1) == 0.0


def test_rework_and_coverage_directions() -> None:
    reworked = [
        compute_index(replace(GRID_A, reworked_count=n)).components["rework"].score
        for n in range(9)
    ]
    assert reworked[0] == 100.0 and reworked[-1] == 0.0
    assert all(a is not None and b is not None and a > b for a, b in itertools.pairwise(reworked))
    cover = {
        c: compute_index(replace(GRID_A, patrol_coverage=c)).components["patrol_coverage"].score
        for c in (0.0, 0.4, 0.8, 0.95, 1.0)
    }
    assert cover == {0.0: 0.0, 0.4: 50.0, 0.8: 100.0, 0.95: 100.0, 1.0: 100.0}
    # the decimal as printed is rounded half up: 100 · 0.6804 ÷ 0.8 = 85.05 → 85.1
    half = compute_index(replace(GRID_A, patrol_coverage=0.6804))
    assert half.components["patrol_coverage"].score == 85.1


# ------------------------------------------------------------------ bulletin

DAY = date(2026, 11, 26)


def result_with(score: float | None) -> IndexResult:
    return IndexResult(score=score, components={})


@pytest.mark.parametrize(
    ("score", "previous", "expected_index"),
    [
        (82.4, 81.2, "民情指数 82.4，较昨日 +1.2"),
        (80.0, 80.8, "民情指数 80.0，较昨日 -0.8"),
        (82.4, 82.4, "民情指数 82.4，较昨日持平"),
        (100.0, 99.95, "民情指数 100.0，较昨日持平"),  # yesterday as published: 100.0
        (82.4, None, "民情指数 82.4，昨日暂无数据"),
        (None, 81.2, "民情指数暂无数据"),
        (None, None, "民情指数暂无数据"),
    ],
)
def test_bulletin(score: float | None, previous: float | None, expected_index: str) -> None:
    text = bulletin_zh("曲江社区", DAY, result_with(score), previous, 5, 4, 0)
    assert text == f"【曲江社区】11月26日{expected_index}；新增事项 5 件，办结 4 件，超期 0 件。"


def test_bulletin_of_the_worked_community() -> None:
    community = compute_index(combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2))
    text = bulletin_zh("曲江社区", date(2026, 3, 5), community, 74.1, 7, 5, 1)
    assert (
        text
        == "【曲江社区】3月5日民情指数 73.5，较昨日 -0.6；新增事项 7 件，办结 5 件，超期 1 件。"
    )


def test_bulletin_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="overdue"):
        bulletin_zh("曲江社区", DAY, result_with(80.0), None, 1, 1, -1)
