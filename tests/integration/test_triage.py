"""Triage use cases: routing rules (scope, suggestion, auto-dispatch on accept), accept and
dispatch in one step, bulk accept / reject / merge all-or-none, the next case of a filter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import World
from flask import Flask
from helpers import A1, B1
from sqlalchemy import func, select

from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.extensions import db
from server.models import Case, CaseEvent, RoutingRule
from server.services.caseloop import case_queries, cases, triage
from server.services.people.principal import Principal
from server.services.uow import unit_of_work


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


def who(world: World, username: str, role: Role, **extra: Any) -> Principal:
    return Principal(
        user_id=world.user_ids[username],
        username=username,
        role=role,
        subdistrict_id=world.subdistrict_id,
        **extra,
    )


def admin(world: World) -> Principal:
    return who(world, "admin", Role.ADMIN)


def dispatcher(world: World) -> Principal:
    return who(world, "dispatcher", Role.DISPATCHER)


def report(world: World, at: tuple[float, float] = A1, description: str = "垃圾桶满溢") -> Case:
    principal = who(
        world,
        "collector",
        Role.COLLECTOR,
        grid_ids=frozenset({world.grid_ids["A1"], world.grid_ids["B1"]}),
    )
    data = cases.ReportInput(category="sanitation", description=description, lon=at[0], lat=at[1])
    with unit_of_work() as uow:
        return cases.report_case(uow, principal, data).case


def events(case_id: str) -> list[str]:
    return list(
        db.session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        )
    )


def rule(world: World, **kw: Any) -> RoutingRule:
    data = triage.RuleInput(category="sanitation", unit_id=world.unit_id, **kw)
    with unit_of_work() as uow:
        return triage.create_rule(uow, admin(world), data)


def test_only_admins_keep_rules_and_only_in_their_subdistrict(ctx: Flask, world: World) -> None:
    with pytest.raises(Forbidden), unit_of_work() as uow:
        triage.create_rule(
            uow, dispatcher(world), triage.RuleInput(category="sanitation", unit_id=world.unit_id)
        )
    with pytest.raises(Invalid) as exc, unit_of_work() as uow:
        triage.create_rule(
            uow, admin(world), triage.RuleInput(category="sanitation", unit_id=world.other_unit_id)
        )
    assert exc.value.code == "unknown_unit"
    with pytest.raises(Invalid) as exc, unit_of_work() as uow:
        triage.create_rule(
            uow,
            admin(world),
            triage.RuleInput(
                category="sanitation", unit_id=world.unit_id, grid_id=world.grid_ids["C1"]
            ),
        )
    assert exc.value.code == "unknown_grid"
    assert db.session.scalar(select(func.count()).select_from(RoutingRule)) == 0
    made = rule(world, grid_id=world.grid_ids["A1"])
    assert made.community_id == world.community_ids["A"]  # a grid rule knows its community
    assert [r.id for r in triage.list_rules(admin(world))] == [made.id]


def test_the_most_specific_rule_suggests_the_unit(ctx: Flask, world: World) -> None:
    a1, b1 = report(world, A1), report(world, B1)
    assert triage.suggest([a1, b1]) == {}
    rule(world, community_id=world.community_ids["B"])
    found = triage.suggest([a1, b1])
    assert set(found) == {b1.id}
    assert found[b1.id].unit_id == world.unit_id and not found[b1.id].auto_dispatch


def test_accept_auto_dispatches_when_a_rule_says_so(ctx: Flask, world: World) -> None:
    plain, auto = report(world, A1), report(world, B1)
    rule(world, community_id=world.community_ids["B"], auto_dispatch=True)
    with unit_of_work() as uow:
        triage.accept(uow, dispatcher(world), plain.id, plain.version)
        triage.accept(uow, dispatcher(world), auto.id, auto.version)
    db.session.expire_all()
    assert db.session.get(Case, plain.id).status == "accepted"  # type: ignore[union-attr]
    done = db.session.get(Case, auto.id)
    assert done is not None and done.status == "dispatched" and done.unit_id == world.unit_id
    assert done.deadline_at is not None
    # one event per action: report, accept, dispatch
    assert events(auto.id) == ["report", "accept", "dispatch"]
    assert events(plain.id) == ["report", "accept"]


def test_accept_and_dispatch_is_both_or_neither(ctx: Flask, world: World) -> None:
    case = report(world)
    with pytest.raises(DomainError) as exc, unit_of_work() as uow:
        triage.accept(uow, dispatcher(world), case.id, case.version, unit_id=world.other_unit_id)
    assert exc.value.code == "unknown_unit"
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "reported"  # type: ignore[union-attr]
    assert events(case.id) == ["report"]
    with unit_of_work() as uow:
        triage.accept(uow, dispatcher(world), case.id, case.version, unit_id=world.unit_id)
    assert events(case.id) == ["report", "accept", "dispatch"]


def items(*many: Case) -> list[cases.BulkItem]:
    return [cases.BulkItem(id=c.id, version=c.version) for c in many]


def test_bulk_accept_is_all_or_none_with_each_refusal_named(ctx: Flask, world: World) -> None:
    one, two, three = (
        report(world),
        report(world, description="二"),
        report(world, description="三"),
    )
    stale = cases.BulkItem(id=three.id, version=three.version + 5)
    with pytest.raises(Conflict) as exc, unit_of_work() as uow:
        triage.bulk(uow, dispatcher(world), [*items(one, two), stale], triage.BulkInput("accept"))
    assert exc.value.code == "bulk_refused"
    assert [(p["id"], p["code"]) for p in exc.value.details or []] == [(three.id, "stale_version")]
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(select(Case))} == {"reported"}
    with unit_of_work() as uow:
        done = triage.bulk(
            uow, dispatcher(world), items(one, two, three), triage.BulkInput("accept")
        )
    assert len(done) == 3
    assert all(events(c.id) == ["report", "accept"] for c in (one, two, three))


def test_bulk_reject_with_one_reason_and_merge_into_one_case(ctx: Flask, world: World) -> None:
    keep, dup1, dup2, junk = (report(world, description=d) for d in ("主", "重1", "重2", "无效"))
    with unit_of_work() as uow:
        triage.bulk(
            uow, dispatcher(world), items(junk), triage.BulkInput("reject", reason="非本辖区")
        )
        triage.bulk(
            uow,
            dispatcher(world),
            items(dup1, dup2),
            triage.BulkInput("merge", into=triage.resolve_case_ref(dispatcher(world), keep.number)),
        )
    db.session.expire_all()
    assert db.session.get(Case, junk.id).status == "rejected"  # type: ignore[union-attr]
    for dup in (dup1, dup2):
        merged = db.session.get(Case, dup.id)
        assert merged is not None and merged.status == "merged" and merged.merged_into_id == keep.id


def test_bulk_accept_dispatch_uses_the_suggestion_or_refuses_without(
    ctx: Flask, world: World
) -> None:
    a1, b1 = report(world, A1), report(world, B1)
    rule(world, community_id=world.community_ids["B"])
    with pytest.raises(Conflict) as exc, unit_of_work() as uow:
        triage.bulk(uow, dispatcher(world), items(a1, b1), triage.BulkInput("accept_dispatch"))
    assert [p["code"] for p in exc.value.details or []] == ["no_suggested_unit"]
    assert events(b1.id) == ["report"]  # none was
    with unit_of_work() as uow:
        triage.bulk(
            uow,
            dispatcher(world),
            items(a1, b1),
            triage.BulkInput("accept_dispatch", unit_id=world.unit_id),
        )
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(select(Case))} == {"dispatched"}


def test_next_case_follows_the_queue_order_under_the_same_filter(ctx: Flask, world: World) -> None:
    first, second, third = (report(world, description=d) for d in ("1", "2", "3"))
    f = case_queries.CaseFilter(status=["reported"])
    order = [c.id for c in case_queries.list_cases(dispatcher(world), f).items]
    assert order == [third.id, second.id, first.id]  # newest first
    with unit_of_work() as uow:
        done = triage.accept(uow, dispatcher(world), third.id, third.version)
    # the accepted case left the filter; the next one is the one after it in the order
    nxt = triage.next_case(dispatcher(world), f, "-created_at", done)
    assert nxt is not None and nxt.id == second.id
    last = db.session.get(Case, first.id)
    assert last is not None
    wrapped = triage.next_case(dispatcher(world), f, "-created_at", last)
    assert wrapped is not None and wrapped.id == second.id  # past the end: the first again
    with unit_of_work() as uow:
        triage.bulk(uow, dispatcher(world), items(second, last), triage.BulkInput("accept"))
    assert triage.next_case(dispatcher(world), f, "-created_at", last) is None


def test_the_api_accept_applies_an_auto_dispatching_rule(
    app: Flask, client: Any, tokens: dict[str, str], world: World
) -> None:
    from helpers import act, new_case, ok

    with app.app_context():
        rule(world, auto_dispatch=True)
        db.session.remove()
    case = new_case(client, tokens)
    done = ok(act(client, tokens["dispatcher"], case, "accept"))
    assert done["status"] == "dispatched" and done["unit"]["id"] == world.unit_id
    with app.app_context():
        assert events(case["id"]) == ["report", "accept", "dispatch"]
        db.session.remove()
