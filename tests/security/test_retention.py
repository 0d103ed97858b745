"""Retention (PIPL): residents' names and phones leave long-ended cases; sync push receipts
and logs, old rejections, ended sessions and old rate windows are pruned — by a command and a
beat task."""

from __future__ import annotations

from datetime import timedelta

from conftest import World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import report
from phones import Phone
from sqlalchemy import text


def _hotline_case(client: FlaskClient, token: str, phone: str) -> str:
    response = report(client, token, source="hotline", reporter_name="王女士", reporter_phone=phone)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["case"]["id"])


def _end(app: Flask, case_id: str, days_ago: int, status: str = "closed") -> None:
    from server.extensions import db
    from server.models.base import utcnow

    with app.app_context():
        db.session.execute(
            text("UPDATE cases SET status = :s, closed_at = :t WHERE id = :i"),
            {"s": status, "t": utcnow() - timedelta(days=days_ago), "i": case_id},
        )
        db.session.commit()


def _reporter(app: Flask, case_id: str) -> tuple[str | None, str | None]:
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        return case.reporter_name, case.reporter_phone


def test_residents_data_leaves_long_ended_cases_only(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    old = _hotline_case(client, tokens["dispatcher"], "13800001111")
    recent = _hotline_case(client, tokens["dispatcher"], "13800002222")
    still_open = _hotline_case(client, tokens["dispatcher"], "13800003333")
    old_rejected = _hotline_case(client, tokens["dispatcher"], "13800004444")
    _end(app, old, 181)
    _end(app, recent, 100)
    _end(app, old_rejected, 200, status="rejected")
    result = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert result.exit_code == 0, result.output
    assert "residents_cleared      2" in result.output
    assert _reporter(app, old) == (None, None)
    assert _reporter(app, old_rejected) == (None, None)
    assert _reporter(app, recent) == ("王女士", "13800002222")
    assert _reporter(app, still_open) == ("王女士", "13800003333")
    # the case itself, its history and its figures stay
    case = client.get(f"/api/v1/cases/{old}", headers=bearer(tokens["dispatcher"]))
    assert case.status_code == 200 and case.get_json()["events"]
    again = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert "residents_cleared      0" in again.output


def test_old_sync_receipts_logs_and_sessions_are_pruned(
    app: Flask, client: FlaskClient, phone: Phone
) -> None:
    from server.extensions import db
    from server.models.base import utcnow
    from server.services.uow import unit_of_work
    from server.services.upkeep import retention

    phone.pull()
    assert phone.push({}).status_code == 200
    phone.pull()
    token = login(client, "dispatcher")
    client.post("/api/v1/auth/logout", headers=bearer(token))
    with app.app_context():
        old = utcnow() - timedelta(days=31)
        db.session.execute(text("UPDATE sync_pushes SET created_at = :t"), {"t": old})
        db.session.execute(text("UPDATE sync_log SET at = :t WHERE kind = 'pull'"), {"t": old})
        db.session.execute(text("UPDATE auth_sessions SET revoked_at = :t"), {"t": old})
        db.session.commit()
        kept_log = db.session.execute(
            text("SELECT count(*) FROM sync_log WHERE kind <> 'pull'")
        ).scalar()
        with unit_of_work() as uow:
            done = retention.apply(uow)
        assert done.sync_pushes_deleted >= 1
        assert done.sync_log_deleted == 2
        assert done.sessions_deleted >= 1
        assert db.session.execute(text("SELECT count(*) FROM sync_pushes")).scalar() == 0
        left = db.session.execute(text("SELECT count(*) FROM sync_log")).scalar()
        assert left == kept_log and left >= 1


def test_old_rejections_are_pruned_and_phones_drop_them(app: Flask, phone: Phone) -> None:
    from server.extensions import db
    from server.models.base import utcnow
    from server.services.uow import unit_of_work
    from server.services.upkeep import retention

    category = dict(phone.pull()["changes"]["categories"]["created"][0])
    ids: list[str] = []
    for name in ("改了", "又改了"):  # two refusals (two payloads) of a read-only table
        edited = {**category, "name_zh": name, "_status": "updated", "_changed": "name_zh"}
        changes = {"categories": {"created": [], "updated": [edited], "deleted": []}}
        assert phone.push(changes).status_code == 200
        pulled = phone.pull()["changes"]["sync_rejections"]["created"]
        assert len(pulled) == 1
        ids.append(pulled[0]["id"])
    old_id, recent_id = ids
    with app.app_context():
        db.session.execute(
            text("UPDATE sync_rejections SET created_at = :t WHERE id = :i"),
            {"t": utcnow() - timedelta(days=91), "i": old_id},
        )
        db.session.commit()
        with unit_of_work() as uow:
            done = retention.apply(uow)
        assert done.sync_rejections_deleted == 1
        left = db.session.execute(text("SELECT id FROM sync_rejections")).scalars().all()
        assert left == [recent_id]
    back = phone.pull()["changes"]["sync_rejections"]
    assert back["deleted"] == [old_id] and not back["created"] and not back["updated"]
    with app.app_context(), unit_of_work() as uow:
        assert retention.apply(uow).sync_rejections_deleted == 0


def test_retention_runs_daily_on_beat() -> None:
    from server.tasks import beat_schedule

    schedule = beat_schedule("06:00")
    assert schedule["retention-daily"]["task"] == "minqing.retention.apply"
    assert schedule["audit-roots-hourly"]["task"] == "minqing.audit.seal_days"
