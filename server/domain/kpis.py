"""Key figures (考核指标) of the case loop, as practised by 数字城管 and the 12345 hotlines.

Every rate is a `Ratio` that keeps its numerator and denominator; an empty denominator
gives no value rather than 100 %. The completion rates (按期处置率, 结案率, 按期结案率)
share one denominator, 应结案数: the cases handled plus the cases past their deadline and
not yet handled. Leaving an overdue case untouched therefore lowers the rates instead of
dropping out of them.

The facts describe each case as of the report's `as_of` moment; building them from the
case events is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from server.domain.deadlines import is_overdue

STATUSES = frozenset(
    {
        "reported",
        "accepted",
        "rejected",
        "merged",
        "dispatched",
        "in_progress",
        "handled",
        "awaiting_rating",
        "reopened",
        "closed",
    }
)
RATINGS = frozenset({"satisfied", "basic", "unsatisfied", "none"})
SATISFIED = frozenset({"satisfied", "basic"})  # 满意 + 基本满意
RATED = frozenset({"satisfied", "basic", "unsatisfied"})  # "none" is no verdict at all

LABELS: dict[str, tuple[str, str]] = {
    "filing_rate": ("立案率", "filing rate"),
    "dispatch_accuracy": ("准确派遣率", "dispatch accuracy"),
    "handled_on_time_rate": ("按期处置率", "handled on time"),
    "closure_rate": ("结案率", "closure rate"),
    "closed_on_time_rate": ("按期结案率", "closed on time"),
    "rework_rate": ("返工率", "rework rate"),
    "satisfaction_rate": ("满意率", "satisfaction rate"),
    "due_count": ("应结案数", "cases due"),
    "avg_hours_to_accept": ("平均受理时长（小时）", "average hours to accept"),
    "avg_hours_to_handle": ("平均处置时长（小时）", "average hours to handle"),
    "reported": ("上报数", "reported"),
    "accepted": ("立案数", "accepted"),
    "rejected": ("不予立案数", "rejected"),
    "merged": ("合并数", "merged as duplicates"),
    "dispatched": ("派遣数", "dispatched"),
    "handled": ("处置数", "handled"),
    "closed": ("结案数", "closed"),
    "overdue_unhandled": ("超期未处置数", "overdue and not handled"),
    "rated": ("评价数", "rated"),
    "unrated": ("未评价数", "not rated"),
}


@dataclass(frozen=True)
class CaseFacts:
    """What the key figures need to know about one case.

    `handled_at` is the latest report_done (办结上报); `handled_on_time` whether that was
    by the deadline (None without a deadline); `rating` the latest verdict, "none" when the
    rating window passed without one.
    """

    id: str
    reported_at: datetime
    status: str
    accepted_at: datetime | None
    rejected: bool
    merged: bool
    first_dispatched_at: datetime | None
    send_back_count: int
    deadline_at: datetime | None
    handled_at: datetime | None
    handled_on_time: bool | None
    closed_at: datetime | None
    rework_count: int
    rating: str | None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: 未知状态 / unknown status {self.status!r}")
        if self.rating is not None and self.rating not in RATINGS:
            raise ValueError(f"{self.id}: 未知评价 / unknown rating {self.rating!r}")
        if self.send_back_count < 0 or self.rework_count < 0:
            raise ValueError(f"{self.id}: 次数不能为负 / counts must not be negative")
        for name in _MOMENTS:
            _require_aware(self.id, name, getattr(self, name))


_MOMENTS = (
    "reported_at",
    "accepted_at",
    "first_dispatched_at",
    "deadline_at",
    "handled_at",
    "closed_at",
)


def _require_aware(case_id: str, name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{case_id}: {name} 必须带时区 / must be timezone-aware")


@dataclass(frozen=True)
class Ratio:
    """A rate that keeps its parts; no value when there is nothing to divide by."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if not 0 <= self.numerator <= self.denominator:
            raise ValueError(f"比率有误 / invalid ratio {self.numerator}/{self.denominator}")

    @property
    def value(self) -> float | None:
        if self.denominator == 0:
            return None
        return self.numerator / self.denominator

    @property
    def percent(self) -> float | None:
        """The rate in per cent, rounded half up to one decimal (2/3 → 66.7)."""
        if self.denominator == 0:
            return None
        exact = Decimal(self.numerator * 100) / Decimal(self.denominator)
        return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))

    def as_dict(self) -> dict[str, Any]:
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class KpiReport:
    """The key figures over a set of cases at `as_of`."""

    as_of: datetime
    filing_rate: Ratio
    dispatch_accuracy: Ratio
    handled_on_time_rate: Ratio
    closure_rate: Ratio
    closed_on_time_rate: Ratio
    rework_rate: Ratio
    satisfaction_rate: Ratio
    due_count: int
    avg_hours_to_accept: float | None
    avg_hours_to_handle: float | None
    reported: int
    accepted: int
    rejected: int
    merged: int
    dispatched: int
    handled: int
    closed: int
    overdue_unhandled: int
    rated: int
    unrated: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: each figure with its Chinese and English label; hours to 2 decimals."""
        out: dict[str, Any] = {"as_of": self.as_of.astimezone(UTC).isoformat()}
        for f in fields(self):
            if f.name == "as_of":
                continue
            zh, en = LABELS[f.name]
            value = getattr(self, f.name)
            if isinstance(value, Ratio):
                entry = value.as_dict()
            elif isinstance(value, float):
                entry = {"value": round(value, 2)}
            else:
                entry = {"value": value}
            out[f.name] = {"label_zh": zh, "label_en": en, **entry}
        return out


def _mean_hours(total_seconds: float, n: int) -> float | None:
    return total_seconds / n / 3600 if n else None


def compute_kpis(facts: Iterable[CaseFacts], as_of: datetime) -> KpiReport:
    """The key figures over `facts`, in one pass.

    * 立案率 = accepted ÷ decided (accepted, rejected or merged);
    * 准确派遣率 = dispatched and never sent back (回退) ÷ dispatched;
    * 应结案数 = handled + overdue and not handled (rejected and merged cases never count);
    * 按期处置率 = handled on time ÷ 应结案数; 结案率 = closed ÷ 应结案数;
      按期结案率 = closed and handled on time ÷ 应结案数;
    * 返工率 = handled and reworked at least once ÷ handled;
    * 满意率 = (satisfied + basic) ÷ rated, where "none" is not a rating but is counted
      as unrated;
    * average hours from report to acceptance, and from first dispatch to handling.
    """
    if as_of.utcoffset() is None:
        raise ValueError("as_of 必须带时区 / as_of must be timezone-aware")
    reported = accepted = rejected = merged = decided = 0
    dispatched = dispatched_clean = 0
    handled = handled_on_time = reworked = overdue_unhandled = 0
    closed = closed_due = closed_on_time = 0
    rated = satisfied = unrated = 0
    accept_seconds = handle_seconds = 0.0
    handle_n = 0

    for c in facts:
        reported += 1
        if c.accepted_at is not None:
            accepted += 1
            accept_seconds += (c.accepted_at - c.reported_at).total_seconds()
        rejected += c.rejected
        merged += c.merged
        decided += c.accepted_at is not None or c.rejected or c.merged

        if c.first_dispatched_at is not None:
            dispatched += 1
            dispatched_clean += c.send_back_count == 0

        is_closed = c.status == "closed"
        closed += is_closed
        if c.handled_at is not None:
            handled += 1
            on_time = c.handled_on_time is True
            handled_on_time += on_time
            reworked += c.rework_count > 0
            # only cases inside 应结案数 may count towards the rates over it
            closed_due += is_closed
            closed_on_time += is_closed and on_time
            if c.first_dispatched_at is not None:
                handle_n += 1
                handle_seconds += (c.handled_at - c.first_dispatched_at).total_seconds()
        elif not (c.rejected or c.merged) and is_overdue(c.deadline_at, as_of):
            overdue_unhandled += 1

        if c.rating in RATED:
            rated += 1
            satisfied += c.rating in SATISFIED
        elif c.rating == "none":
            unrated += 1

    due = handled + overdue_unhandled
    return KpiReport(
        as_of=as_of,
        filing_rate=Ratio(accepted, decided),
        dispatch_accuracy=Ratio(dispatched_clean, dispatched),
        handled_on_time_rate=Ratio(handled_on_time, due),
        closure_rate=Ratio(closed_due, due),
        closed_on_time_rate=Ratio(closed_on_time, due),
        rework_rate=Ratio(reworked, handled),
        satisfaction_rate=Ratio(satisfied, rated),
        due_count=due,
        avg_hours_to_accept=_mean_hours(accept_seconds, accepted),
        avg_hours_to_handle=_mean_hours(handle_seconds, handle_n),
        reported=reported,
        accepted=accepted,
        rejected=rejected,
        merged=merged,
        dispatched=dispatched,
        handled=handled,
        closed=closed,
        overdue_unhandled=overdue_unhandled,
        rated=rated,
        unrated=unrated,
    )
