"""The case state machine: every edge allowed for its actors from its sources, refused
from every other state and for every other actor."""

from __future__ import annotations

import pytest

from server.domain.cases import (
    EDGES,
    RESIDENT,
    SYSTEM,
    TRANSITIONS,
    Action,
    Stage,
    Status,
    TransitionRefused,
    allowed_actions,
    decide,
    rating_target,
    stage_of,
    statuses_in,
)

ACTORS = ["admin", "dispatcher", "unit_staff", "collector", RESIDENT, SYSTEM]

ALLOWED = [
    (edge.action.value, source.value, actor)
    for edge in TRANSITIONS
    for source in sorted(edge.sources)
    for actor in sorted(edge.actors)
]
WRONG_STATE = [
    (edge.action.value, status.value, sorted(edge.actors)[0])
    for edge in TRANSITIONS
    for status in Status
    if status not in edge.sources
]
WRONG_ACTOR = [
    (edge.action.value, sorted(edge.sources)[0].value, actor)
    for edge in TRANSITIONS
    for actor in ACTORS
    if actor not in edge.actors
]


@pytest.mark.parametrize(("action", "status", "actor"), ALLOWED)
def test_edge_allowed(action: str, status: str, actor: str) -> None:
    edge = decide(status, action, actor)
    assert edge.action.value == action
    assert Action(action) in allowed_actions(status, actor)


@pytest.mark.parametrize(("action", "status", "actor"), WRONG_STATE)
def test_edge_refused_from_other_states(action: str, status: str, actor: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        decide(status, action, actor)
    assert info.value.code == "illegal_transition"
    assert info.value.message_zh


@pytest.mark.parametrize(("action", "status", "actor"), WRONG_ACTOR)
def test_edge_refused_for_other_actors(action: str, status: str, actor: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        decide(status, action, actor)
    assert info.value.code == "role_not_allowed"


def test_the_table_as_designed() -> None:
    """The loop of DESIGN.md, spelled out: a change here is a change of the design."""
    expected = {
        "accept": ({"reported"}, "accepted"),
        "reject": ({"reported"}, "rejected"),
        "merge": ({"reported", "accepted"}, "merged"),
        "dispatch": ({"accepted", "reopened"}, "dispatched"),
        "acknowledge": ({"dispatched"}, "in_progress"),
        "send_back": ({"dispatched", "in_progress"}, "accepted"),
        "request_extension": ({"in_progress"}, None),
        "approve_extension": ({"in_progress"}, None),
        "deny_extension": ({"in_progress"}, None),
        "report_done": ({"in_progress"}, "handled"),
        "verify_ok": ({"handled"}, "awaiting_rating"),
        "verify_fail": ({"handled"}, "dispatched"),
        "rate": ({"awaiting_rating"}, None),
        "close": ({"reopened"}, "closed"),
        "rating_timeout": ({"awaiting_rating"}, "closed"),
    }
    actual = {
        e.action.value: ({s.value for s in e.sources}, e.to.value if e.to else None)
        for e in TRANSITIONS
    }
    assert actual == expected
    assert set(EDGES) == set(Action)


@pytest.mark.parametrize(
    ("verdict", "target"),
    [("satisfied", Status.CLOSED), ("basic", Status.CLOSED), ("unsatisfied", Status.REOPENED)],
)
def test_rating_target(verdict: str, target: Status) -> None:
    assert rating_target(verdict) is target


def test_none_is_not_a_verdict_a_resident_can_give() -> None:
    with pytest.raises(ValueError):
        rating_target("none")


def test_unknown_action() -> None:
    with pytest.raises(TransitionRefused) as info:
        decide("reported", "teleport", "dispatcher")
    assert info.value.code == "unknown_action"


def test_stages_partition_the_states() -> None:
    seen = [s for stage in Stage for s in statuses_in(stage.value)]
    assert sorted(seen) == sorted(Status)
    assert stage_of("in_progress") is Stage.HANDLE
    assert stage_of("handled") is Stage.FEEDBACK


def test_only_residents_rate_and_only_the_system_times_out() -> None:
    assert allowed_actions("awaiting_rating", RESIDENT) == [Action.RATE]
    assert allowed_actions("awaiting_rating", SYSTEM) == [Action.RATING_TIMEOUT]
    assert allowed_actions("awaiting_rating", "dispatcher") == []
