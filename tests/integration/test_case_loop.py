"""One case through every stage on a real worker; residents' ratings; the sweeps."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from conftest import Worker, World, bearer, wait_for
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, act, assert_error, dispatched, new_case, ok, report
from PIL import Image
from sqlalchemy import select


def sweep_at(sweep: Any, now: Any = None) -> int:
    """Run a sweep in its own unit of work, at `now` (default: the clock)."""
    from server.services.uow import unit_of_work

    with unit_of_work(now) as uow:
        return int(sweep(uow))


def upload_photo(client: FlaskClient, token: str, colour: str = "red") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    response = client.post(
        "/api/v1/attachments",
        headers=bearer(token),
        data={"file": (io.BytesIO(buffer.getvalue()), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return str(response.get_json()["sha256"])


def rate(client: FlaskClient, token: str, verdict: str, comment: str | None = None) -> Any:
    body = {"verdict": verdict} | ({"comment": comment} if comment else {})
    return client.post(f"/api/v1/public/cases/{token}/rating", json=body)


@pytest.mark.worker
def test_one_case_through_every_stage_on_a_real_worker(
    app: Flask, client: FlaskClient, worker: Worker, world: World, tokens: dict[str, str]
) -> None:
    from geo.crs import from_wgs84
    from server.extensions import db
    from server.models import Attachment, Notification

    d, s, c = tokens["dispatcher"], tokens["staff"], tokens["collector"]
    lon, lat = from_wgs84(*A1, "gcj02")
    reported = ok(report(client, c, at=(lon, lat), crs="gcj02"), 201)
    case, link = reported["case"], reported["public_token"]
    assert case["grid"]["code"] == world.grid_codes["A1"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    photo = upload_photo(client, s, "green")
    case = ok(act(client, s, case, "report_done", result="已清运", photos=[photo]))
    case = ok(act(client, c, case, "verify_fail", reason="仍有垃圾"))
    assert case["status"] == "dispatched" and case["rework_count"] == 1
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="已彻底清运", photos=[photo]))
    case = ok(act(client, c, case, "verify_ok"))
    assert case["status"] == "awaiting_rating"
    reopened = ok(rate(client, link, "unsatisfied", "气味仍在"), 201)
    assert reopened["status"] == "reopened" and not reopened["can_rate"]
    case = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(d)))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    case = ok(act(client, s, case, "report_done", result="已消杀除味"))
    case = ok(act(client, c, case, "verify_ok"))
    closed = ok(rate(client, link, "satisfied"), 201)
    assert closed["status"] == "closed" and closed["rating"] == "satisfied"

    detail = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(d)))
    story = [(e["action"], e["from_status"], e["to_status"]) for e in detail["events"]]
    assert story == [
        ("report", None, "reported"),
        ("accept", "reported", "accepted"),
        ("dispatch", "accepted", "dispatched"),
        ("acknowledge", "dispatched", "in_progress"),
        ("report_done", "in_progress", "handled"),
        ("verify_fail", "handled", "dispatched"),
        ("acknowledge", "dispatched", "in_progress"),
        ("report_done", "in_progress", "handled"),
        ("verify_ok", "handled", "awaiting_rating"),
        ("rate", "awaiting_rating", "reopened"),
        ("dispatch", "reopened", "dispatched"),
        ("acknowledge", "dispatched", "in_progress"),
        ("report_done", "in_progress", "handled"),
        ("verify_ok", "handled", "awaiting_rating"),
        ("rate", "awaiting_rating", "closed"),
    ]
    assert [e["seq"] for e in detail["events"]] == list(range(1, 16))
    assert detail["events"][9]["actor_role"] == "resident"
    assert detail["rework_count"] == 1
    assert {p["role"] for p in detail["photos"]} == {"result"}
    # the worker did the after-commit work: the thumbnail of the result photo
    with app.app_context():
        wait_for(
            lambda: db.session.get(Attachment, photo).thumbnail_ready or db.session.expire_all()
        )
        inbox = db.session.scalars(
            select(Notification.event).where(Notification.user_id == world.user_ids["dispatcher"])
        ).all()
    assert "case.reported" in inbox and "case.closed" in inbox
    # the resident cannot rate twice
    assert_error(rate(client, link, "satisfied"), 409, "already_rated")


def test_resident_view_is_masked_and_plain(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    body = ok(
        report(client, tokens["dispatcher"], reporter_phone="13912345678", reporter_name="王五"),
        201,
    )
    view = ok(client.get(f"/api/v1/public/cases/{body['public_token']}"))
    assert view["reporter_phone"] == "139****5678"
    assert "王五" not in str(view)
    assert view["timeline"][0]["text_zh"] == "您反映的问题已登记"
    assert view["can_rate"] is False
    assert_error(rate(client, body["public_token"], "satisfied"), 409, "not_awaiting_rating")
    assert_error(client.get("/api/v1/public/cases/not-a-real-token"), 404, "not_found")
    assert_error(rate(client, body["public_token"], "great"), 422, "validation_error", "verdict")


def _to_awaiting(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    case = ok(act(client, tokens["staff"], dispatched(client, tokens, world), "acknowledge"))
    case = ok(act(client, tokens["staff"], case, "report_done", result="done"))
    return ok(act(client, tokens["collector"], case, "verify_ok"))


def test_rating_timeout_closes_with_none(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import Case, Rating
    from server.models.base import utcnow
    from server.services.caseloop import sweeps

    case = _to_awaiting(client, tokens, world)
    with app.app_context():
        assert sweep_at(sweeps.close_unrated) == 0  # not yet
        later = utcnow() + timedelta(days=app.config["RATING_TIMEOUT_DAYS"], minutes=1)
        assert sweep_at(sweeps.close_unrated, later) == 1
        assert sweep_at(sweeps.close_unrated, later) == 0  # idempotent
        row = db.session.get(Case, case["id"])
        assert row is not None and row.status == "closed" and row.rating == "none"
        verdicts = db.session.scalars(
            select(Rating.verdict).where(Rating.case_id == case["id"])
        ).all()
        assert verdicts == ["none"]


def test_overdue_and_escalation_sweeps_are_idempotent(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import Case, CaseEvent
    from server.services.caseloop import sweeps

    case = dispatched(client, tokens, world)
    with app.app_context():
        row = db.session.get(Case, case["id"])
        assert row is not None and row.deadline_at is not None
        after = row.deadline_at + timedelta(minutes=1)
        assert sweep_at(sweeps.mark_overdue, after) == 1
        assert sweep_at(sweeps.mark_overdue, after) == 0
        much_later = row.deadline_at + timedelta(hours=app.config["ESCALATE_AFTER_HOURS"] + 1)
        assert sweep_at(sweeps.escalate, after) == 0
        assert sweep_at(sweeps.escalate, much_later) == 1
        assert sweep_at(sweeps.escalate, much_later) == 0
        actions = db.session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id == case["id"]).order_by(CaseEvent.seq)
        ).all()
    assert actions == ["report", "accept", "dispatch", "overdue", "escalate"]
    body = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["dispatcher"])))
    assert body["overdue"] is True and body["escalated_at"]
    assert (
        ok(client.get("/api/v1/cases/counts", headers=bearer(tokens["dispatcher"])))["overdue"] == 1
    )


@pytest.mark.worker
def test_overdue_sweep_on_the_worker_marks_once(
    app: Flask, client: FlaskClient, worker: Worker, world: World, tokens: dict[str, str]
) -> None:
    from server.extensions import db
    from server.models import Case, CaseEvent
    from server.models.base import utcnow

    case = dispatched(client, tokens, world)
    with app.app_context():
        row = db.session.get(Case, case["id"])
        assert row is not None
        row.deadline_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
    celery = app.extensions["celery"]
    for _ in range(2):
        result = celery.send_task("minqing.cases.sweep_overdue", queue=worker.queue)
        result.get(timeout=60)
    with app.app_context():
        overdue_events = db.session.scalars(
            select(CaseEvent.id).where(
                CaseEvent.case_id == case["id"], CaseEvent.action == "overdue"
            )
        ).all()
    assert len(overdue_events) == 1


def test_kpis_count_by_hand(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    """Five cases, worked out by hand:
    c1 rejected; c2 accepted, never dispatched; c3 dispatched, sent back once, redispatched,
    handled on time, verified, rated 满意 → closed; c4 dispatched and overdue, unhandled;
    c5 dispatched, handled, verify_fail (rework), handled again on time, awaiting rating.
    立案率 = accepted 4 / decided 5; 准确派遣率 = dispatched w/o send-back 2 / dispatched 3;
    应结案数 = handled (c3, c5) + overdue-unhandled (c4) = 3; 按期处置率 = 2/3;
    结案率 = closed 1/3; 按期结案率 = 1/3; 返工率 = 1 (c5) / handled 2; 满意率 = 1/1."""
    from server.extensions import db
    from server.models import Case
    from server.models.base import utcnow

    d, s, c = tokens["dispatcher"], tokens["staff"], tokens["collector"]
    c1 = new_case(client, tokens)
    ok(act(client, d, c1, "reject", reason="重复上报"))
    c2 = new_case(client, tokens)
    ok(act(client, d, c2, "accept"))
    c3 = dispatched(client, tokens, world)
    c3 = ok(act(client, s, c3, "send_back", reason="非本单位"))
    c3 = ok(act(client, d, c3, "dispatch", unit_id=world.unit_id))
    c3 = ok(act(client, s, c3, "acknowledge"))
    c3 = ok(act(client, s, c3, "report_done", result="ok"))
    c3 = ok(act(client, c, c3, "verify_ok"))
    link = ok(client.get(f"/api/v1/cases/{c3['id']}", headers=bearer(d)))["public_token"]
    ok(rate(client, link, "satisfied"), 201)
    c4 = dispatched(client, tokens, world)
    c5 = ok(act(client, s, dispatched(client, tokens, world), "acknowledge"))
    c5 = ok(act(client, s, c5, "report_done", result="ok"))
    c5 = ok(act(client, c, c5, "verify_fail", reason="no"))
    c5 = ok(act(client, s, c5, "acknowledge"))
    c5 = ok(act(client, s, c5, "report_done", result="ok"))
    c5 = ok(act(client, c, c5, "verify_ok"))
    with app.app_context():
        row = db.session.get(Case, c4["id"])
        assert row is not None
        row.deadline_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    k = ok(client.get("/api/v1/stats/kpis", headers=bearer(d)))

    def ratio(name: str) -> tuple[int, int]:
        return k[name]["numerator"], k[name]["denominator"]

    assert ratio("filing_rate") == (4, 5)
    assert ratio("dispatch_accuracy") == (2, 3)
    assert k["due_count"]["value"] == 3
    assert ratio("handled_on_time_rate") == (2, 3)
    assert ratio("closure_rate") == (1, 3)
    assert ratio("closed_on_time_rate") == (1, 3)
    assert ratio("rework_rate") == (1, 2)
    assert ratio("satisfaction_rate") == (1, 1)
    assert k["filing_rate"]["label_zh"] == "立案率"
    # the other subdistrict sees none of it
    other = ok(client.get("/api/v1/stats/kpis", headers=bearer(tokens["dispatcher2"])))
    assert other["reported"]["value"] == 0
