"""The daily sentiment index (民情指数) of a grid or a community: a pure, explainable formula.

The index for a local calendar day D is a weighted mean of seven component scores, each 0–100
and higher-is-better, over a trailing window of `window_days` days that ends on D:

* 问题压力 issue pressure — priority-weighted new cases per 1,000 residents per day,
  scored ``100 · exp(−p / PRESSURE_REFERENCE)``;
* 按期结案 on-time closure — cases closed on time ÷ cases due (应结案数);
* 群众满意 satisfaction — (满意 + 0.8 × 基本满意) ÷ rated ("none" is no verdict);
* 返工 rework — 1 − reworked ÷ handled;
* 巡查覆盖 patrol coverage — share of the area patrolled on day D, full marks at 80 %;
* 按时巡查 patrols on time — scheduled patrols done on time ÷ scheduled patrols;
* 议题评议 topic evaluation — residents' (满意 + 0.8 × 基本满意) ÷ rated on the community's
  deliberation topics over `TOPIC_WINDOW_DAYS` (missing, hence neutral, without any).

A component with nothing to measure is missing: it drops out and the other weights are
renormalised, so the score is ``Σ wᵢ·sᵢ ÷ Σ wᵢ`` over the components present. With no
weighted component present the score is None — never a made-up 100.

Every component score is rounded half up to one decimal first, and the index is computed
from those published figures in Decimal arithmetic, in the fixed order of `COMPONENTS`:
anyone can recompute the published score from the published components, and the same
inputs give the same result bit for bit. `docs/index.md` explains each choice and works an
example that the unit tests check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, TypeGuard

from server.domain.deadlines import PRIORITIES

FORMULA_VERSION = "index/2"
"""Stored with every score; bump it whenever a constant or a rule below changes.
index/1: the six components; index/2: + 议题评议 topic evaluation (communities)."""

COMPONENTS: tuple[str, ...] = (
    "issue_pressure",
    "on_time_closure",
    "satisfaction",
    "rework",
    "patrol_coverage",
    "patrol_on_time",
    "topic_evaluation",
)

FORMULA_COMPONENTS: Mapping[str, tuple[str, ...]] = {
    "index/1": COMPONENTS[:6],
    "index/2": COMPONENTS,
}
"""The components each formula version publishes (an index/1 score never shows index/2's)."""

LABELS: dict[str, tuple[str, str]] = {
    "index": ("民情指数", "sentiment index"),
    "issue_pressure": ("问题压力", "issue pressure"),
    "on_time_closure": ("按期结案", "on-time closure"),
    "satisfaction": ("群众满意", "resident satisfaction"),
    "rework": ("返工", "rework"),
    "patrol_coverage": ("巡查覆盖", "patrol coverage"),
    "patrol_on_time": ("按时巡查", "patrols on time"),
    "topic_evaluation": ("议题评议", "topic evaluation"),
}

PRIORITY_WEIGHTS: Mapping[str, Decimal] = {
    "low": Decimal("0.5"),
    "normal": Decimal("1"),
    "high": Decimal("2"),
    "urgent": Decimal("4"),
}
"""Severity of one new case by priority: each level counts twice the one below."""

PRESSURE_REFERENCE = Decimal("1")
"""p_ref: one weighted case per 1,000 residents per day scores 100·e⁻¹ ≈ 36.8."""

POPULATION_FLOOR = 500
"""Fewer recorded residents than this count as this many (non-residential and tiny areas)."""

BASIC_SATISFIED_WEIGHT = Decimal("0.8")
"""基本满意 counts as 0.8 of 满意; 不满意 counts 0."""

COVERAGE_TARGET = Decimal("0.8")
"""Covering this share of the area on day D earns full marks for patrol coverage."""

TOPIC_WINDOW_DAYS = 365
"""Residents' evaluations (评议) of a community's deliberation topics count for a year: a
topic takes months from proposal to evaluation, and a community has a few a year."""

_HUNDRED = Decimal(100)
_ONE_DECIMAL = Decimal("0.1")
# A fixed arithmetic context, whatever the caller's thread context says.
_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def _round1(x: Decimal) -> Decimal:
    """Half up to one decimal: 77.85 → 77.9."""
    return x.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _decimal(x: float) -> Decimal:
    """A float as the decimal it prints as (0.68 → Decimal('0.68'), not its binary expansion)."""
    return Decimal(repr(float(x)))


def _is_number(x: object) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


# --------------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class Weights:
    """How much each component counts. Relative: only the shares matter, not the sum.

    Weights must be finite and non-negative, and at least one must be positive. A weight of
    0 keeps the component in the explanation but out of the score.
    """

    issue_pressure: float = 0.30
    on_time_closure: float = 0.20
    satisfaction: float = 0.25
    rework: float = 0.10
    patrol_coverage: float = 0.10
    patrol_on_time: float = 0.05
    topic_evaluation: float = 0.10

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            _check_weight(name, getattr(self, name))
            object.__setattr__(self, name, float(getattr(self, name)))  # 1 → 1.0
        if not any(getattr(self, name) > 0 for name in COMPONENTS):
            raise ValueError("至少一个权重必须大于零 / at least one weight must be positive")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float]) -> Weights:
        """Weights from configuration, e.g. ``{"satisfaction": 0.3, "rework": 0.05}``.

        Keys are component names; a component the mapping leaves out keeps its default
        weight. An unknown key or a bad value raises ValueError naming the key.
        """
        known = set(COMPONENTS)
        for key in sorted(mapping, key=str):
            if key not in known:
                raise ValueError(
                    f"未知的指数分项权重 {key!r}（可用：{'、'.join(COMPONENTS)}） / "
                    f"unknown index weight {key!r} (known: {', '.join(COMPONENTS)})"
                )
            _check_weight(key, mapping[key])
        values = {
            name: float(mapping.get(name, getattr(DEFAULT_WEIGHTS, name))) for name in COMPONENTS
        }
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COMPONENTS}


