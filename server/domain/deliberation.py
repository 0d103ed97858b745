"""The 五议 method as data: a topic's states, actions, who may fire them, and the guards.

提议 propose → 合议 committee review → 群议 public consultation → 决议 decision → 实施
implementation (linked cases run the normal case loop) → 评议 residents' evaluation → closed.
`decide()` answers one question: may this actor fire this action on a topic in this state,
and where does it lead? Scope (which subdistrict, which community) is the services' business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from server.domain.machine import TransitionRefused, decide_edge


class TopicStatus(StrEnum):
    PROPOSED = "proposed"  # 提议
    DECLINED = "declined"  # 不予议事
    REVIEWING = "reviewing"  # 合议
    CONSULTING = "consulting"  # 群议
    DECIDING = "deciding"  # 待决议
    IMPLEMENTING = "implementing"  # 实施中
    EVALUATING = "evaluating"  # 评议
    CLOSED = "closed"  # 已结束


STATUS_ZH: dict[TopicStatus, str] = {
    TopicStatus.PROPOSED: "已提议",
    TopicStatus.DECLINED: "不予议事",
    TopicStatus.REVIEWING: "合议中",
    TopicStatus.CONSULTING: "群议中",
    TopicStatus.DECIDING: "待决议",
    TopicStatus.IMPLEMENTING: "实施中",
    TopicStatus.EVALUATING: "评议中",
    TopicStatus.CLOSED: "已结束",
}

FINAL: frozenset[TopicStatus] = frozenset({TopicStatus.DECLINED, TopicStatus.CLOSED})


class TopicAction(StrEnum):
    ACCEPT = "accept"  # take it up for deliberation
    DECLINE = "decline"
    REVIEW_OPINION = "review_opinion"  # a council member's opinion in 合议
    OPEN_CONSULTATION = "open_consultation"
    CLOSE_CONSULTATION = "close_consultation"
    DECIDE = "decide"
    DISPATCH_CASE = "dispatch_case"  # a linked case for the implementation
    COMPLETE = "complete"  # implementation done: residents evaluate
    CLOSE = "close"
    VIEW = "view"  # a resident's 支持/反对/其他意见
    COMMENT = "comment"
    EVALUATE = "evaluate"  # a resident's rating of the implementation


ACTION_ZH: dict[TopicAction, str] = {
    TopicAction.ACCEPT: "受理议题",
    TopicAction.DECLINE: "不予议事",
    TopicAction.REVIEW_OPINION: "合议意见",
    TopicAction.OPEN_CONSULTATION: "开启群议",
    TopicAction.CLOSE_CONSULTATION: "结束群议",
    TopicAction.DECIDE: "决议",
    TopicAction.DISPATCH_CASE: "派遣实施事项",
    TopicAction.COMPLETE: "实施完成",
    TopicAction.CLOSE: "结束议题",
    TopicAction.VIEW: "表达意见",
    TopicAction.COMMENT: "发表评论",
    TopicAction.EVALUATE: "评议",
}

# Actors that are not user roles.
RESIDENT = "resident"
SYSTEM = "system"
STAFF = frozenset({"dispatcher", "admin"})
PROPOSERS = frozenset({RESIDENT, "collector", "dispatcher", "admin", SYSTEM})


@dataclass(frozen=True)
class Edge:
    """One row of the table; `to` None: the state stays (a side event such as a view)."""

    action: TopicAction
    sources: frozenset[TopicStatus]
    to: TopicStatus | None
    actors: frozenset[str]
    needs: tuple[str, ...] = ()


T = TopicStatus
A = TopicAction
TRANSITIONS: tuple[Edge, ...] = (
    Edge(A.ACCEPT, frozenset({T.PROPOSED}), T.REVIEWING, STAFF),
    Edge(A.DECLINE, frozenset({T.PROPOSED}), T.DECLINED, STAFF, ("reason",)),
    Edge(A.REVIEW_OPINION, frozenset({T.REVIEWING}), None, STAFF, ("member_id", "opinion")),
    Edge(A.OPEN_CONSULTATION, frozenset({T.REVIEWING}), T.CONSULTING, STAFF, ("closes_at",)),
    Edge(A.CLOSE_CONSULTATION, frozenset({T.CONSULTING}), T.DECIDING, STAFF | {SYSTEM}),
    # decide: the votes choose the target (decision_target)
    Edge(
        A.DECIDE,
        frozenset({T.DECIDING}),
        T.IMPLEMENTING,
        STAFF,
        ("votes_for", "votes_against", "votes_abstain", "minutes"),
    ),
    Edge(A.DISPATCH_CASE, frozenset({T.IMPLEMENTING}), None, STAFF, ("case_id",)),
    Edge(A.COMPLETE, frozenset({T.IMPLEMENTING}), T.EVALUATING, STAFF, ("closes_at",)),
    Edge(A.CLOSE, frozenset({T.EVALUATING}), T.CLOSED, STAFF | {SYSTEM}),
    Edge(A.VIEW, frozenset({T.CONSULTING}), None, frozenset({RESIDENT}), ("choice",)),
    Edge(
        A.COMMENT,
        frozenset({T.CONSULTING, T.EVALUATING}),
        None,
        frozenset({RESIDENT}),
        ("body",),
    ),
    Edge(A.EVALUATE, frozenset({T.EVALUATING}), None, frozenset({RESIDENT}), ("verdict",)),
)

EDGES: dict[TopicAction, Edge] = {edge.action: edge for edge in TRANSITIONS}

# Staff actions an API client fires on /deliberations/{id}/actions/{action}.
STAFF_ACTIONS: tuple[TopicAction, ...] = tuple(e.action for e in TRANSITIONS if e.actors & STAFF)


def decide(status: str, action: str, actor: str) -> Edge:
    """The edge `actor` (a role, resident or system) may take from `status` with `action`."""
    return decide_edge(
        EDGES,  # type: ignore[arg-type]
        TopicStatus(status),
        action,
        actor,
        thing=("a topic", "议题"),
        action_zh=ACTION_ZH,  # type: ignore[arg-type]
        status_zh=STATUS_ZH,  # type: ignore[arg-type]
    )


def allowed_actions(status: str, actor: str) -> list[TopicAction]:
    current = TopicStatus(status)
    return [e.action for e in TRANSITIONS if actor in e.actors and current in e.sources]


def may_propose(actor: str) -> bool:
    """Residents (public page), collectors, dispatchers, admins, and the system (from cases)."""
    return actor in PROPOSERS


# ---------------------------------------------------------------------------------- guards

MIN_PERIOD = timedelta(days=1)
MAX_PERIOD = timedelta(days=30)


def check_period(now: datetime, closes_at: datetime) -> None:
    """A consultation or evaluation runs between one day and thirty days."""
    if not MIN_PERIOD <= closes_at - now <= MAX_PERIOD:
        raise TransitionRefused(
            "invalid_period",
            "closes_at: between 1 and 30 days from now",
            "截止时间应在 1 至 30 天之内",
            field="closes_at",
        )


OUTCOMES = ("adopted", "not_adopted")
OUTCOME_ZH = {"adopted": "通过", "not_adopted": "未通过"}


def decision_outcome(votes_for: int, votes_against: int, votes_abstain: int) -> str:
    """Adopted when more than half of the votes cast are for it (abstentions count as cast)."""
    if min(votes_for, votes_against, votes_abstain) < 0:
        raise TransitionRefused(
            "invalid_votes", "votes cannot be negative", "票数不能为负", field="votes_for"
        )
    cast = votes_for + votes_against + votes_abstain
    if cast == 0:
        raise TransitionRefused(
            "invalid_votes", "a decision needs votes", "决议需要有表决票数", field="votes_for"
        )
    return "adopted" if 2 * votes_for > cast else "not_adopted"


def decision_target(outcome: str) -> TopicStatus:
    """An adopted decision is carried out; a rejected one closes the topic."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    return TopicStatus.IMPLEMENTING if outcome == "adopted" else TopicStatus.CLOSED


