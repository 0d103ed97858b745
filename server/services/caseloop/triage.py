"""Triage: routing rules (the admin's category → unit table), the unit they suggest, accept
(and dispatch in the same step, by choice or by an auto-dispatching rule) and bulk actions.

Everything goes through `cases.act`: the state machine, the version check and one event per
case per action; a bulk action is all of its cases or none (each refusal named)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from server.domain.cases import Action
from server.domain.roles import Role
from server.domain.routing import Place, Rule, match_rule
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import Case, Category, Community, Grid, RoutingRule, SavedFilter, Unit
from server.services.caseloop import case_queries, cases
from server.services.pagination import encode_keyset
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

BULK_OPS = ("accept", "reject", "merge", "dispatch", "accept_dispatch")
MAX_BULK = 200


# ------------------------------------------------------------------------- routing rules


def _admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins keep routing rules", "仅管理员可维护分派规则")


def list_rules(principal: Principal) -> list[RoutingRule]:
    """The routing rules of the caller's subdistrict (every subdistrict for a city admin)."""
    stmt = select(RoutingRule).order_by(RoutingRule.category_id, RoutingRule.id)
    if principal.subdistrict_id is not None:
        stmt = stmt.where(RoutingRule.subdistrict_id == principal.subdistrict_id)
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class RuleInput:
    category: str
    unit_id: int
    community_id: int | None = None
    grid_id: int | None = None
    auto_dispatch: bool = False


def create_rule(uow: UnitOfWork, principal: Principal, data: RuleInput) -> RoutingRule:
    """Add a rule; the unit, community and grid must be of one subdistrict the admin holds."""
    _admin(principal)
    category = db.session.scalar(select(Category).where(Category.code == data.category))
    if category is None:
        raise Invalid("unknown_category", "no such category", "未知的事项分类", field="category")
    unit = db.session.get(Unit, data.unit_id)
    if unit is None or not unit.active or not principal.may_see_subdistrict(unit.subdistrict_id):
        raise Invalid(
            "unknown_unit", "no such active unit here", "没有该办理单位或已停用", field="unit_id"
        )
    community_id = data.community_id
    if data.grid_id is not None:
        grid = db.session.get(Grid, data.grid_id)
        if grid is None or grid.subdistrict_id != unit.subdistrict_id:
            raise Invalid(
                "unknown_grid",
                "no such grid in the unit's subdistrict",
                "该单位所在街道没有这个网格",
                field="grid_id",
            )
        if community_id is not None and community_id != grid.community_id:
            raise Invalid(
                "invalid_value",
                "grid_id: the grid is not in the chosen community",
                "字段 grid_id：该网格不属于所选社区",
                field="grid_id",
            )
        community_id = grid.community_id
    if community_id is not None:
        community = db.session.get(Community, community_id)
        if community is None or community.subdistrict_id != unit.subdistrict_id:
            raise Invalid(
                "unknown_community",
                "no such community in the unit's subdistrict",
                "该单位所在街道没有这个社区",
                field="community_id",
            )
    rule = RoutingRule(
        subdistrict_id=unit.subdistrict_id,
        category_id=category.id,
        community_id=community_id,
        grid_id=data.grid_id,
        unit_id=unit.id,
        auto_dispatch=data.auto_dispatch,
        active=True,
    )
    uow.session.add(rule)
    uow.session.flush()
    return rule


def delete_rule(uow: UnitOfWork, principal: Principal, rule_id: int) -> None:
    _admin(principal)
    rule = uow.session.get(RoutingRule, rule_id)
    if rule is None or not principal.may_see_subdistrict(rule.subdistrict_id):
        raise NotFound("Routing rule", "分派规则")
    uow.session.delete(rule)
    uow.session.flush()


def _rules_of(subdistrict_ids: Iterable[int]) -> dict[int, list[Rule]]:
    ids = sorted(set(subdistrict_ids))
    out: dict[int, list[Rule]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = db.session.scalars(
        select(RoutingRule).where(RoutingRule.subdistrict_id.in_(ids), RoutingRule.active.is_(True))
    )
    for r in rows:
        out[r.subdistrict_id].append(
            Rule(
                id=r.id,
                category_id=r.category_id,
                unit_id=r.unit_id,
                community_id=r.community_id,
                grid_id=r.grid_id,
                auto_dispatch=r.auto_dispatch,
            )
        )
    return out


@dataclass(frozen=True)
class Suggestion:
    unit_id: int
    unit_name: str
    auto_dispatch: bool
    rule_id: int


def suggest(many: Sequence[Case]) -> dict[str, Suggestion]:
    """The unit the rules suggest for each case (cases no rule matches are left out)."""
    rules = _rules_of(c.subdistrict_id for c in many)
    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.active.is_(True))).all())
    out: dict[str, Suggestion] = {}
    for case in many:
        rule = match_rule(
            rules.get(case.subdistrict_id, []),
            Place(
                category_id=case.category_id, community_id=case.community_id, grid_id=case.grid_id
            ),
        )
        if rule is not None and rule.unit_id in names:
            out[case.id] = Suggestion(
                rule.unit_id, names[rule.unit_id], rule.auto_dispatch, rule.id
            )
    return out


# ------------------------------------------------------------------------------ actions


