"""Deliberation (五议) over HTTP: the whole path, voting codes (forged, reused, of another
topic), moderation, scope, the beat's sweep; and 阳光五务 notices on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, assert_error, ok
from sqlalchemy import func, select


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def topic_act(
    client: FlaskClient, token: str, topic: dict[str, Any], action: str, **body: Any
) -> Any:
    body.setdefault("version", topic["version"])
    return client.post(
        f"/api/v1/deliberations/{topic['id']}/actions/{action}", json=body, headers=bearer(token)
    )


def public_post(
    client: FlaskClient, path: str, body: dict[str, Any], addr: str = "127.0.0.9"
) -> Any:
    return client.post(f"/api/v1/public{path}", json=body, environ_base={"REMOTE_ADDR": addr})


def propose(
    client: FlaskClient, tokens: dict[str, str], world: World, **extra: Any
) -> dict[str, Any]:
    body = {
        "community_id": world.community_ids["A"],
        "title": "老小区停车难",
        "description": "晚上车辆停满消防通道，需要议事解决",
        "lon": A1[0],
        "lat": A1[1],
        "address": "文昌苑 3 幢",
        "proposer_name": "张三丰",
        **extra,
    }
    return ok(
        client.post("/api/v1/deliberations", json=body, headers=bearer(tokens["dispatcher"])), 201
    )


def consulting(
    client: FlaskClient, tokens: dict[str, str], world: World
) -> tuple[dict[str, Any], list[str]]:
    topic = propose(client, tokens, world)
    topic = ok(topic_act(client, tokens["dispatcher"], topic, "accept"))
    topic = ok(
        topic_act(
            client,
            tokens["dispatcher"],
            topic,
            "open_consultation",
            closes_at=iso(now() + timedelta(days=7)),
        )
    )
    codes = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/codes",
            json={"count": 5},
            headers=bearer(tokens["dispatcher"]),
        ),
        201,
    )
    return topic, codes["codes"]


def test_the_whole_five_step_path(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    disp = tokens["dispatcher"]
    # 提议: a resident proposes from the public page
    resident = ok(
        public_post(
            client,
            "/topics",
            {
                "community_id": world.community_ids["A"],
                "title": "加装电梯",
                "description": "安置小区 5 幢老人多，希望加装电梯",
                "lon": A1[0],
                "lat": A1[1],
                "proposer_name": "李四",
            },
        ),
        201,
    )
    assert resident["status"] == "proposed" and resident["source"] == "resident"
    assert resident["proposer_name"] == "李*"  # masked for the public
    assert "version" not in resident and "events" not in resident
    listed = ok(client.get("/api/v1/deliberations", headers=bearer(disp)))["items"]
    topic = next(t for t in listed if t["id"] == resident["id"])
    assert topic["proposer_name"] == "李四"
    token = topic["public_token"]
    # 合议: accepted, a council member's opinion
    member = ok(
        client.post(
            f"/api/v1/councils/{world.community_ids['A']}/members",
            json={"name": "王委员", "kind": "committee"},
            headers=bearer(disp),
        ),
        201,
    )
    topic = ok(topic_act(client, disp, topic, "accept"))
    assert topic["status"] == "reviewing"
    topic = ok(
        topic_act(
            client, disp, topic, "review_opinion", member_id=member["id"], opinion="同意提交群议"
        )
    )
    assert topic["status"] == "reviewing"
    # 群议: open, codes, views and a comment
    topic = ok(
        topic_act(
            client, disp, topic, "open_consultation", closes_at=iso(now() + timedelta(days=3))
        )
    )
    codes = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/codes", json={"count": 4}, headers=bearer(disp)
        ),
        201,
    )
    assert codes["public_url"].endswith(f"/t/{token}") and len(set(codes["codes"])) == 4
    for code, choice in zip(codes["codes"][:3], ["support", "support", "oppose"], strict=True):
        ok(public_post(client, f"/topics/{token}/views", {"code": code, "choice": choice}), 201)
    ok(
        public_post(
            client,
            f"/topics/{token}/comments",
            {"code": codes["codes"][3], "body": "支持，但要考虑一楼住户", "name": "赵六"},
        ),
        201,
    )
    page = ok(client.get(f"/api/v1/public/topics/{token}"))
    assert page["views"] == {"support": 2, "oppose": 1, "other": 0}
    assert page["comments"][0]["author"] == "赵*"
    topic = ok(client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(disp)))
    topic = ok(topic_act(client, disp, topic, "close_consultation"))
    assert topic["status"] == "deciding"
    # 决议: a meeting votes
    meeting = ok(
        client.post(
            "/api/v1/meetings",
            json={
                "community_id": world.community_ids["A"],
                "held_at": iso(now()),
                "agenda": [topic["id"]],
                "attendance": [member["id"]],
                "minutes": "会议纪要：同意加装电梯",
            },
            headers=bearer(disp),
        ),
        201,
    )
    topic = ok(
        topic_act(
            client,
            disp,
            topic,
            "decide",
            votes_for=7,
            votes_against=1,
            votes_abstain=1,
            minutes="同意加装电梯，费用按楼层分摊",
            meeting_id=meeting["id"],
        )
    )
    assert topic["status"] == "implementing" and topic["outcome"] == "adopted"
    assert topic["votes"] == {"for": 7, "against": 1, "abstain": 1}
    # 实施: a case through the normal loop
    topic = ok(
        topic_act(
            client,
            disp,
            topic,
            "dispatch_case",
            category="sanitation",
            description="5 幢加装电梯施工",
            unit_id=world.unit_id,
        )
    )
    assert [c["status"] for c in topic["cases"]] == ["dispatched"]
    refused = topic_act(client, disp, topic, "complete", closes_at=iso(now() + timedelta(days=7)))
    assert_error(refused, 422, "cases_open")
    case_number = topic["cases"][0]["number"]
    case = next(
        c
        for c in ok(client.get("/api/v1/cases", headers=bearer(disp)))["items"]
        if c["number"] == case_number
    )
    assert case["source"] == "deliberation"
    staff = tokens["staff"]
    case = ok(act(client, staff, case, "acknowledge"))
    case = ok(act(client, staff, case, "report_done", result="电梯已安装"))
    case = ok(act(client, tokens["collector"], case, "verify_ok"))
    with app.app_context():
        from server.extensions import db
        from server.models import Case
        from server.services.caseloop import residents
        from server.services.uow import unit_of_work

        public_token = db.session.scalar(
            select(Case.public_token).where(Case.number == case_number)
        )
        with unit_of_work() as uow:
            residents.rate(uow, public_token, "satisfied", None)
    topic = ok(client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(disp)))
    assert topic["cases"][0]["status"] == "closed"
    topic = ok(topic_act(client, disp, topic, "complete", closes_at=iso(now() + timedelta(days=7))))
    assert topic["status"] == "evaluating"
    # 评议: residents rate with their codes (a code used for a view rates once more)
    for code, verdict in zip(codes["codes"][:3], ["satisfied", "satisfied", "basic"], strict=True):
        ok(
            public_post(client, f"/topics/{token}/evaluation", {"code": code, "verdict": verdict}),
            201,
        )
    page = ok(client.get(f"/api/v1/public/topics/{token}"))
    assert page["evaluation"]["counts"] == {"satisfied": 2, "basic": 1, "unsatisfied": 0}
    assert page["evaluation"]["score"] == pytest.approx(86.7)
    topic = ok(topic_act(client, disp, topic, "close"))
    assert topic["status"] == "closed"
    actions = [e["action"] for e in topic["events"]]
    assert actions == [
        "propose",
        "accept",
        "review_opinion",
        "open_consultation",
        "codes_generated",
        "close_consultation",
        "decide",
        "dispatch_case",
        "complete",
        "close",
    ]
    assert [e["seq"] for e in topic["events"]] == list(range(1, 11))
    assert topic["events"][0]["actor_role"] == "resident"


def test_forged_reused_and_foreign_codes_are_refused(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic, codes = consulting(client, tokens, world)
    other, other_codes = consulting(client, tokens, world)
    token = topic["public_token"]
    ok(public_post(client, f"/topics/{token}/views", {"code": codes[0], "choice": "support"}), 201)
    # reused, even written differently
    again = codes[0].lower()[:5] + "-" + codes[0].lower()[5:]
    assert_error(
        public_post(client, f"/topics/{token}/views", {"code": again, "choice": "oppose"}),
        409,
        "code_used",
    )
    # forged: well-formed but unknown, malformed, and a code of another topic
    assert_error(
        public_post(client, f"/topics/{token}/views", {"code": "ABCDEFGH23", "choice": "support"}),
        403,
        "invalid_code",
    )
    assert_error(
        public_post(client, f"/topics/{token}/views", {"code": "0000", "choice": "support"}),
        403,
        "invalid_code",
    )
    assert_error(
        public_post(
            client, f"/topics/{token}/views", {"code": other_codes[0], "choice": "support"}
        ),
        403,
        "invalid_code",
    )
    assert_error(
        public_post(client, f"/topics/{token}/comments", {"code": "ABCDEFGH23", "body": "伪造"}),
        403,
        "invalid_code",
    )
    page = ok(client.get(f"/api/v1/public/topics/{token}"))
    assert page["views"] == {"support": 1, "oppose": 0, "other": 0}
    # a view outside consultation, an evaluation before the evaluation stage
    assert_error(
        public_post(client, f"/topics/{token}/evaluation", {"code": codes[1], "verdict": "basic"}),
        409,
        "illegal_transition",
    )
    with app.app_context():
        from server.extensions import db
        from server.models import TopicRating, TopicView, VotingCode

        assert db.session.scalar(select(func.count()).select_from(TopicView)) == 1
        assert db.session.scalar(select(func.count()).select_from(TopicRating)) == 0
        stored = set(db.session.scalars(select(VotingCode.code_hash)))
        assert not set(codes) & stored  # only hashes are kept
    assert other["id"] != topic["id"]


def test_moderation_hides_never_deletes(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic, codes = consulting(client, tokens, world)
    token = topic["public_token"]
    c = ok(
        public_post(
            client,
            f"/topics/{token}/comments",
            {"code": codes[0], "body": "某某是骗子 13800001111"},
        ),
        201,
    )
    hidden = ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/comments/{c['id']}/hide",
            json={"reason": "含个人信息"},
            headers=bearer(tokens["dispatcher"]),
        )
    )
    assert hidden["comments"][0]["hidden"] and hidden["comments"][0]["body"].startswith("某某")
    page = ok(client.get(f"/api/v1/public/topics/{token}"))
    assert page["comments"] == []
    assert "hide_comment" in [e["action"] for e in hidden["events"]]
    # other subdistricts and other roles may not moderate
    r = client.post(
        f"/api/v1/deliberations/{topic['id']}/comments/{c['id']}/hide",
        json={"reason": "x"},
        headers=bearer(tokens["dispatcher2"]),
    )
    assert_error(r, 404, "not_found")
    r = client.post(
        f"/api/v1/deliberations/{topic['id']}/comments/{c['id']}/hide",
        json={"reason": "x"},
        headers=bearer(tokens["collector"]),
    )
    assert r.status_code == 403
    with app.app_context():
        from server.extensions import db
        from server.models import TopicComment

        row = db.session.scalar(select(TopicComment))
        assert row is not None and row.hidden_reason == "含个人信息"


def test_refused_edges_and_scope(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    disp = tokens["dispatcher"]
    topic = propose(client, tokens, world)
    assert_error(
        topic_act(
            client,
            disp,
            topic,
            "decide",
            votes_for=1,
            votes_against=0,
            votes_abstain=0,
            minutes="x",
        ),
        409,
        "illegal_transition",
    )
    assert_error(topic_act(client, disp, topic, "fly"), 404, "unknown_action")
    assert_error(topic_act(client, disp, topic, "view"), 404, "unknown_action")
    assert_error(topic_act(client, disp, topic, "decline"), 422, "validation_error", "reason")
    assert_error(topic_act(client, disp, topic, "accept", version=99), 409, "stale_version")
    assert_error(topic_act(client, tokens["dispatcher2"], topic, "accept"), 404, "not_found")
    assert (
        client.get(
            f"/api/v1/deliberations/{topic['id']}", headers=bearer(tokens["collector"])
        ).status_code
        == 403
    )
    accepted = ok(topic_act(client, disp, topic, "accept"))
    assert_error(
        topic_act(
            client, disp, accepted, "open_consultation", closes_at=iso(now() + timedelta(hours=2))
        ),
        422,
        "invalid_period",
        "closes_at",
    )
    # declined: a final state
    second = propose(client, tokens, world)
    declined = ok(topic_act(client, disp, second, "decline", reason="属于物业职责，转事项办理"))
    assert declined["status"] == "declined" and declined["allowed_actions"] == []
    assert_error(topic_act(client, disp, declined, "accept"), 409, "illegal_transition")
    # a vote that is not a majority closes the topic
    third = ok(topic_act(client, disp, propose(client, tokens, world), "accept"))
    third = ok(
        topic_act(
            client, disp, third, "open_consultation", closes_at=iso(now() + timedelta(days=2))
        )
    )
    third = ok(topic_act(client, disp, third, "close_consultation"))
    assert_error(
        topic_act(
            client,
            disp,
            third,
            "decide",
            votes_for=0,
            votes_against=0,
            votes_abstain=0,
            minutes="x",
        ),
        422,
        "invalid_votes",
    )
    third = ok(
        topic_act(
            client,
            disp,
            third,
            "decide",
            votes_for=2,
            votes_against=2,
            votes_abstain=0,
            minutes="未过半数",
        )
    )
    assert third["status"] == "closed" and third["outcome"] == "not_adopted"


def test_who_may_propose_where(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    body = {"community_id": world.community_ids["A"], "title": "t", "description": "d"}
    r = client.post("/api/v1/deliberations", json=body, headers=bearer(tokens["collector"]))
    assert ok(r, 201)["source"] == "collector"
    r = client.post(
        "/api/v1/deliberations",
        json={**body, "community_id": world.community_ids["B"]},
        headers=bearer(tokens["collector"]),
    )
    assert_error(r, 403, "forbidden")
    r = client.post("/api/v1/deliberations", json=body, headers=bearer(tokens["admin"]))
    assert ok(r, 201)["source"] == "admin"
    r = client.post("/api/v1/deliberations", json=body, headers=bearer(tokens["staff"]))
    assert r.status_code == 403
    r = client.post("/api/v1/deliberations", json=body, headers=bearer(tokens["dispatcher2"]))
    assert_error(r, 404, "not_found", "community_id")
    r = public_post(client, "/topics", {**body, "case_ids": ["x"]})
    assert r.status_code == 422  # residents link no cases
    # from a case: source case, the case linked as origin
    case = ok(
        client.post(
            "/api/v1/cases",
            json={"category": "sanitation", "description": "停车", "lon": A1[0], "lat": A1[1]},
            headers=bearer(tokens["collector"]),
        ),
        201,
    )["case"]
    topic = ok(
        client.post(
            "/api/v1/deliberations",
            json={**body, "case_ids": [case["id"]]},
            headers=bearer(tokens["dispatcher"]),
        ),
        201,
    )
    assert topic["source"] == "case" and topic["cases"] == [
        {"number": case["number"], "status": "reported", "role": "origin"}
    ]
    r = client.post(
        "/api/v1/deliberations",
        json={**body, "community_id": world.community_ids["B"], "case_ids": [case["id"]]},
        headers=bearer(tokens["dispatcher"]),
    )
    assert_error(r, 422, "case_elsewhere")


def test_the_sweep_closes_periods_that_ended(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic, _ = consulting(client, tokens, world)
    with app.app_context():
        from server.services.civic import deliberation
        from server.services.uow import unit_of_work

        with unit_of_work(now() + timedelta(days=6)) as uow:
            assert deliberation.close_due_periods(uow) == 0
        with unit_of_work(now() + timedelta(days=7, minutes=1)) as uow:
            assert deliberation.close_due_periods(uow) == 1
    topic = ok(
        client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(tokens["dispatcher"]))
    )
    assert topic["status"] == "deciding"
    assert topic["events"][-1]["actor_role"] == "system"


def test_public_topic_writes_are_rate_limited(client: FlaskClient, world: World) -> None:
    body = {"community_id": world.community_ids["A"], "title": "t", "description": "d"}
    for _ in range(5):
        ok(public_post(client, "/topics", body, addr="127.0.0.77"), 201)
    assert_error(public_post(client, "/topics", body, addr="127.0.0.77"), 429, "too_many_requests")


# ---------------------------------------------------------------------------------- notices


def publish(
    client: FlaskClient, token: str, world: World, start: datetime, end: datetime, **extra: Any
) -> Any:
    body = {
        "community_id": world.community_ids["A"],
        "category": "finance",
        "title": "2026 年第三季度财务公开",
        "body": "收入 12 万元，支出 9 万元",
        "published_from": iso(start),
        "published_until": iso(end),
        **extra,
    }
    return client.post("/api/v1/notices", json=body, headers=bearer(token))


def test_notices_are_published_and_expire_on_time(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    disp = tokens["dispatcher"]
    t = now()
    current = ok(publish(client, disp, world, t - timedelta(days=1), t + timedelta(days=1)), 201)
    assert current["category_zh"] == "财务" and current["published"]
    future = ok(
        publish(
            client, disp, world, t + timedelta(days=1), t + timedelta(days=2), category="party"
        ),
        201,
    )
    past = ok(publish(client, disp, world, t - timedelta(days=3), t - timedelta(seconds=1)), 201)
    listed = ok(client.get("/api/v1/public/notices"))["items"]
    assert [n["id"] for n in listed] == [current["id"]]
    assert client.get(f"/api/v1/public/notices/{future['id']}").status_code == 404
    assert client.get(f"/api/v1/public/notices/{past['id']}").status_code == 404
    assert ok(client.get("/api/v1/public/notices?category=party"))["items"] == []
    assert len(ok(client.get("/api/v1/notices", headers=bearer(disp)))["items"]) == 3
    assert ok(client.get("/api/v1/notices", headers=bearer(tokens["dispatcher2"])))["items"] == []
    assert_error(
        publish(client, disp, world, t, t - timedelta(hours=1)),
        422,
        "invalid_period",
        "published_until",
    )
    assert publish(client, tokens["collector"], world, t, t + timedelta(days=1)).status_code == 403
    # the boundaries, with the clock of the unit of work
    with app.app_context():
        from server.services.civic import notices
        from server.services.uow import unit_of_work

        start = datetime.fromisoformat(future["published_from"])
        end = datetime.fromisoformat(future["published_until"])
        for moment, shown in [
            (start - timedelta(seconds=1), False),
            (start, True),
            (end - timedelta(seconds=1), True),
            (end, False),
        ]:
            with unit_of_work(moment) as uow:
                ids = [n.id for n in notices.published(uow)]
            assert (future["id"] in ids) is shown, moment
    # withdrawn: off the board at once, kept for staff
    ok(
        client.post(
            f"/api/v1/notices/{current['id']}/withdraw",
            json={"reason": "数据有误，更正后重新公示"},
            headers=bearer(disp),
        )
    )
    assert ok(client.get("/api/v1/public/notices"))["items"] == []
    assert ok(client.get(f"/api/v1/notices/{current['id']}", headers=bearer(disp)))[
        "withdrawn_reason"
    ].startswith("数据")


def test_questions_are_answered_publicly(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    disp = tokens["dispatcher"]
    t = now()
    notice = ok(publish(client, disp, world, t - timedelta(hours=1), t + timedelta(days=5)), 201)
    r = public_post(
        client, f"/notices/{notice['id']}/questions", {"body": "支出明细在哪里看？", "name": "钱七"}
    )
    assert r.status_code == 202
    ok(public_post(client, f"/notices/{notice['id']}/questions", {"body": "广告内容"}), 202)
    assert (
        ok(client.get(f"/api/v1/public/notices/{notice['id']}"))["questions"] == []
    )  # not yet answered
    staff_view = ok(client.get(f"/api/v1/notices/{notice['id']}", headers=bearer(disp)))
    first, spam = staff_view["questions"]
    assert first["asker"] == "钱七"
    ok(
        client.post(
            f"/api/v1/notices/questions/{first['id']}/answer",
            json={"answer": "见附件二"},
            headers=bearer(disp),
        )
    )
    assert_error(
        client.post(
            f"/api/v1/notices/questions/{first['id']}/answer",
            json={"answer": "again"},
            headers=bearer(disp),
        ),
        409,
        "already_answered",
    )
    ok(
        client.post(
            f"/api/v1/notices/questions/{spam['id']}/hide",
            json={"reason": "广告"},
            headers=bearer(disp),
        )
    )
    assert_error(
        client.post(
            f"/api/v1/notices/questions/{first['id']}/answer",
            json={"answer": "x"},
            headers=bearer(tokens["dispatcher2"]),
        ),
        404,
        "not_found",
    )
    public = ok(client.get(f"/api/v1/public/notices/{notice['id']}"))["questions"]
    assert [(q["body"], q["asker"], q["answer"]) for q in public] == [
        ("支出明细在哪里看？", "钱*", "见附件二")
    ]
    expired = ok(publish(client, disp, world, t - timedelta(days=2), t - timedelta(days=1)), 201)
    assert_error(
        public_post(client, f"/notices/{expired['id']}/questions", {"body": "?"}), 404, "not_found"
    )


def test_stages_past_due_remind_the_dispatchers_once(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic = propose(client, tokens, world)  # proposed: due in 7 days
    with app.app_context():
        from server.extensions import db
        from server.models import Notification
        from server.services.civic import deliberation
        from server.services.uow import unit_of_work

        with unit_of_work(now() + timedelta(days=6)) as uow:
            assert deliberation.remind_due_stages(uow) == 0
        for _ in range(2):
            with unit_of_work(now() + timedelta(days=8)) as uow:
                deliberation.remind_due_stages(uow)
        rows = db.session.scalars(
            select(Notification).where(Notification.event == "topic.stage_due")
        ).all()
        assert [r.user_id for r in rows] == [world.user_ids["dispatcher"]]
        assert "老小区停车难" in rows[0].title
    # a new stage may be reminded again
    topic = ok(
        client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(tokens["dispatcher"]))
    )
    ok(topic_act(client, tokens["dispatcher"], topic, "accept"))
    with app.app_context(), unit_of_work(now() + timedelta(days=15)) as uow:
        assert deliberation.remind_due_stages(uow) == 1


@pytest.mark.worker
def test_the_deliberation_sweep_runs_on_a_real_worker(
    app: Flask, client: FlaskClient, worker: Any, world: World, tokens: dict[str, str]
) -> None:
    topic, _ = consulting(client, tokens, world)
    with app.app_context():
        from server.extensions import db
        from server.models import Topic

        row = db.session.get(Topic, topic["id"])
        assert row is not None
        row.closes_at = now() - timedelta(minutes=1)
        db.session.commit()
    result = app.extensions["celery"].send_task("minqing.deliberation.sweep", queue=worker.queue)
    assert result.get(timeout=60)["closed"] == 1
    topic = ok(
        client.get(f"/api/v1/deliberations/{topic['id']}", headers=bearer(tokens["dispatcher"]))
    )
    assert topic["status"] == "deciding"


def test_files_on_topics_and_minutes_through_the_api(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    import hashlib
    from io import BytesIO

    from PIL import Image

    disp = tokens["dispatcher"]
    topic = propose(client, tokens, world)
    out = BytesIO()
    Image.new("RGB", (30, 20), (5, 100, 5)).save(out, format="JPEG")
    photo = out.getvalue()
    pdf = b"%PDF-1.7\n%%EOF\n"

    def upload(path: str, data: bytes, name: str, token: str = disp) -> Any:
        return client.post(
            path,
            data={"file": (BytesIO(data), name)},
            headers=bearer(token),
            content_type="multipart/form-data",
        )

    shown = ok(upload(f"/api/v1/deliberations/{topic['id']}/files", photo, "a.jpg"), 201)
    shown = ok(upload(f"/api/v1/deliberations/{topic['id']}/files", pdf, "b.pdf"), 201)
    shas = [hashlib.sha256(photo).hexdigest(), hashlib.sha256(pdf).hexdigest()]
    assert shown["photos"] == shas and shown["events"][-1]["action"] == "attach"
    assert_error(
        upload(f"/api/v1/deliberations/{topic['id']}/files", b"%PDF-no end", "c.pdf"),
        415,
        "unsupported_media_type",
    )
    assert (
        upload(
            f"/api/v1/deliberations/{topic['id']}/files", photo, "a.jpg", tokens["collector"]
        ).status_code
        == 403
    )
    got = client.get(f"/api/v1/deliberations/{topic['id']}/files/{shas[1]}", headers=bearer(disp))
    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data == pdf
    other = client.get(
        f"/api/v1/deliberations/{topic['id']}/files/{shas[1]}",
        headers=bearer(tokens["dispatcher2"]),
    )
    assert other.status_code == 404
    meeting = ok(
        client.post(
            "/api/v1/meetings",
            json={
                "community_id": world.community_ids["A"],
                "held_at": iso(now()),
                "agenda": [topic["id"]],
                "minutes": "纪要",
            },
            headers=bearer(disp),
        ),
        201,
    )
    minutes = b"%PDF-1.4\nminutes\n%%EOF\n"
    stored = ok(upload(f"/api/v1/meetings/{meeting['id']}/files", minutes, "m.pdf"), 201)
    assert stored["attachments"] == [hashlib.sha256(minutes).hexdigest()]
    got = client.get(
        f"/api/v1/deliberations/{topic['id']}/files/{stored['attachments'][0]}",
        headers=bearer(disp),
    )
    assert got.status_code == 200


def test_suggested_cases_through_the_api(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from helpers import new_case

    cases = [new_case(client, tokens, description=f"井盖松动 {i}") for i in range(3)]
    found = ok(
        client.get("/api/v1/deliberations/suggestions", headers=bearer(tokens["dispatcher"]))
    )
    (group,) = [s for s in found if s["reason"] == "recurring"]
    assert sorted(c["number"] for c in group["cases"]) == sorted(c["number"] for c in cases)
    assert group["community_id"] == world.community_ids["A"]
    elsewhere = ok(
        client.get("/api/v1/deliberations/suggestions", headers=bearer(tokens["dispatcher2"]))
    )
    assert elsewhere == []
    assert (
        client.get(
            "/api/v1/deliberations/suggestions", headers=bearer(tokens["collector"])
        ).status_code
        == 403
    )
    propose(client, tokens, world, case_ids=[c["id"] for c in cases])
    after = ok(
        client.get("/api/v1/deliberations/suggestions", headers=bearer(tokens["dispatcher"]))
    )
    assert [s for s in after if s["reason"] == "recurring"] == []
