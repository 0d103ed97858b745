"""The 五议 workflow: every edge allowed for its actors from its sources, refused from every
other state and for every other actor; the guards; the codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain.deliberation import (
    EDGES,
    FINAL,
    RESIDENT,
    STAFF_ACTIONS,
    SYSTEM,
    TRANSITIONS,
    TopicAction,
    TopicStatus,
    TransitionRefused,
    allowed_actions,
    check_consultation_over,
    check_implementation_done,
    check_period,
    decide,
    decision_outcome,
    decision_target,
    evaluation_score,
    hash_code,
    may_propose,
    normalise_code,
    stage_due,
    tally,
    well_formed_code,
)

ACTORS = ["admin", "dispatcher", "unit_staff", "collector", RESIDENT, SYSTEM]
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

ALLOWED = [
    (edge.action.value, source.value, actor)
    for edge in TRANSITIONS
    for source in sorted(edge.sources)
    for actor in sorted(edge.actors)
]
WRONG_STATE = [
    (edge.action.value, status.value, sorted(edge.actors)[0])
    for edge in TRANSITIONS
    for status in TopicStatus
    if status not in edge.sources
]
WRONG_ACTOR = [
    (edge.action.value, sorted(edge.sources)[0].value, actor)
    for edge in TRANSITIONS
    for actor in ACTORS
    if actor not in edge.actors
]


@pytest.mark.parametrize(("action", "status", "actor"), ALLOWED)
def test_every_edge_is_allowed(action: str, status: str, actor: str) -> None:
    edge = decide(status, action, actor)
    assert edge is EDGES[TopicAction(action)]
    assert TopicAction(action) in allowed_actions(status, actor)


@pytest.mark.parametrize(("action", "status", "actor"), WRONG_STATE)
def test_every_edge_is_refused_from_other_states(action: str, status: str, actor: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        decide(status, action, actor)
    assert info.value.code == "illegal_transition"
    assert "不能" in info.value.message_zh
    assert TopicAction(action) not in allowed_actions(status, actor)


@pytest.mark.parametrize(("action", "status", "actor"), WRONG_ACTOR)
def test_every_edge_is_refused_to_other_actors(action: str, status: str, actor: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        decide(status, action, actor)
    assert info.value.code == "role_not_allowed"


def test_unknown_action() -> None:
    with pytest.raises(TransitionRefused) as info:
        decide("proposed", "vote_twice", "admin")
    assert info.value.code == "unknown_action"


def test_the_tables_cover_every_state_and_the_final_states_have_no_way_out() -> None:
    sources = {s for e in TRANSITIONS for s in e.sources}
    assert sources == set(TopicStatus) - FINAL
    targets = {e.to for e in TRANSITIONS if e.to is not None} | {TopicStatus.PROPOSED}
    assert set(TopicStatus) <= targets | {decision_target("not_adopted")}
    for status in FINAL:
        assert all(allowed_actions(status, actor) == [] for actor in ACTORS)


def test_the_whole_path_in_order() -> None:
    path = [
        ("accept", "dispatcher"),
        ("review_opinion", "dispatcher"),
        ("open_consultation", "dispatcher"),
        ("view", RESIDENT),
        ("comment", RESIDENT),
        ("close_consultation", SYSTEM),
        ("decide", "admin"),
        ("dispatch_case", "dispatcher"),
        ("complete", "dispatcher"),
        ("evaluate", RESIDENT),
        ("close", SYSTEM),
    ]
    status = TopicStatus.PROPOSED
    for action, actor in path:
        edge = decide(status, action, actor)
        status = edge.to or status
    assert status is TopicStatus.CLOSED


def test_staff_actions_exclude_the_residents() -> None:
    assert TopicAction.VIEW not in STAFF_ACTIONS
    assert TopicAction.EVALUATE not in STAFF_ACTIONS
    assert TopicAction.DECIDE in STAFF_ACTIONS


def test_who_may_propose() -> None:
    for actor in (RESIDENT, "collector", "dispatcher", "admin", SYSTEM):
        assert may_propose(actor)
    assert not may_propose("unit_staff")


@pytest.mark.parametrize(
    ("days", "ok"), [(0.5, False), (1, True), (7, True), (30, True), (30.1, False), (-1, False)]
)
def test_periods_run_one_to_thirty_days(days: float, ok: bool) -> None:
    closes = NOW + timedelta(days=days)
    if ok:
        check_period(NOW, closes)
    else:
        with pytest.raises(TransitionRefused) as info:
            check_period(NOW, closes)
        assert info.value.code == "invalid_period" and info.value.field == "closes_at"


@pytest.mark.parametrize(
    ("votes", "outcome"),
    [
        ((5, 2, 1), "adopted"),
        ((4, 2, 2), "not_adopted"),  # exactly half is not a majority
        ((3, 4, 0), "not_adopted"),
        ((1, 0, 0), "adopted"),
        ((2, 0, 3), "not_adopted"),  # abstentions count as cast
    ],
)
def test_decision_outcome(votes: tuple[int, int, int], outcome: str) -> None:
    assert decision_outcome(*votes) == outcome


@pytest.mark.parametrize("votes", [(0, 0, 0), (-1, 3, 0), (3, 0, -2)])
def test_decision_refuses_bad_votes(votes: tuple[int, int, int]) -> None:
    with pytest.raises(TransitionRefused) as info:
        decision_outcome(*votes)
    assert info.value.code == "invalid_votes"


def test_decision_targets() -> None:
    assert decision_target("adopted") is TopicStatus.IMPLEMENTING
    assert decision_target("not_adopted") is TopicStatus.CLOSED
    with pytest.raises(ValueError, match="unknown outcome"):
        decision_target("maybe")


def test_implementation_needs_every_linked_case_final() -> None:
    check_implementation_done([])
    check_implementation_done(["closed", "rejected", "merged"])
    with pytest.raises(TransitionRefused) as info:
        check_implementation_done(["closed", "dispatched", "awaiting_rating"])
    assert info.value.code == "cases_open"
    assert "2" in info.value.message_zh


def test_the_system_closes_a_consultation_only_after_its_period() -> None:
    check_consultation_over(NOW, NOW - timedelta(minutes=1), SYSTEM)
    check_consultation_over(NOW, NOW + timedelta(days=2), "dispatcher")  # staff may close early
    for closes in (NOW + timedelta(minutes=1), None):
        with pytest.raises(TransitionRefused) as info:
            check_consultation_over(NOW, closes, SYSTEM)
        assert info.value.code == "period_running"


def test_tally_and_score() -> None:
    assert tally(["support", "support", "other"]) == {"support": 2, "oppose": 0, "other": 1}
    assert evaluation_score({}) is None
    assert evaluation_score({"satisfied": 1, "basic": 1, "unsatisfied": 2}) == 40.0
    assert evaluation_score({"satisfied": 3}) == 100.0


def test_stage_due() -> None:
    assert stage_due("proposed", NOW, None) == NOW + timedelta(days=7)
    closes = NOW + timedelta(days=5)
    assert stage_due("consulting", NOW, closes) == closes
    assert stage_due("evaluating", NOW, closes) == closes
    assert stage_due("closed", NOW, None) is None


def test_codes() -> None:
    assert normalise_code(" abcd-efgh 23 ") == "ABCDEFGH23"
    assert well_formed_code("ABCD-EFGH-23")
    assert not well_formed_code("ABCDEFGH2")  # too short
    assert not well_formed_code("ABCDEFGH20")  # 0 is not in the alphabet
    assert hash_code(1, "abcd-efgh-23") == hash_code(1, "ABCDEFGH23")
    assert hash_code(1, "ABCDEFGH23") != hash_code(2, "ABCDEFGH23")  # bound to its topic
    assert len(hash_code(1, "ABCDEFGH23")) == 64