def accept(
    uow: UnitOfWork,
    principal: Principal,
    case_id: str,
    version: int,
    *,
    unit_id: int | None = None,
    deadline: datetime | None = None,
    data: cases.ActionInput | None = None,
) -> Case:
    """Accept (立案) a case; then dispatch it to `unit_id` when one is given, or else to the
    unit of a matching auto-dispatching rule. Two actions, two events; both or neither.
    `data` is the accept's own input as the API received it (checked as for any action)."""
    accept_input = data if data is not None else cases.ActionInput(version)
    case = cases.act(uow, principal, case_id, Action.ACCEPT.value, accept_input)
    if unit_id is None and case.grid_id is not None:  # an unlocated case waits to be placed
        found = suggest([case]).get(case.id)
        if found is not None and found.auto_dispatch:
            unit_id = found.unit_id
    if unit_id is not None:
        case = cases.act(
            uow,
            principal,
            case.id,
            Action.DISPATCH.value,
            cases.ActionInput(version=case.version, unit_id=unit_id, deadline=deadline),
        )
    return case


@dataclass(frozen=True)
class BulkInput:
    op: str
    reason: str | None = None
    into: str | None = None
    unit_id: int | None = None
    deadline: datetime | None = None


def bulk(
    uow: UnitOfWork, principal: Principal, items: Sequence[cases.BulkItem], data: BulkInput
) -> list[Case]:
    """One triage action on many cases: all of them, or none (each refusal is named).
    `accept` also auto-dispatches where a rule says so; `accept_dispatch` accepts and
    dispatches to the chosen unit (or, without one, each case to its suggested unit)."""
    if data.op not in BULK_OPS:
        raise Invalid("unknown_action", "no such bulk action", "没有该批量操作", field="op")
    if len(items) > MAX_BULK:
        raise Invalid(
            "invalid_value", f"at most {MAX_BULK} cases", f"最多 {MAX_BULK} 个事项", field="case"
        )
    problems: list[dict[str, Any]] = []
    done: list[Case] = []
    for item in items:
        try:
            done.append(_one(uow, principal, item, data))
        except DomainError as exc:
            problems.append({"id": item.id, **exc.to_dict()})
    if problems:
        raise Conflict(
            "bulk_refused",
            f"{len(problems)} of {len(items)} cases cannot be changed; none was",
            f"{len(problems)} 个事项无法处理，全部未处理",
            details=problems,
        )
    return done


def _one(uow: UnitOfWork, principal: Principal, item: cases.BulkItem, data: BulkInput) -> Case:
    if data.op == "accept":
        return accept(uow, principal, item.id, item.version)
    if data.op == "accept_dispatch":
        unit_id = data.unit_id
        if unit_id is None:
            case = cases.visible_case(principal, item.id)
            found = suggest([case]).get(case.id)
            if found is None:
                raise Invalid(
                    "no_suggested_unit",
                    "no unit chosen and no routing rule suggests one",
                    "未选择办理单位，且没有分派规则可建议单位",
                    field="unit_id",
                )
            unit_id = found.unit_id
        return accept(
            uow, principal, item.id, item.version, unit_id=unit_id, deadline=data.deadline
        )
    return cases.act(
        uow,
        principal,
        item.id,
        data.op,
        cases.ActionInput(
            version=item.version,
            reason=data.reason,
            into=data.into,
            unit_id=data.unit_id,
            deadline=data.deadline,
        ),
    )


# ------------------------------------------------------------------------------ reading


def resolve_case_ref(principal: Principal, ref: str | None) -> str | None:
    """A case id from what a dispatcher typed: the id itself or the case number."""
    if not ref or not ref.strip():
        return None
    ref = ref.strip()
    if db.session.get(Case, ref) is not None:
        return ref
    found = db.session.scalar(select(Case.id).where(Case.number == ref.upper()))
    return found or ref


def next_case(principal: Principal, f: Any, sort: str, current: Case) -> Case | None:
    """The case after `current` in the queue's order under the same filter (whether or not
    `current` still matches it), else the filter's first case; None when nothing is left."""
    column, _desc = case_queries.SORTS[sort]
    value = getattr(current, column.key)
    if value is not None:
        after = encode_keyset(sort, value, current.id)
        page = case_queries.list_cases(principal, f, sort=sort, cursor=after, limit=1)
        if page.items:
            return page.items[0]
    first = case_queries.list_cases(principal, f, sort=sort, limit=2)
    return next((c for c in first.items if c.id != current.id), None)


# ------------------------------------------------------------------------ saved filters

MAX_SAVED = 20


def list_filters(principal: Principal) -> list[SavedFilter]:
    return list(
        db.session.scalars(
            select(SavedFilter)
            .where(SavedFilter.user_id == principal.user_id)
            .order_by(SavedFilter.id)
        )
    )


def save_filter(uow: UnitOfWork, principal: Principal, name: str, query: str) -> SavedFilter:
    """Keep a named queue filter for the user (their own; at most 20)."""
    name = name.strip()
    if not name:
        raise Invalid("validation_error", "name: required", "字段 name：必填", field="name")
    if len(list_filters(principal)) >= MAX_SAVED:
        raise Invalid(
            "too_many_filters",
            f"at most {MAX_SAVED} saved filters",
            f"最多保存 {MAX_SAVED} 个筛选",
            field="name",
        )
    row = SavedFilter(user_id=principal.user_id, name=name, query=query)
    uow.session.add(row)
    uow.session.flush()
    return row


def delete_filter(uow: UnitOfWork, principal: Principal, filter_id: int) -> None:
    row = uow.session.get(SavedFilter, filter_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound("Saved filter", "已保存的筛选")
    uow.session.delete(row)
    uow.session.flush()


def latest_case_marker(principal: Principal) -> str:
    """Changes whenever a case the principal may see is reported (the live queue's cue)."""
    stmt = case_queries.scope(select(func.count(), func.max(Case.created_at)), principal)
    n, latest = db.session.execute(stmt.select_from(Case)).one()
    return f"{n}:{latest.isoformat() if latest else ''}"
