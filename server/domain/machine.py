"""What every transition table shares: refusing an action, and finding the edge to fire.

The case loop (`cases.py`) and the 五议 workflow (`deliberation.py`) are tables of edges; this
module decides, for either, whether an actor may fire an action from a state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol, TypeVar


class TransitionRefused(Exception):
    """The action cannot be fired: `code` is unknown_action, role_not_allowed,
    illegal_transition or a guard's own code; `field` names the input at fault, if any."""

    def __init__(self, code: str, message: str, message_zh: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.field = field


class EdgeLike(Protocol):
    @property
    def action(self) -> StrEnum: ...
    @property
    def sources(self) -> frozenset[StrEnum]: ...
    @property
    def actors(self) -> frozenset[str]: ...


E = TypeVar("E", bound=EdgeLike)


def decide_edge(
    edges: Mapping[StrEnum, E],
    current: StrEnum,
    action: str,
    actor: str,
    *,
    thing: tuple[str, str],
    action_zh: Mapping[StrEnum, str],
    status_zh: Mapping[StrEnum, str],
) -> E:
    """The edge `actor` may take from `current` with `action`; `thing` is (English, 中文)."""
    try:
        edge = edges[action]  # type: ignore[index]  # StrEnum keys hash like their strings
    except KeyError:
        raise TransitionRefused(
            "unknown_action", f"unknown action {action!r}", f"未知操作 {action}"
        ) from None
    if actor not in edge.actors:
        raise TransitionRefused(
            "role_not_allowed",
            f"{actor} may not {edge.action.value}",
            f"当前角色无权执行「{action_zh[edge.action]}」",
        )
    if current not in edge.sources:
        raise TransitionRefused(
            "illegal_transition",
            f"cannot {edge.action.value} {thing[0]} that is {current.value}",
            f"{thing[1]}当前为「{status_zh[current]}」，不能{action_zh[edge.action]}",
        )
    return edge
