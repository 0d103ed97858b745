"""The set-wise 民情指数 equals the per-day reference on random data, on both backends.

Random cases (every status, priorities, deadlines, handled on time or not, reworked twice in
one window), report_done events, ratings (incl. "none"), patrols with coverage, patrol slots
(done, missed, open) and topic evaluations, at random instants around local midnights, over
three weeks; then a backfill of 12 days by `compute_range` (one set-wise pass) and, for every
day, grid and community, the per-day reference (`reference_day`: the grouped queries of
`grid_inputs` + `combine_inputs` + `compute_index`) must give the same inputs and the same
published figures (score and every component, to one decimal), and the bulletins the same.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import World
from flask import Flask
from sqlalchemy import select

from server.services.uow import unit_of_work

TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 11, 8), date(2026, 11, 19)


def instant(rng: random.Random, start: date, days: int) -> datetime:
    day = start + timedelta(days=rng.randrange(days))
    if rng.random() < 0.25:  # right at or around local midnight
        t = datetime.combine(day, time(), tzinfo=TZ) + timedelta(
            seconds=rng.choice([-1, 0, 0, 1]), microseconds=rng.choice([0, 999_999, 1])
        )
    else:
        t = datetime.combine(day, time(), tzinfo=TZ) + timedelta(seconds=rng.uniform(0, 86400))
    return t.astimezone(UTC)


def fill(app: Flask, world: World, seed: int) -> None:
    from server.extensions import db
    from server.models import (
        Case,
        CaseEvent,
        Category,
        Grid,
        Patrol,
        PatrolSchedule,
        PatrolSlot,
        Rating,
        Topic,
        TopicRating,
        VotingCode,
    )

    rng = random.Random(seed)
    start = FIRST - timedelta(days=10)
    span = (LAST - start).days + 2
    with app.app_context():
        grids = db.session.execute(
            select(Grid.id, Grid.community_id, Grid.subdistrict_id).where(Grid.active.is_(True))
        ).all()
        category = db.session.scalar(select(Category.id).limit(1))
        collector = world.user_ids["collector"]
        for n in range(160):
            g = rng.choice(grids)
            reported = instant(rng, start, span)
            status = rng.choice(
                ["reported", "rejected", "merged", "dispatched", "handled", "closed", "closed"]
            )
            deadline = instant(rng, start, span) if status not in ("reported",) else None
            handled = status in ("handled", "closed")
            case = Case(
                id=uuid.uuid4().hex,
                number=f"T-{seed}-{n}",
                public_token=uuid.uuid4().hex,
                subdistrict_id=g.subdistrict_id,
                community_id=g.community_id,
                grid_id=g.id,
                category_id=category,
                priority=rng.choice(["low", "normal", "normal", "high", "urgent"]),
                source="patrol",
                status=status,
                description="随机",
                point="SRID=4326;POINT(119.43 32.39)",
                lon=119.43,
                lat=32.39,
                reporter_role="collector",
                reported_at=reported,
                deadline_at=deadline,
                handled_on_time=rng.choice([True, False]) if handled else None,
                rework_count=rng.choice([0, 0, 1, 2]) if handled else 0,
                handled_at=instant(rng, start, span) if handled else None,
                closed_at=instant(rng, start, span) if status == "closed" else None,
            )
            db.session.add(case)
            seq = 1
            if handled:
                for _ in range(rng.choice([1, 1, 2, 3])):  # several report_done, some close
                    db.session.add(
                        CaseEvent(
                            case_id=case.id,
                            seq=seq,
                            action="report_done",
                            to_status="handled",
                            actor_role="staff",
                            payload={},
                            created_at=instant(rng, start, span),
                        )
                    )
                    seq += 1
            if status == "closed":
                for r in range(rng.choice([0, 1, 1, 2])):
                    db.session.add(
                        Rating(
                            case_id=case.id,
                            round=r + 1,
                            verdict=rng.choice(["satisfied", "basic", "unsatisfied", "none"]),
                            created_at=instant(rng, start, span),
                        )
                    )
        schedule = PatrolSchedule(
            collector_id=collector,
            grid_id=grids[0].id,
            times=["09:00"],
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            valid_from=start,
        )
        db.session.add(schedule)
        db.session.flush()
        for n in range(60):
            g = rng.choice(grids)
            at = instant(rng, start, span)
            patrol_id = uuid.uuid4().hex
            db.session.add(
                Patrol(
                    id=patrol_id,
                    collector_id=collector,
                    grid_id=g.id,
                    subdistrict_id=g.subdistrict_id,
                    status=rng.choice(["ended", "ended", "active"]),
                    started_at=at,
                    ended_at=at + timedelta(hours=1),
                    coverage=rng.choice([None, rng.random(), round(rng.random(), 4), 1.2]),
                )
            )
            if n % 2:
                due = instant(rng, start, span)
                db.session.add(
                    PatrolSlot(
                        schedule_id=schedule.id,
                        collector_id=collector,
                        grid_id=rng.choice(grids).id,
                        due_at=due,
                        window_end_at=due + timedelta(hours=1),
                        status=rng.choice(["done", "missed"]),
                        marked_at=due,
                    )
                )
        for c in {g.community_id: g for g in grids}.values():
            topic = Topic(
                public_token=uuid.uuid4().hex,
                subdistrict_id=c.subdistrict_id,
                community_id=c.community_id,
                title="加装电梯",
                description="随机",
                source="resident",
                status="evaluation",
            )
            db.session.add(topic)
            db.session.flush()
            for k in range(rng.randrange(4)):
                code = VotingCode(topic_id=topic.id, code_hash=uuid.uuid4().hex, batch=1)
                db.session.add(code)
                db.session.flush()
                db.session.add(
                    TopicRating(
                        topic_id=topic.id,
                        code_id=code.id,
                        verdict=rng.choice(["satisfied", "basic", "unsatisfied"]),
                        created_at=instant(rng, start - timedelta(days=400 * (k % 2)), 400),
                    )
                )
        db.session.commit()


@pytest.mark.parametrize("seed", [1, 2])
def test_setwise_equals_the_per_day_reference(app: Flask, world: World, seed: int) -> None:
    from server.domain.index import compute_index
    from server.extensions import db
    from server.models import Bulletin, Case, SentimentIndex
    from server.services.patrolling import index
    from server.services.patrolling.index import NOT_NEW

    fill(app, world, seed)
    with app.app_context(), unit_of_work() as uow:
        done = index.compute_range(uow, FIRST, LAST)
    assert [d.day for d in done] == [FIRST + timedelta(days=i) for i in range(12)]
    checked = nonzero = 0
    with app.app_context():
        wts = index.weights()
        sids = [world.subdistrict_id, world.other_subdistrict_id]
        stored = {
            (r.day, r.level, r.area_id): r for r in db.session.scalars(select(SentimentIndex))
        }
        for day in done:
            for sid in sids:
                for (level, area), want in index.reference_day(day.day, sid).items():
                    row = stored[(day.day, level, area)]
                    assert row.inputs == want.as_dict(), (day.day, level, area)
                    result = compute_index(want, wts)
                    assert row.score == result.score
                    assert row.components == result.as_dict()["components"]
                    checked += 1
                    nonzero += bool(want.new_cases or want.handled_count or want.topic_rated)
        assert len(stored) == checked
        bulletins = db.session.scalars(select(Bulletin)).all()
        cases = db.session.scalars(select(Case)).all()
    assert checked == 12 * (4 + 3) and nonzero > 20
    # each bulletin's counts, worked out naively from the cases in local time
    assert len(bulletins) == 12 * 3

    def local(t: datetime | None) -> date | None:
        return None if t is None else t.astimezone(TZ).date()

    for b in bulletins:
        mine = [c for c in cases if c.community_id == b.community_id]
        new = sum(local(c.reported_at) == b.day and c.status not in NOT_NEW for c in mine)
        closed = sum(local(c.closed_at) == b.day and c.status == "closed" for c in mine)
        overdue = sum(
            local(c.deadline_at) == b.day
            and c.status not in NOT_NEW
            and (c.handled_at is None or c.handled_at > c.deadline_at)
            for c in mine
        )
        assert b.text.endswith(f"新增事项 {new} 件，办结 {closed} 件，超期 {overdue} 件。"), b.text

    # recomputing one day by itself (the beat) gives the same rows as the backfill did
    with app.app_context():
        before = {k: (r.score, r.inputs) for k, r in stored.items() if k[0] == LAST}
    with app.app_context(), unit_of_work() as uow:
        index.compute_day(uow, LAST, publish=False)
    with app.app_context():
        after = {
            (r.day, r.level, r.area_id): (r.score, r.inputs)
            for r in db.session.scalars(select(SentimentIndex).where(SentimentIndex.day == LAST))
        }
    assert after == before
