"""议题评议: residents' evaluation of deliberation topics, an index component (index/2)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_index import AREAS_M2, GRID_A, GRID_B, GRID_C

from server.domain.index import (
    FORMULA_COMPONENTS,
    FORMULA_VERSION,
    TOPIC_WINDOW_DAYS,
    Weights,
    combine_inputs,
    compute_index,
    explain,
)

COMMUNITY = combine_inputs([GRID_A, GRID_B, GRID_C], AREAS_M2)
EVALUATED = replace(COMMUNITY, topic_satisfied=6, topic_basic=3, topic_unsatisfied=1)


def test_topic_component_worked_example() -> None:
    # (6 + 0.8 · 3) ÷ 10 = 0.84 → 84.0; the six others as in the community example (Σ = 73.495)
    # index = (73.495 + 0.10 · 84.0) ÷ 1.10 = 81.895 ÷ 1.1 = 74.45 exactly → 74.5 (half up)
    result = compute_index(EVALUATED)
    topic = result.components["topic_evaluation"]
    assert (topic.value, topic.score, topic.weight, topic.missing) == (0.84, 84.0, 0.10, False)
    assert topic.basis == {
        "satisfied": 6,
        "basic": 3,
        "unsatisfied": 1,
        "window_days": TOPIC_WINDOW_DAYS,
    }
    assert topic.label_zh == "议题评议"
    assert topic.effective_weight == pytest.approx(0.10 / 1.10)
    assert result.score == 74.5


def test_no_evaluated_topic_is_neutral_the_figures_do_not_jump() -> None:
    # no evaluation in the window: missing, effective weight 0, the index is the six-component
    # figure of index/1 exactly (73.5), and so are the other components' effective weights
    result = compute_index(COMMUNITY)
    topic = result.components["topic_evaluation"]
    assert (topic.missing, topic.score, topic.effective_weight) == (True, None, 0.0)
    assert result.score == 73.5
    assert result.components["issue_pressure"].effective_weight == pytest.approx(0.30)


def test_a_grid_never_has_the_topic_component() -> None:
    for grid in (GRID_A, GRID_B, GRID_C):
        assert compute_index(grid).components["topic_evaluation"].missing


def test_topic_evaluation_direction_and_basic_counts_less() -> None:
    def score(**kw: int) -> float | None:
        return compute_index(replace(COMMUNITY, **kw)).score

    assert score(topic_unsatisfied=5) < 73.5 < score(topic_satisfied=5)  # type: ignore[operator]
    basic = compute_index(replace(COMMUNITY, topic_basic=1)).components["topic_evaluation"]
    assert basic.score == 80.0


def test_combine_adds_topic_counts() -> None:
    a = replace(GRID_A, topic_satisfied=2, topic_basic=1)
    b = replace(GRID_B, topic_unsatisfied=1)
    c = combine_inputs([a, b], [1.0, 1.0])
    assert (c.topic_satisfied, c.topic_basic, c.topic_unsatisfied) == (2, 1, 1)


def test_the_topic_weight_is_configurable_and_zero_keeps_it_out() -> None:
    off = Weights.from_mapping({"topic_evaluation": 0})
    assert compute_index(EVALUATED, off).score == 73.5
    with pytest.raises(ValueError, match="topic_evaluation"):
        Weights.from_mapping({"topic_evaluation": -1})


def test_explain_shows_the_components_of_the_stored_formula_version() -> None:
    assert FORMULA_VERSION == "index/2"
    old = explain(COMMUNITY, Weights(), "index/1")
    assert list(old) == list(FORMULA_COMPONENTS["index/1"])
    assert "topic_evaluation" not in old
    assert old == {
        k: v
        for k, v in compute_index(COMMUNITY).as_dict()["components"].items()
        if k != "topic_evaluation"
    }
    assert list(explain(EVALUATED, Weights())) == list(FORMULA_COMPONENTS["index/2"])
    with pytest.raises(ValueError, match="index/9"):
        explain(COMMUNITY, Weights(), "index/9")
