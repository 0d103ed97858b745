"""Routing rules (分派规则): which unit a case goes to, from its category and place.

A rule names a category and a unit, and optionally one community or one grid. The most
specific rule that matches a case wins: a grid rule over a community rule over a rule for the
whole subdistrict; among equally specific rules the oldest (lowest id) wins, so adding a rule
never silently changes where an older, equally specific one sends cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: int
    category_id: int
    unit_id: int
    community_id: int | None = None
    grid_id: int | None = None
    auto_dispatch: bool = False
    active: bool = True


@dataclass(frozen=True)
class Place:
    """What a rule is matched against: the case's category, community and grid."""

    category_id: int
    community_id: int | None  # None: an unlocated case (待定位)
    grid_id: int | None


def specificity(rule: Rule) -> int:
    """2 for a grid rule, 1 for a community rule, 0 for the whole subdistrict."""
    if rule.grid_id is not None:
        return 2
    if rule.community_id is not None:
        return 1
    return 0


def matches(rule: Rule, place: Place) -> bool:
    if not rule.active or rule.category_id != place.category_id:
        return False
    if rule.grid_id is not None and rule.grid_id != place.grid_id:
        return False
    return rule.community_id is None or rule.community_id == place.community_id


def match_rule(rules: Iterable[Rule], place: Place) -> Rule | None:
    """The rule that routes `place`, or None when no active rule matches."""
    best: Rule | None = None
    for rule in rules:
        if not matches(rule, place):
            continue
        if best is None or (specificity(rule), -rule.id) > (specificity(best), -best.id):
            best = rule
    return best
