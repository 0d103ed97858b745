"""The case loop as data: states, stages, actions and who may fire them from where.

collect → handle → feedback → evaluate (搜集、办理、反馈、评价). `decide()` is the one
question the services ask: may this role fire this action on a case in this state, and
where does it lead? Scope (whose grid, which unit) is the services' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.machine import TransitionRefused as TransitionRefused  # re-exported
from server.domain.machine import decide_edge


class Status(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    HANDLED = "handled"
    AWAITING_RATING = "awaiting_rating"
    REOPENED = "reopened"
    CLOSED = "closed"


class Stage(StrEnum):
    COLLECT = "collect"  # 搜集
    HANDLE = "handle"  # 办理
    FEEDBACK = "feedback"  # 反馈
    EVALUATE = "evaluate"  # 评价
    DONE = "done"  # 已结束: closed, rejected or merged


STAGE_OF: dict[Status, Stage] = {
    Status.REPORTED: Stage.COLLECT,
    Status.ACCEPTED: Stage.COLLECT,
    Status.DISPATCHED: Stage.HANDLE,
    Status.IN_PROGRESS: Stage.HANDLE,
    Status.HANDLED: Stage.FEEDBACK,
    Status.AWAITING_RATING: Stage.EVALUATE,
    Status.REOPENED: Stage.EVALUATE,
    Status.CLOSED: Stage.DONE,
    Status.REJECTED: Stage.DONE,
    Status.MERGED: Stage.DONE,
}

FINAL: frozenset[Status] = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})
# Cases whose deadline runs: overdue sweeps look only at these.
ON_THE_CLOCK: frozenset[Status] = frozenset({Status.DISPATCHED, Status.IN_PROGRESS})

STATUS_ZH: dict[Status, str] = {
    Status.REPORTED: "待受理",
    Status.ACCEPTED: "已立案",
    Status.REJECTED: "不予立案",
    Status.MERGED: "已合并",
    Status.DISPATCHED: "已派遣",
    Status.IN_PROGRESS: "办理中",
    Status.HANDLED: "已办结待核查",
    Status.AWAITING_RATING: "待评价",
    Status.REOPENED: "评价不满意待处理",
    Status.CLOSED: "已结案",
}

STAGE_ZH: dict[Stage, str] = {
    Stage.COLLECT: "搜集",
    Stage.HANDLE: "办理",
    Stage.FEEDBACK: "反馈",
    Stage.EVALUATE: "评价",
    Stage.DONE: "已结束",
}

# Actors that are not user roles.
RESIDENT = "resident"
SYSTEM = "system"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    MERGE = "merge"
    DISPATCH = "dispatch"
    ACKNOWLEDGE = "acknowledge"
    SEND_BACK = "send_back"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REPORT_DONE = "report_done"
    VERIFY_OK = "verify_ok"
    VERIFY_FAIL = "verify_fail"
    RATE = "rate"
    CLOSE = "close"
    RATING_TIMEOUT = "rating_timeout"


ACTION_ZH: dict[Action, str] = {
    Action.ACCEPT: "受理立案",
    Action.REJECT: "不予立案",
    Action.MERGE: "合并",
    Action.DISPATCH: "派遣",
    Action.ACKNOWLEDGE: "签收",
    Action.SEND_BACK: "回退",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "驳回延期",
    Action.REPORT_DONE: "办结反馈",
    Action.VERIFY_OK: "核查通过",
    Action.VERIFY_FAIL: "核查不通过（返工）",
    Action.RATE: "居民评价",
    Action.CLOSE: "结案",
    Action.RATING_TIMEOUT: "评价超时结案",
}

DISPATCHERS = frozenset({"dispatcher", "admin"})
UNIT = frozenset({"unit_staff"})
VERIFIERS = frozenset({"collector", "dispatcher", "admin"})


@dataclass(frozen=True)
class Edge:
    """One row of the transition table. `to` None: the state stays (a decision on the side,
    such as an extension); `needs` names the body fields the action requires."""

    action: Action
    sources: frozenset[Status]
    to: Status | None
    actors: frozenset[str]
    needs: tuple[str, ...] = ()


def _edge(
    action: Action,
    sources: set[Status],
    to: Status | None,
    actors: frozenset[str],
    needs: tuple[str, ...] = (),
) -> Edge:
    return Edge(action, frozenset(sources), to, actors, needs)


S = Status
TRANSITIONS: tuple[Edge, ...] = (
    # collect 搜集
    _edge(Action.ACCEPT, {S.REPORTED}, S.ACCEPTED, DISPATCHERS),
    _edge(Action.REJECT, {S.REPORTED}, S.REJECTED, DISPATCHERS, ("reason",)),
    _edge(Action.MERGE, {S.REPORTED, S.ACCEPTED}, S.MERGED, DISPATCHERS, ("into",)),
    # handle 办理
    _edge(Action.DISPATCH, {S.ACCEPTED, S.REOPENED}, S.DISPATCHED, DISPATCHERS, ("unit_id",)),
    _edge(Action.ACKNOWLEDGE, {S.DISPATCHED}, S.IN_PROGRESS, UNIT),
    _edge(Action.SEND_BACK, {S.DISPATCHED, S.IN_PROGRESS}, S.ACCEPTED, UNIT, ("reason",)),
    _edge(Action.REQUEST_EXTENSION, {S.IN_PROGRESS}, None, UNIT, ("deadline", "reason")),
    _edge(Action.APPROVE_EXTENSION, {S.IN_PROGRESS}, None, DISPATCHERS),
    _edge(Action.DENY_EXTENSION, {S.IN_PROGRESS}, None, DISPATCHERS, ("reason",)),
    _edge(Action.REPORT_DONE, {S.IN_PROGRESS}, S.HANDLED, UNIT, ("result",)),
    # feedback 反馈: the collector checks on site (核查)
    _edge(Action.VERIFY_OK, {S.HANDLED}, S.AWAITING_RATING, VERIFIERS),
    _edge(Action.VERIFY_FAIL, {S.HANDLED}, S.DISPATCHED, VERIFIERS, ("reason",)),
    # evaluate 评价
    _edge(Action.RATE, {S.AWAITING_RATING}, None, frozenset({RESIDENT}), ("verdict",)),
    _edge(Action.CLOSE, {S.REOPENED}, S.CLOSED, DISPATCHERS, ("reason",)),
    _edge(Action.RATING_TIMEOUT, {S.AWAITING_RATING}, S.CLOSED, frozenset({SYSTEM})),
)

EDGES: dict[Action, Edge] = {edge.action: edge for edge in TRANSITIONS}

# A rating decides where an awaiting case goes.
VERDICTS = ("satisfied", "basic", "unsatisfied")
VERDICT_ZH = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意", "none": "未评价"}


def rating_target(verdict: str) -> Status:
    """满意 / 基本满意 close the case; 不满意 reopens it for the dispatcher's decision."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    return Status.REOPENED if verdict == "unsatisfied" else Status.CLOSED


def decide(status: str, action: str, actor: str) -> Edge:
    """The edge `actor` (a role, resident or system) may take from `status` with `action`."""
    return decide_edge(
        EDGES,  # type: ignore[arg-type]
        Status(status),
        action,
        actor,
        thing=("a case", "事项"),
        action_zh=ACTION_ZH,  # type: ignore[arg-type]
        status_zh=STATUS_ZH,  # type: ignore[arg-type]
    )


def allowed_actions(status: str, actor: str) -> list[Action]:
    """What `actor` may do next on a case in `status` (for the console's buttons)."""
    current = Status(status)
    return [e.action for e in TRANSITIONS if actor in e.actors and current in e.sources]


def stage_of(status: str) -> Stage:
    return STAGE_OF[Status(status)]


def statuses_in(stage: str) -> list[Status]:
    wanted = Stage(stage)
    return [s for s, st in STAGE_OF.items() if st is wanted]
