"""Routing rules: the most specific active rule of the case's category wins."""

from __future__ import annotations

from server.domain.routing import Place, Rule, match_rule, matches, specificity

PLACE = Place(category_id=7, community_id=3, grid_id=31)


def test_no_rules_no_match() -> None:
    assert match_rule([], PLACE) is None


def test_category_rule_matches_anywhere_in_the_subdistrict() -> None:
    rule = Rule(id=1, category_id=7, unit_id=10)
    assert match_rule([rule], PLACE) == rule
    assert match_rule([rule], Place(category_id=7, community_id=4, grid_id=40)) == rule


def test_other_category_never_matches() -> None:
    assert match_rule([Rule(id=1, category_id=8, unit_id=10)], PLACE) is None


def test_inactive_rule_is_ignored() -> None:
    assert match_rule([Rule(id=1, category_id=7, unit_id=10, active=False)], PLACE) is None


def test_community_rule_only_in_its_community() -> None:
    rule = Rule(id=1, category_id=7, unit_id=10, community_id=4)
    assert not matches(rule, PLACE)
    assert matches(rule, Place(category_id=7, community_id=4, grid_id=99))


def test_grid_rule_only_in_its_grid() -> None:
    rule = Rule(id=1, category_id=7, unit_id=10, grid_id=32)
    assert not matches(rule, PLACE)
    assert matches(rule, Place(category_id=7, community_id=3, grid_id=32))


def test_grid_rule_with_a_contradicting_community_never_matches() -> None:
    rule = Rule(id=1, category_id=7, unit_id=10, community_id=4, grid_id=31)
    assert not matches(rule, PLACE)


def test_most_specific_wins_whatever_the_order() -> None:
    whole = Rule(id=1, category_id=7, unit_id=10)
    community = Rule(id=2, category_id=7, unit_id=20, community_id=3)
    grid = Rule(id=3, category_id=7, unit_id=30, grid_id=31)
    for rules in ([whole, community, grid], [grid, community, whole], [community, grid, whole]):
        assert match_rule(rules, PLACE) == grid
    assert match_rule([whole, community], PLACE) == community
    assert [specificity(r) for r in (whole, community, grid)] == [0, 1, 2]


def test_equally_specific_rules_the_oldest_wins() -> None:
    old = Rule(id=5, category_id=7, unit_id=10)
    new = Rule(id=9, category_id=7, unit_id=20, auto_dispatch=True)
    assert match_rule([new, old], PLACE) == old
    assert match_rule([old, new], PLACE) == old
