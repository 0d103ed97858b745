"""Key figures over a hand-built set of cases, each figure worked out by hand."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.domain.kpis import LABELS, CaseFacts, KpiReport, Ratio, compute_kpis

T0 = datetime(2025, 6, 1, tzinfo=UTC)
AS_OF = datetime(2025, 6, 30, tzinfo=UTC)
PAST = AS_OF - timedelta(days=1)
FUTURE = AS_OF + timedelta(days=1)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def case(id: str, **kw: Any) -> CaseFacts:
    base: dict[str, Any] = {
        "reported_at": T0,
        "status": "reported",
        "accepted_at": None,
        "rejected": False,
        "merged": False,
        "first_dispatched_at": None,
        "send_back_count": 0,
        "deadline_at": None,
        "handled_at": None,
        "handled_on_time": None,
        "closed_at": None,
        "rework_count": 0,
        "rating": None,
    }
    return CaseFacts(id=id, **{**base, **kw})


def handled(
    id: str, accept_h: float, handle_h: float, on_time: bool, status: str, **kw: Any
) -> CaseFacts:
    """Accepted `accept_h` after report, dispatched at hour 10, handled `handle_h` later."""
    facts: dict[str, Any] = {
        "status": status,
        "accepted_at": h(accept_h),
        "first_dispatched_at": h(10),
        "deadline_at": h(10 + 72),
        "handled_at": h(10 + handle_h),
        "handled_on_time": on_time,
    }
    return case(id, **{**facts, **kw})


CASES = [
    case("c01"),  # reported, not yet decided
    case("c02", status="rejected", rejected=True),
    case("c03", status="merged", merged=True),
    case("c04", status="accepted", accepted_at=h(2)),  # accepted, no dispatch, no deadline
    case(  # at work, deadline ahead
        "c05", status="in_progress", accepted_at=h(1), first_dispatched_at=h(10), deadline_at=FUTURE
    ),
    case(  # sent back once, re-dispatched, deadline passed: overdue and not handled
        "c06",
        status="in_progress",
        accepted_at=h(3),
        first_dispatched_at=h(10),
        send_back_count=1,
        deadline_at=PAST,
    ),
    handled("c07", 1, 10, True, "handled"),  # awaiting the collector's check
    handled("c08", 2, 20, True, "closed", closed_at=h(100), rating="satisfied"),
    handled("c09", 4, 30, False, "closed", closed_at=h(100), rating="basic"),  # late
    handled(  # reworked, rated unsatisfied, closed with an explanation
        "c10", 1, 40, True, "closed", closed_at=h(200), rework_count=1, rating="unsatisfied"
    ),
    handled(  # no rating in time: closed with rating "none"
        "c11", 2, 50, True, "closed", closed_at=h(300), send_back_count=1, rating="none"
    ),
    handled("c12", 3, 60, True, "reopened", rating="unsatisfied"),
    # handled late, failed the check, back at the unit past its deadline: still "handled"
    handled("c13", 1, 70, False, "dispatched", rework_count=1, deadline_at=PAST),
]


@pytest.fixture(scope="module")
def report() -> KpiReport:
    return compute_kpis(CASES, AS_OF)


def test_counts(report: KpiReport) -> None:
    assert report.reported == 13
    assert report.accepted == 10  # c04–c13 have accepted_at
    assert report.rejected == 1  # c02
    assert report.merged == 1  # c03
    assert report.dispatched == 9  # c05–c13
    assert report.handled == 7  # c07–c13
    assert report.closed == 4  # c08, c09, c10, c11
    assert report.overdue_unhandled == 1  # c06 (c05 not yet due, c04 has no deadline)
    assert report.due_count == 8  # 7 handled + 1 overdue
    assert report.rated == 4  # c08 satisfied, c09 basic, c10 and c12 unsatisfied
    assert report.unrated == 1  # c11 "none"


@pytest.mark.parametrize(
    ("name", "numerator", "denominator", "percent"),
    [
        # accepted 10 ÷ decided 12 (10 accepted + c02 rejected + c03 merged; c01 undecided)
        ("filing_rate", 10, 12, 83.3),
        # dispatched 9, of which c06 and c11 were sent back: 7 ÷ 9
        ("dispatch_accuracy", 7, 9, 77.8),
        # on time: c07, c08, c10, c11, c12 = 5 (c09, c13 late) ÷ 应结案数 8
        ("handled_on_time_rate", 5, 8, 62.5),
        # closed c08, c09, c10, c11 = 4 ÷ 8
        ("closure_rate", 4, 8, 50.0),
        # closed and on time: c08, c10, c11 = 3 ÷ 8
        ("closed_on_time_rate", 3, 8, 37.5),
        # handled 7, reworked c10 and c13: 2 ÷ 7
        ("rework_rate", 2, 7, 28.6),
        # satisfied c08 + basic c09 = 2 ÷ rated 4; c11's "none" is not in the denominator
        ("satisfaction_rate", 2, 4, 50.0),
    ],
)
def test_ratios(
    report: KpiReport, name: str, numerator: int, denominator: int, percent: float
) -> None:
    ratio = getattr(report, name)
    assert (ratio.numerator, ratio.denominator) == (numerator, denominator)
    assert ratio.value == pytest.approx(numerator / denominator)
    assert ratio.percent == percent


def test_averages(report: KpiReport) -> None:
    # hours to accept, c04–c13: 2+1+3+1+2+4+1+2+3+1 = 20 over 10 cases
    assert report.avg_hours_to_accept == pytest.approx(2.0)
    # hours from first dispatch to handled, c07–c13: 10+20+…+70 = 280 over 7 cases
    assert report.avg_hours_to_handle == pytest.approx(40.0)


def test_an_overdue_untouched_case_lowers_the_rates(report: KpiReport) -> None:
    forgotten = case(
        "c14",
        status="dispatched",
        accepted_at=h(1),
        first_dispatched_at=h(10),
        deadline_at=PAST,
    )
    worse = compute_kpis([*CASES, forgotten], AS_OF)
    assert worse.due_count == report.due_count + 1
    assert (worse.closure_rate.numerator, worse.closure_rate.denominator) == (4, 9)
    for name in ("closure_rate", "handled_on_time_rate", "closed_on_time_rate"):
        assert getattr(worse, name).value < getattr(report, name).value
    # and dropping the overdue c06 from the set would flatter every one of them
    hidden = compute_kpis([c for c in CASES if c.id != "c06"], AS_OF)
    assert hidden.closure_rate.value is not None
    assert report.closure_rate.value is not None
    assert hidden.closure_rate.value > report.closure_rate.value


def test_due_exactly_at_as_of_is_not_yet_overdue() -> None:
    c = case("x", status="in_progress", accepted_at=h(1), first_dispatched_at=h(2))
    assert compute_kpis([replace(c, deadline_at=AS_OF)], AS_OF).overdue_unhandled == 0
    later = AS_OF + timedelta(seconds=1)
    assert compute_kpis([replace(c, deadline_at=AS_OF)], later).overdue_unhandled == 1


def test_rejected_or_merged_cases_are_never_due() -> None:
    odd = case("x", status="rejected", rejected=True, deadline_at=PAST)
    assert compute_kpis([odd], AS_OF).due_count == 0


def test_nothing_to_divide_gives_no_value() -> None:
    empty = compute_kpis([], AS_OF)
    for f in fields(empty):
        value = getattr(empty, f.name)
        if isinstance(value, Ratio):
            assert value.value is None
            assert value.percent is None
    assert empty.avg_hours_to_accept is None
    assert empty.avg_hours_to_handle is None
    assert empty.due_count == 0
    json.dumps(empty.as_dict())


def test_none_ratings_never_count_as_satisfied() -> None:
    closed = [
        handled("a", 1, 1, True, "closed", rating="satisfied"),
        handled("b", 1, 1, True, "closed", rating="none"),
        handled("c", 1, 1, True, "closed", rating="none"),
        handled("d", 1, 1, True, "closed", rating="unsatisfied"),
    ]
    report = compute_kpis(closed, AS_OF)
    assert (report.satisfaction_rate.numerator, report.satisfaction_rate.denominator) == (1, 2)
    assert (report.rated, report.unrated) == (2, 2)
    all_none = compute_kpis([replace(c, rating="none") for c in closed], AS_OF)
    assert all_none.satisfaction_rate.value is None
    assert all_none.unrated == 4


def test_a_single_pass_over_an_iterator(report: KpiReport) -> None:
    assert compute_kpis(iter(CASES), AS_OF) == report


@pytest.mark.parametrize(
    ("ratio", "value", "percent"),
    [
        (Ratio(0, 0), None, None),
        (Ratio(0, 5), 0.0, 0.0),
        (Ratio(5, 5), 1.0, 100.0),
        (Ratio(2, 3), 2 / 3, 66.7),
        (Ratio(1, 3), 1 / 3, 33.3),
        (Ratio(1, 16), 1 / 16, 6.3),  # 6.25 rounds half up
    ],
)
def test_ratio(ratio: Ratio, value: float | None, percent: float | None) -> None:
    assert ratio.value == value
    assert ratio.percent == percent
    assert ratio.as_dict() == {
        "numerator": ratio.numerator,
        "denominator": ratio.denominator,
        "value": value,
        "percent": percent,
    }


@pytest.mark.parametrize(("n", "d"), [(3, 2), (-1, 2), (1, -1)])
def test_impossible_ratios_are_refused(n: int, d: int) -> None:
    with pytest.raises(ValueError):
        Ratio(n, d)


def test_as_dict(report: KpiReport) -> None:
    out = report.as_dict()
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    assert out["as_of"] == "2025-06-30T00:00:00+00:00"
    assert set(out) == {"as_of", *LABELS}
    assert set(LABELS) == {f.name for f in fields(report)} - {"as_of"}
    assert out["closure_rate"] == {
        "label_zh": "结案率",
        "label_en": "closure rate",
        "numerator": 4,
        "denominator": 8,
        "value": 0.5,
        "percent": 50.0,
    }
    assert out["due_count"] == {"label_zh": "应结案数", "label_en": "cases due", "value": 8}
    assert out["avg_hours_to_handle"]["value"] == 40.0
    assert out["unrated"]["value"] == 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"status": "done"}, "unknown status"),
        ({"rating": "good"}, "unknown rating"),
        ({"send_back_count": -1}, "negative"),
        ({"reported_at": datetime(2025, 6, 1)}, "timezone-aware"),
        ({"handled_at": datetime(2025, 6, 1)}, "timezone-aware"),
    ],
)
def test_case_facts_are_checked(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        case("bad", **kw)


def test_as_of_must_be_aware() -> None:
    with pytest.raises(ValueError):
        compute_kpis([], datetime(2025, 6, 30))
