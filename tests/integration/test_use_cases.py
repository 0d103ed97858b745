"""The use cases called directly with a unit of work: no HTTP, no request. The rules of the
case loop and patrols, and the unit of work's own promises (one commit by the outermost
block, after-commit work released only then and dropped on rollback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import World
from flask import Flask
from helpers import A1, B1
from sqlalchemy import func, select

from server.domain.roles import Role
from server.errors import Conflict, DomainError, Invalid
from server.extensions import db
from server.models import Case, CaseAction, CaseEvent, Patrol, PatrolLog, WebhookDelivery
from server.services import outbox
from server.services.caseloop import cases
from server.services.patrolling import patrols
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


def collector(world: World, device: str | None = None) -> Principal:
    return who(
        world,
        "collector",
        Role.COLLECTOR,
        grid_ids=frozenset({world.grid_ids["A1"]}),
        device_id=device,
    )


def report(world: World, at: tuple[float, float] = A1, **extra: Any) -> Case:
    data = cases.ReportInput(
        category="sanitation", description="垃圾桶满溢", lon=at[0], lat=at[1], **extra
    )
    with unit_of_work() as uow:
        result = cases.report_case(uow, collector(world), data)
    return result.case


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------------- the case loop


def test_a_report_is_located_numbered_and_has_its_first_event(ctx: Flask, world: World) -> None:
    case = report(world)
    assert case.grid_id == world.grid_ids["A1"] and case.status == "reported"
    assert case.number.endswith("-0001") and case.source == "patrol"
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.seq, e.action, e.to_status) for e in events] == [(1, "report", "reported")]


def test_a_report_outside_the_collectors_grids_writes_nothing(ctx: Flask, world: World) -> None:
    with pytest.raises(Invalid) as refused:
        report(world, at=B1)
    assert refused.value.code == "outside_your_grids"
    assert (count(Case), count(CaseEvent), count(WebhookDelivery)) == (0, 0, 0)


def test_actions_follow_the_state_machine_and_the_version(ctx: Flask, world: World) -> None:
    case = report(world)
    dispatcher = who(world, "dispatcher", Role.DISPATCHER)
    with unit_of_work() as uow:
        cases.act(uow, dispatcher, case.id, "accept", cases.ActionInput(version=1))
    with pytest.raises(Conflict) as stale, unit_of_work() as uow:
        cases.act(uow, dispatcher, case.id, "reject", cases.ActionInput(version=1, reason="x"))
    assert stale.value.code == "stale_version"
    with pytest.raises(DomainError) as illegal, unit_of_work() as uow:
        cases.act(uow, dispatcher, case.id, "verify_ok", cases.ActionInput(version=2))
    assert illegal.value.code == "illegal_transition" and illegal.value.status == 409
    with unit_of_work() as uow:
        done = cases.act(
            uow,
            dispatcher,
            case.id,
            "dispatch",
            cases.ActionInput(version=2, unit_id=world.unit_id),
        )
        assert done.deadline_at is not None and done.deadline_at > uow.now
    stored = db.session.get(Case, case.id)
    assert stored is not None and stored.status == "dispatched" and stored.version > 2


def test_the_clock_comes_with_the_unit_of_work(ctx: Flask, world: World) -> None:
    case = report(world)
    dispatcher = who(world, "dispatcher", Role.DISPATCHER)
    at = db.session.get(Case, case.id).reported_at + timedelta(minutes=5)  # type: ignore[union-attr]
    with unit_of_work(at) as uow:
        cases.act(uow, dispatcher, case.id, "accept", cases.ActionInput(version=1))
    stored = db.session.get(Case, case.id)
    assert stored is not None and stored.accepted_at == at
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.seq == 2)
    )
    assert event is not None and event.created_at == at


def _handled(world: World) -> Case:
    case = report(world)
    d, s = (
        who(world, "dispatcher", Role.DISPATCHER),
        who(world, "staff", Role.UNIT_STAFF, unit_id=world.unit_id),
    )
    steps = [
        (d, "accept", {}),
        (d, "dispatch", {"unit_id": world.unit_id}),
        (s, "acknowledge", {}),
        (s, "report_done", {"result": "已清运"}),
    ]
    for principal, action, extra in steps:
        with unit_of_work() as uow:
            version = uow.session.get(Case, case.id).version  # type: ignore[union-attr]
            cases.act(uow, principal, case.id, action, cases.ActionInput(version=version, **extra))
    return case


def test_an_offline_verification_keeps_when_it_was_done(ctx: Flask, world: World) -> None:
    case = _handled(world)
    phone = collector(world, device=None)
    with unit_of_work() as uow:
        on_site = uow.now - timedelta(hours=2)
        data = cases.OfflineActionInput(
            id="action-uc-00001",
            case_id=case.id,
            action="verify_ok",
            note="已核实",
            photos=[],
            acted_at=on_site,
        )
        assert cases.act_offline(uow, phone, data) is True
    with unit_of_work() as uow:
        assert cases.act_offline(uow, phone, data) is False  # a retry: applied once
    stored = db.session.get(Case, case.id)
    assert stored is not None and stored.status == "awaiting_rating"
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "verify_ok")
    )
    assert event is not None and event.payload["acted_at"] == on_site.isoformat()
    action = db.session.get(CaseAction, "action-uc-00001")
    assert action is not None and action.outcome == "applied"
    assert count(CaseAction) == 1


def test_only_verifications_can_be_done_offline(ctx: Flask, world: World) -> None:
    case = _handled(world)
    with pytest.raises(Invalid) as refused, unit_of_work() as uow:
        cases.act_offline(
            uow,
            collector(world),
            cases.OfflineActionInput(
                id="action-uc-00002",
                case_id=case.id,
                action="close",
                note=None,
                photos=[],
                acted_at=uow.now,
            ),
        )
    assert refused.value.code == "action_not_allowed"
    assert count(CaseAction) == 0


def test_a_collectors_note_is_theirs_only(ctx: Flask, world: World) -> None:
    case = report(world)
    with unit_of_work() as uow:
        assert cases.set_collector_note(uow, collector(world), case.id, "住户不在家") is True
        assert cases.set_collector_note(uow, collector(world), case.id, "住户不在家") is False
    with pytest.raises(DomainError), unit_of_work() as uow:
        cases.set_collector_note(uow, who(world, "dispatcher", Role.DISPATCHER), case.id, "x")
    stored = db.session.get(Case, case.id)
    assert stored is not None and stored.collector_note == "住户不在家"


# ---------------------------------------------------------------------- patrols


def test_a_refused_end_undoes_the_patrols_start_in_the_same_unit_of_work(
    ctx: Flask, world: World
) -> None:
    phone = collector(world)
    with pytest.raises(Invalid) as refused, unit_of_work() as uow:
        started = uow.now - timedelta(minutes=10)
        patrols.start_patrol(
            uow, phone, grid_id=world.grid_ids["A1"], patrol_id="patrol-uc-0001", started_at=started
        )
        patrols.end_patrol(uow, phone, "patrol-uc-0001", ended_at=started - timedelta(minutes=5))
    assert refused.value.field == "ended_at"
    assert count(Patrol) == 0  # nothing committed: the start is gone with the end


def test_a_log_edit_checks_new_photos_and_ownership(ctx: Flask, world: World) -> None:
    phone = collector(world)
    with unit_of_work() as uow:
        _log, created = patrols.create_log(
            uow, phone, patrols.LogInput(text="路灯不亮", lon=A1[0], lat=A1[1], id="log-uc-000001")
        )
        assert created
    with unit_of_work() as uow:
        assert patrols.edit_log(uow, phone, "log-uc-000001", text=" 路灯已亮 ", photos=[]) is True
        assert patrols.edit_log(uow, phone, "log-uc-000001", text="路灯已亮", photos=[]) is False
    with pytest.raises(DomainError) as unknown, unit_of_work() as uow:
        patrols.edit_log(uow, phone, "log-uc-000001", text="路灯已亮", photos=["ab" * 32])
    assert unknown.value.code == "unknown_attachment"
    other = who(world, "collector2", Role.COLLECTOR, grid_ids=frozenset({world.grid_ids["B1"]}))
    with pytest.raises(DomainError) as not_theirs, unit_of_work() as uow:
        patrols.edit_log(uow, other, "log-uc-000001", text="改掉", photos=[])
    assert not_theirs.value.status == 404
    stored = db.session.get(PatrolLog, "log-uc-000001")
    assert stored is not None and (stored.text, stored.photos) == ("路灯已亮", [])


# ---------------------------------------------------------------------- the unit of work


def test_an_inner_unit_of_work_joins_the_outer_one(ctx: Flask, world: World) -> None:
    with pytest.raises(RuntimeError), unit_of_work():
        report(world)  # its own `with unit_of_work()` joins: no commit of its own
        raise RuntimeError("the outer work fails")
    assert count(Case) == 0


def test_after_commit_work_waits_for_the_outermost_commit(ctx: Flask, world: World) -> None:
    with unit_of_work() as uow:
        uow.after_commit("minqing.health.ping")
        with uow.savepoint():
            uow.after_commit("minqing.health.ping")
        assert outbox.pending(uow.session) == 2  # a released savepoint sends nothing
        with pytest.raises(ValueError), uow.savepoint():
            uow.after_commit("minqing.health.ping")
            assert outbox.pending(uow.session) == 3
            raise ValueError("this record is refused")
        assert outbox.pending(uow.session) == 2  # only what the undone savepoint queued
        session = uow.session
    assert outbox.pending(session) == 0  # sent at the commit
    with pytest.raises(KeyError), unit_of_work() as uow:
        uow.after_commit("minqing.health.ping")
        raise KeyError("the whole unit of work fails")
    assert outbox.pending(db.session()) == 0  # dropped with the rollback


def test_a_lost_race_at_the_commit_is_a_stale_version(ctx: Flask, world: World) -> None:
    case = report(world)
    with pytest.raises(Conflict) as stale, unit_of_work() as uow:
        row = uow.session.get(Case, case.id)
        assert row is not None
        # another writer moves the case on meanwhile
        uow.session.execute(Case.__table__.update().where(Case.id == case.id).values(version=9))
        row.description = "改写"
    assert stale.value.code == "stale_version"