def _check_weight(name: str, value: object) -> None:
    if not _is_number(value):
        raise ValueError(f"权重 {name} 必须是数字 / weight {name!r} must be a number: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"权重 {name} 必须是有限数 / weight {name!r} must be finite: {value!r}")
    if value < 0:
        raise ValueError(f"权重 {name} 不能为负 / weight {name!r} must not be negative: {value!r}")


DEFAULT_WEIGHTS = Weights()

# --------------------------------------------------------------------------------- inputs

_COUNTS = (
    "population",
    "window_days",
    "due_count",
    "closed_on_time",
    "ratings_satisfied",
    "ratings_basic",
    "ratings_unsatisfied",
    "handled_count",
    "reworked_count",
    "scheduled_patrols",
    "patrols_done_on_time",
    "topic_satisfied",
    "topic_basic",
    "topic_unsatisfied",
)


@dataclass(frozen=True, kw_only=True)
class IndexInputs:
    """The raw counts for one area (grid or community) over the window ending on day D.

    * `population` — registered residents (0 when none are recorded);
    * `window_days` — length of the trailing window, D included;
    * `new_cases_by_priority` — cases reported in the window, by priority (rejected and
      merged reports are not new problems and are left out by the caller);
    * `due_count` — 应结案数: cases whose deadline fell in the window, handled or not;
      `closed_on_time` — of those, the ones handled by their deadline;
    * `ratings_*` — residents' verdicts given in the window; "none" is not among them;
    * `handled_count` — cases handled (办结上报) in the window; `reworked_count` — of those,
      the ones sent back at least once by the on-site check (返工);
    * `patrol_coverage` — share 0..1 of the area covered by patrols on day D (area-weighted
      for a community), None when D had no patrol scheduled and none was made;
    * `scheduled_patrols` / `patrols_done_on_time` — patrol slots in the window and those
      done within their tolerance;
    * `topic_*` — residents' evaluations (评议) of the community's deliberation topics given
      in the `TOPIC_WINDOW_DAYS` ending on D (0 for a grid: topics belong to communities).
    """

    population: int
    window_days: int = 7
    new_cases_by_priority: Mapping[str, int]
    due_count: int
    closed_on_time: int
    ratings_satisfied: int
    ratings_basic: int
    ratings_unsatisfied: int
    handled_count: int
    reworked_count: int
    patrol_coverage: float | None
    scheduled_patrols: int
    patrols_done_on_time: int
    topic_satisfied: int = 0
    topic_basic: int = 0
    topic_unsatisfied: int = 0

    def __post_init__(self) -> None:
        for name in _COUNTS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"{name} 必须是非负整数 / {name} must be a non-negative integer: {value!r}"
                )
        if self.window_days < 1:
            raise ValueError(
                f"统计窗口至少一天 / window_days must be at least 1: {self.window_days!r}"
            )
        for key, n in self.new_cases_by_priority.items():
            if key not in PRIORITY_WEIGHTS:
                raise ValueError(
                    f"未知优先级 {key!r} / unknown priority {key!r} "
                    f"(known: {', '.join(PRIORITIES)})"
                )
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(
                    f"新增事项数（{key}）必须是非负整数 / new cases for {key!r} must be a "
                    f"non-negative integer: {n!r}"
                )
        _check_part("closed_on_time", self.closed_on_time, "due_count", self.due_count)
        _check_part("reworked_count", self.reworked_count, "handled_count", self.handled_count)
        _check_part(
            "patrols_done_on_time",
            self.patrols_done_on_time,
            "scheduled_patrols",
            self.scheduled_patrols,
        )
        cov = self.patrol_coverage
        if cov is not None and not (_is_number(cov) and math.isfinite(cov) and 0 <= cov <= 1):
            raise ValueError(
                f"巡查覆盖率必须在 0 到 1 之间 / patrol_coverage must be within 0..1: {cov!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, to store beside the score; priorities in their fixed order, all listed."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["new_cases_by_priority"] = {p: self.new_cases_by_priority.get(p, 0) for p in PRIORITIES}
        return out

    @property
    def new_cases(self) -> int:
        """All new cases in the window, whatever their priority."""
        return sum(self.new_cases_by_priority.get(p, 0) for p in PRIORITIES)

    @property
    def rated(self) -> int:
        return self.ratings_satisfied + self.ratings_basic + self.ratings_unsatisfied

    @property
    def topic_rated(self) -> int:
        return self.topic_satisfied + self.topic_basic + self.topic_unsatisfied


def _check_part(name: str, part: int, whole_name: str, whole: int) -> None:
    if part > whole:
        raise ValueError(
            f"{name} 不能大于 {whole_name} / {name} ({part}) must not exceed {whole_name} ({whole})"
        )


def combine_inputs(parts: Sequence[IndexInputs], areas_m2: Sequence[float]) -> IndexInputs:
    """A community's inputs from its grids' inputs: counts add up, coverage is area-weighted.

    Coverage is the mean of the grids' coverage weighted by grid area, over the grids that
    have a coverage figure for day D; None when none has. The result does not depend on
    the order of the grids (sums of floats use `math.fsum`, which is exactly rounded).
    """
    if not parts:
        raise ValueError("至少需要一个网格 / at least one grid is needed")
    if len(parts) != len(areas_m2):
        raise ValueError(f"网格数与面积数不一致 / {len(parts)} grids but {len(areas_m2)} areas")
    for area in areas_m2:
        if not (_is_number(area) and math.isfinite(area) and area > 0):
            raise ValueError(f"网格面积必须为正 / a grid area must be positive: {area!r}")
    windows = {p.window_days for p in parts}
    if len(windows) != 1:
        raise ValueError(f"各网格统计窗口不一致 / grids have different windows: {sorted(windows)}")

    covered = [(a, p.patrol_coverage) for p, a in zip(parts, areas_m2, strict=True)]
    with_cov = [(float(a), float(c)) for a, c in covered if c is not None]
    coverage: float | None = None
    if with_cov:
        coverage = math.fsum(a * c for a, c in with_cov) / math.fsum(a for a, _ in with_cov)
        coverage = min(1.0, max(0.0, coverage))

    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    return IndexInputs(
        population=total("population"),
        window_days=parts[0].window_days,
        new_cases_by_priority={
            pr: sum(p.new_cases_by_priority.get(pr, 0) for p in parts) for pr in PRIORITIES
        },
        due_count=total("due_count"),
        closed_on_time=total("closed_on_time"),
        ratings_satisfied=total("ratings_satisfied"),
        ratings_basic=total("ratings_basic"),
        ratings_unsatisfied=total("ratings_unsatisfied"),
        handled_count=total("handled_count"),
        reworked_count=total("reworked_count"),
        patrol_coverage=coverage,
        scheduled_patrols=total("scheduled_patrols"),
        patrols_done_on_time=total("patrols_done_on_time"),
        topic_satisfied=total("topic_satisfied"),
        topic_basic=total("topic_basic"),
        topic_unsatisfied=total("topic_unsatisfied"),
    )


# --------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class ComponentScore:
    """One named component of a score, with everything needed to recompute it.

    `value` is the raw figure as the office knows it (pressure per 1,000 residents per day,
    按期结案率, weighted satisfaction rate, 返工率, coverage share, on-time patrol rate);
    `score` its 0–100 higher-is-better score to one decimal; `weight` the configured weight
    and `effective_weight` its share after missing components dropped out (0 when missing);
    `basis` the counts behind the value.
    """

    name: str
    value: float | None
    score: float | None
    weight: float
    effective_weight: float
    missing: bool
    basis: Mapping[str, int | float | None]

    @property
    def label_zh(self) -> str:
        return LABELS[self.name][0]

    @property
    def label_en(self) -> str:
        return LABELS[self.name][1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "value": None if self.value is None else round(self.value, 4),
            "score": self.score,
            "weight": self.weight,
            "effective_weight": round(self.effective_weight, 4),
            "missing": self.missing,
            "basis": dict(self.basis),
        }


@dataclass(frozen=True)
class IndexResult:
    """The index of one area for one day: the score (None without data) and its components."""

    score: float | None
    components: dict[str, ComponentScore]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, components in their fixed order, each with its zh/en label."""
        zh, en = LABELS["index"]
        return {
            "formula": FORMULA_VERSION,
            "label_zh": zh,
            "label_en": en,
            "score": self.score,
            "components": {
                name: self.components[name].as_dict()
                for name in COMPONENTS
                if name in self.components
            },
        }


# --------------------------------------------------------------------------------- formula

_Measured = tuple[Decimal | None, Decimal | None, dict[str, int | float | None]]
"""(value, unrounded score, basis) of one component; value None means missing."""


def _issue_pressure(i: IndexInputs) -> _Measured:
    weighted = sum(
        (PRIORITY_WEIGHTS[p] * i.new_cases_by_priority.get(p, 0) for p in PRIORITIES),
        Decimal(0),
    )
    residents = max(i.population, POPULATION_FLOOR)
    basis: dict[str, int | float | None] = {
        "new_cases": i.new_cases,
        "weighted_cases": float(weighted),
        "population": i.population,
        "population_used": residents,
        "window_days": i.window_days,
    }
    if i.population == 0 and i.new_cases == 0:
        return None, None, basis  # no residents on record and nothing reported
    pressure = weighted * 1000 / (Decimal(residents) * i.window_days)
    return pressure, _HUNDRED * (-pressure / PRESSURE_REFERENCE).exp(), basis


def _ratio(part: int, whole: int) -> tuple[Decimal | None, Decimal | None]:
    if whole == 0:
        return None, None
    value = Decimal(part) / Decimal(whole)
    return value, _HUNDRED * value


def _on_time_closure(i: IndexInputs) -> _Measured:
    value, score = _ratio(i.closed_on_time, i.due_count)
    return value, score, {"closed_on_time": i.closed_on_time, "due": i.due_count}


def _satisfaction(i: IndexInputs) -> _Measured:
    basis: dict[str, int | float | None] = {
        "satisfied": i.ratings_satisfied,
        "basic": i.ratings_basic,
        "unsatisfied": i.ratings_unsatisfied,
    }
    if i.rated == 0:
        return None, None, basis
    value = (i.ratings_satisfied + BASIC_SATISFIED_WEIGHT * i.ratings_basic) / i.rated
    return value, _HUNDRED * value, basis


def _rework(i: IndexInputs) -> _Measured:
    rate, _ = _ratio(i.reworked_count, i.handled_count)
    basis: dict[str, int | float | None] = {
        "reworked": i.reworked_count,
        "handled": i.handled_count,
    }
    if rate is None:
        return None, None, basis
    return rate, _HUNDRED * (1 - rate), basis


def _patrol_coverage(i: IndexInputs) -> _Measured:
    cov = i.patrol_coverage
    basis: dict[str, int | float | None] = {"coverage": cov, "target": float(COVERAGE_TARGET)}
    if cov is None:
        return None, None, basis
    value = _decimal(cov)
    return value, min(_HUNDRED, _HUNDRED * value / COVERAGE_TARGET), basis


def _patrol_on_time(i: IndexInputs) -> _Measured:
    value, score = _ratio(i.patrols_done_on_time, i.scheduled_patrols)
    return value, score, {"done_on_time": i.patrols_done_on_time, "scheduled": i.scheduled_patrols}


def _topic_evaluation(i: IndexInputs) -> _Measured:
    basis: dict[str, int | float | None] = {
        "satisfied": i.topic_satisfied,
        "basic": i.topic_basic,
        "unsatisfied": i.topic_unsatisfied,
        "window_days": TOPIC_WINDOW_DAYS,
    }
    if i.topic_rated == 0:
        return None, None, basis  # no evaluated topic: neutral, the other weights renormalise
    value = (i.topic_satisfied + BASIC_SATISFIED_WEIGHT * i.topic_basic) / i.topic_rated
    return value, _HUNDRED * value, basis


_MEASURES = {
    "issue_pressure": _issue_pressure,
    "on_time_closure": _on_time_closure,
    "satisfaction": _satisfaction,
    "rework": _rework,
    "patrol_coverage": _patrol_coverage,
    "patrol_on_time": _patrol_on_time,
    "topic_evaluation": _topic_evaluation,
}


def compute_index(inputs: IndexInputs, weights: Weights = DEFAULT_WEIGHTS) -> IndexResult:
    """The sentiment index of one area for day D, with its named components.

    score = Σ wᵢ·sᵢ ÷ Σ wᵢ over the components present, each sᵢ already rounded half up to
    one decimal; the score is rounded half up to one decimal, or None when no component
    with a positive weight has data.
    """
    with localcontext(_CONTEXT):
        measured = {name: _MEASURES[name](inputs) for name in COMPONENTS}
        scores: dict[str, Decimal] = {}
        total_weight = Decimal(0)
        weighted_sum = Decimal(0)
        for name in COMPONENTS:  # a fixed order, whatever the dicts hold
            value, raw, _ = measured[name]
            if value is None or raw is None:
                continue
            scores[name] = _round1(raw)
            w = _decimal(getattr(weights, name))
            total_weight += w
            weighted_sum += w * scores[name]

        components: dict[str, ComponentScore] = {}
        for name in COMPONENTS:
            value, _, basis = measured[name]
            w = _decimal(getattr(weights, name))
            present = name in scores
            share = w / total_weight if present and total_weight > 0 else Decimal(0)
            components[name] = ComponentScore(
                name=name,
                value=None if value is None else float(value),
                score=float(scores[name]) if present else None,
                weight=getattr(weights, name),
                effective_weight=float(share),
                missing=not present,
                basis=basis,
            )
        score = float(_round1(weighted_sum / total_weight)) if total_weight > 0 else None
    return IndexResult(score=score, components=components)


def explain(
    inputs: IndexInputs, weights: Weights, version: str = FORMULA_VERSION
) -> dict[str, Any]:
    """The published components of a stored score, rebuilt from its stored inputs and weights:
    exactly what `compute_index(...).as_dict()["components"]` gave when it was computed, with
    the components of its formula version only."""
    if version not in FORMULA_COMPONENTS:
        raise ValueError(f"未知的公式版本 {version!r} / unknown formula version {version!r}")
    published = compute_index(inputs, weights).as_dict()["components"]
    return {name: published[name] for name in FORMULA_COMPONENTS[version]}


# --------------------------------------------------------------------------------- bulletin


def _signed(delta: Decimal) -> str:
    return f"+{delta}" if delta > 0 else f"-{-delta}"


def bulletin_zh(
    community_name: str,
    day: date,
    result: IndexResult,
    previous: float | None,
    new_cases: int,
    closed: int,
    overdue: int,
) -> str:
    """The short daily bulletin (每日播报) of a community, for residents; no personal data.

    ``【曲江社区】11月26日民情指数 82.4，较昨日 +1.2；新增事项 5 件，办结 4 件，超期 0 件。``
    Without a score today it says 暂无数据; without yesterday's it says 昨日暂无数据; the
    change is worked out on the published one-decimal figures (持平 when none).
    """
    for name, n in (("new_cases", new_cases), ("closed", closed), ("overdue", overdue)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{name} 必须是非负整数 / {name} must be a non-negative integer")
    head = f"【{community_name}】{day.month}月{day.day}日民情指数"
    if result.score is None:
        index = f"{head}暂无数据"
    else:
        today = _round1(_decimal(result.score))
        if previous is None:
            index = f"{head} {today}，昨日暂无数据"
        else:
            delta = today - _round1(_decimal(previous))
            change = "较昨日持平" if delta == 0 else f"较昨日 {_signed(delta)}"
            index = f"{head} {today}，{change}"
    return f"{index}；新增事项 {new_cases} 件，办结 {closed} 件，超期 {overdue} 件。"