def check_implementation_done(case_statuses: Iterable[str]) -> None:
    """Implementation is complete only when every linked case is final (closed, rejected,
    merged)."""
    open_ = [s for s in case_statuses if s not in ("closed", "rejected", "merged")]
    if open_:
        raise TransitionRefused(
            "cases_open",
            f"{len(open_)} linked case(s) are not closed yet",
            f"还有 {len(open_)} 件实施事项未结案",
        )


def check_consultation_over(now: datetime, closes_at: datetime | None, actor: str) -> None:
    """The system closes a consultation only when its period has ended; staff may close
    early (the council may have enough views)."""
    if actor == SYSTEM and (closes_at is None or now < closes_at):
        raise TransitionRefused(
            "period_running", "the consultation period has not ended", "群议期尚未结束"
        )


# ---------------------------------------------------------------------------------- views

VIEWS = ("support", "oppose", "other")
VIEW_ZH = {"support": "支持", "oppose": "反对", "other": "其他意见"}
VERDICTS = ("satisfied", "basic", "unsatisfied")
VERDICT_ZH = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


def tally(choices: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(VIEWS, 0)
    for choice in choices:
        counts[choice] += 1
    return counts


def evaluation_score(verdicts: Mapping[str, int]) -> float | None:
    """0–100: 满意 counts 100, 基本满意 60, 不满意 0; None without any rating (never
    counted as satisfied)."""
    n = sum(verdicts.get(v, 0) for v in VERDICTS)
    if n == 0:
        return None
    return round((100 * verdicts.get("satisfied", 0) + 60 * verdicts.get("basic", 0)) / n, 1)


# ---------------------------------------------------------------------------------- stages

# How long a topic may stay in a state before the beat reminds the staff.
STAGE_LIMIT: dict[TopicStatus, timedelta] = {
    TopicStatus.PROPOSED: timedelta(days=7),
    TopicStatus.REVIEWING: timedelta(days=14),
    TopicStatus.DECIDING: timedelta(days=7),
    TopicStatus.IMPLEMENTING: timedelta(days=90),
}


def stage_due(status: str, entered_at: datetime, closes_at: datetime | None) -> datetime | None:
    """When the current stage is due: a period's end, or entry + the stage limit."""
    current = TopicStatus(status)
    if current in (TopicStatus.CONSULTING, TopicStatus.EVALUATING):
        return closes_at
    limit = STAGE_LIMIT.get(current)
    return None if limit is None else entered_at + limit


# ---------------------------------------------------------------------------------- codes

# No 0/O, 1/I/L: the codes are typed from a printed sheet.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31**10 ≈ 8e14: guessing one of a few hundred codes is hopeless


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_code(topic_id: int, code: str) -> str:
    """The stored form of a voting code: bound to its topic, never kept in clear."""
    text = f"{topic_id}:{normalise_code(code)}"
    return hashlib.sha256(text.encode()).hexdigest()


def well_formed_code(code: str) -> bool:
    c = normalise_code(code)
    return len(c) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in c)
