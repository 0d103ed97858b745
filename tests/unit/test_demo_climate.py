"""The demo's climate: communities of different standing, a few bad weeks, bounded rates."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from server.demo.history import _climate, _p


def test_communities_spread_from_struggling_to_exemplary() -> None:
    climate = _climate(random.Random(1), list(range(1, 21)), date(2026, 10, 1), 60)
    values = sorted(climate.quality.values())
    assert values[0] == -1.0 and values[-1] == 1.0 and len(set(values)) == 20
    assert len(climate.bad_weeks) == 2
    assert all(monday.weekday() == 0 for monday in climate.bad_weeks)


def test_a_bad_week_is_seen_by_every_community() -> None:
    climate = _climate(random.Random(1), [1, 2], date(2026, 10, 1), 60)
    monday = min(climate.bad_weeks)
    wednesday = datetime(monday.year, monday.month, monday.day + 2, 4, tzinfo=UTC)
    assert climate.of(1, wednesday)[1] == 1.0 and climate.of(2, wednesday)[1] == 1.0
    assert climate.of(3, wednesday) == (0.0, 1.0)  # unknown community: average standing


def test_rates_move_with_standing_and_stay_bounded() -> None:
    best, worst = _p(0.1, 1, 0, better=0.08, worse=0.2), _p(0.1, -1, 0, better=0.08, worse=0.2)
    assert best < 0.1 < worst
    assert _p(0.1, -1, 1, better=0.08, worse=0.2) > worst
    assert _p(0.01, 1, 0, better=0.5, worse=0) == 0.01
    assert _p(0.8, -1, 1, better=0.5, worse=0.5) == 0.9


def test_a_short_history_may_have_no_bad_week() -> None:
    climate = _climate(random.Random(3), [1], date(2026, 11, 2), 14)
    assert len(climate.bad_weeks) <= 1
