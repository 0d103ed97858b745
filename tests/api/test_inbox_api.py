"""The inbox: publish() writes notifications; each user reads and marks only their own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error
from sqlalchemy import func, select

from server.services.uow import unit_of_work

REPORTER_NAME = "王小明"
REPORTER_PHONE = "13912345678"


def insert_case(app: Flask, world: World, grid: str = "A1", **fields: Any) -> str:
    """A case row written directly (the case services are tested elsewhere); its id."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from server.extensions import db
    from server.models import Case, Category, Grid

    with app.app_context():
        g = db.session.get(Grid, world.grid_ids[grid])
        assert g is not None
        category = db.session.scalar(select(Category).where(Category.code == "sanitation"))
        assert category is not None
        case_id = uuid.uuid4().hex
        values: dict[str, Any] = {
            "id": case_id,
            "number": f"QJ-20261126-{uuid.uuid4().int % 10000:04d}",
            "public_token": uuid.uuid4().hex,
            "subdistrict_id": g.subdistrict_id,
            "community_id": g.community_id,
            "grid_id": g.id,
            "category_id": category.id,
            "priority": "normal",
            "source": "resident",
            "status": "reported",
            "description": f"楼道堆放杂物，联系人{REPORTER_NAME} {REPORTER_PHONE}",
            "address": "文昌路 1 号",
            "point": from_shape(Point(119.4325, 32.3925), srid=4326),
            "lon": 119.4325,
            "lat": 32.3925,
            "reporter_role": "resident",
            "reporter_name": REPORTER_NAME,
            "reporter_phone": REPORTER_PHONE,
            "version": 1,
        }
        values.update(fields)
        db.session.add(Case(**values))
        db.session.commit()
        return case_id


def publish(app: Flask, event: str, case_id: str, **kwargs: Any) -> None:
    """Publish inside a transaction and commit it, as a case service does."""
    from server.extensions import db
    from server.models import Case
    from server.services.messaging import notify

    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        kwargs.setdefault("actor_id", None)
        notify.publish(event, case, **kwargs)
        db.session.commit()


def notifications(app: Flask, user_id: int | None = None) -> list[Any]:
    from server.extensions import db
    from server.models import Notification

    with app.app_context():
        stmt = select(Notification).order_by(Notification.id)
        if user_id is not None:
            stmt = stmt.where(Notification.user_id == user_id)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def unread(app: Flask, user_id: int) -> int:
    from server.extensions import db
    from server.models import Notification

    with app.app_context():
        stmt = select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        return int(db.session.scalar(stmt) or 0)


# --------------------------------------------------------------------------- publish()


def test_publish_notifies_each_distinct_recipient_but_not_the_actor(
    app: Flask, world: World
) -> None:
    case_id = insert_case(app, world)
    u = world.user_ids
    publish(
        app,
        "case.reported",
        case_id,
        actor_id=u["collector"],
        recipients=[u["dispatcher"], u["dispatcher"], u["collector"], u["admin"]],
    )
    rows = notifications(app)
    assert sorted(r.user_id for r in rows) == sorted([u["dispatcher"], u["admin"]])
    note = rows[0]
    assert note.event == "case.reported" and note.case_id == case_id
    assert note.title.startswith("新事项 QJ-") and note.title.endswith("：环境卫生")
    assert note.title_en.startswith("New case QJ-") and note.title_en.endswith(": Sanitation")
    assert "甲社区第1网格" in (note.body or "")
    assert note.read_at is None


def test_publish_skips_inactive_users(app: Flask, world: World) -> None:
    from server.extensions import db
    from server.models import User

    with app.app_context():
        user = db.session.get(User, world.user_ids["dispatcher"])
        assert user is not None
        user.active = False
        db.session.commit()
    case_id = insert_case(app, world)
    publish(
        app,
        "case.reported",
        case_id,
        recipients=[world.user_ids["dispatcher"], world.user_ids["admin"]],
    )
    assert [n.user_id for n in notifications(app)] == [world.user_ids["admin"]]


def test_dispatched_title_shows_unit_and_local_deadline(app: Flask, world: World) -> None:
    case_id = insert_case(
        app,
        world,
        status="dispatched",
        unit_id=world.unit_id,
        deadline_at=datetime(2026, 11, 26, 2, 0, tzinfo=UTC),  # 10:00 in Asia/Shanghai
    )
    publish(app, "case.dispatched", case_id, recipients=[world.user_ids["staff"]])
    (note,) = notifications(app, world.user_ids["staff"])
    assert note.title.endswith("已派遣至城管中队，限 11-26 10:00 前办结"), note.title
    assert note.title_en.endswith("dispatched to 城管中队, due by 11-26 10:00")


def test_every_event_renders_without_a_deadline_or_unit(app: Flask, world: World) -> None:
    from server.extensions import db
    from server.models import Case
    from server.services.messaging import notify

    case_id = insert_case(app, world)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        for event in notify.EVENTS:
            zh, en = notify.render_titles(event, case)
            assert case.number in zh and case.number in en, event
            assert "{" not in zh + en, event


def test_publish_refuses_unknown_events_and_personal_extra(app: Flask, world: World) -> None:
    case_id = insert_case(app, world)
    with pytest.raises(ValueError, match="unknown"):
        publish(app, "case.exploded", case_id, recipients=[world.user_ids["dispatcher"]])
    with pytest.raises(ValueError, match="personal"):
        publish(
            app,
            "case.reported",
            case_id,
            recipients=[world.user_ids["dispatcher"]],
            extra={"reporter_phone": REPORTER_PHONE},
        )
    assert notifications(app) == []


def test_publish_writes_nothing_when_the_transaction_rolls_back(app: Flask, world: World) -> None:
    from server.extensions import db
    from server.models import Case
    from server.services.messaging import notify

    case_id = insert_case(app, world)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        notify.publish("case.reported", case, actor_id=None, recipients=[world.user_ids["admin"]])
        db.session.rollback()
    assert notifications(app) == []


def test_recipient_helpers_return_active_users_of_the_right_scope(app: Flask, world: World) -> None:
    from server.services.messaging import notify

    u = world.user_ids
    with app.app_context():
        assert notify.dispatcher_ids(world.subdistrict_id) == [u["dispatcher"]]
        assert notify.dispatcher_ids(world.other_subdistrict_id) == [u["dispatcher2"]]
        assert notify.unit_staff_ids(world.unit_id) == [u["staff"]]
        assert notify.unit_staff_ids(world.other_unit_id) == []
        assert notify.collector_ids(world.grid_ids["A1"]) == [u["collector"]]
        assert notify.collector_ids(world.grid_ids["A2"]) == []
        assert notify.subdistrict_admin_ids(world.subdistrict_id) == [u["admin"]]


# --------------------------------------------------------------------------- the API


@pytest.fixture
def inbox_world(app: Flask, world: World) -> World:
    """The dispatcher has 5 notifications, the other subdistrict's dispatcher 1."""
    case_id = insert_case(app, world)
    for event in ("case.reported", "case.accepted", "case.dispatched", "case.handled"):
        publish(app, event, case_id, recipients=[world.user_ids["dispatcher"]])
    publish(app, "case.closed", case_id, recipients=[world.user_ids["dispatcher"]])
    other = insert_case(app, world, grid="C1")
    publish(app, "case.reported", other, recipients=[world.user_ids["dispatcher2"]])
    return world


def test_inbox_lists_own_notifications_newest_first(
    client: FlaskClient, inbox_world: World, tokens: dict[str, str]
) -> None:
    response = client.get("/api/v1/inbox", headers=bearer(tokens["dispatcher"]))
    assert response.status_code == 200
    body = response.get_json()
    assert [n["event"] for n in body["items"]] == [
        "case.closed",
        "case.handled",
        "case.dispatched",
        "case.accepted",
        "case.reported",
    ]
    assert body["unread_count"] == 5 and body["next_cursor"] is None
    first = body["items"][0]
    assert set(first) >= {"id", "title", "title_en", "body", "read", "read_at", "created_at"}
    assert first["read"] is False and first["read_at"] is None
    other = client.get("/api/v1/inbox", headers=bearer(tokens["dispatcher2"])).get_json()
    assert [n["event"] for n in other["items"]] == ["case.reported"]
    empty = client.get("/api/v1/inbox", headers=bearer(tokens["collector"])).get_json()
    assert empty == {"items": [], "next_cursor": None, "unread_count": 0}


def test_inbox_pages_with_a_cursor(
    client: FlaskClient, inbox_world: World, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["dispatcher"])
    seen: list[int] = []
    url = "/api/v1/inbox?limit=2"
    pages = 0
    while True:
        body = client.get(url, headers=headers).get_json()
        pages += 1
        seen += [n["id"] for n in body["items"]]
        assert body["unread_count"] == 5
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/inbox?limit=2&cursor={body['next_cursor']}"
    assert pages == 3
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


def test_inbox_refuses_a_cursor_it_did_not_issue(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    response = client.get("/api/v1/inbox?cursor=nonsense", headers=bearer(tokens["dispatcher"]))
    assert_error(response, 400, "invalid_cursor", "cursor")
    response = client.get("/api/v1/inbox?limit=0", headers=bearer(tokens["dispatcher"]))
    assert_error(response, 422, "validation_error", "limit")


def test_inbox_needs_a_token(client: FlaskClient, world: World) -> None:
    assert_error(client.get("/api/v1/inbox"), 401, "unauthorized")
    assert_error(client.post("/api/v1/inbox/read-all"), 401, "unauthorized")
    assert_error(client.post("/api/v1/inbox/1/read"), 401, "unauthorized")


def test_mark_one_read_then_filter(
    app: Flask, client: FlaskClient, inbox_world: World, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["dispatcher"])
    items = client.get("/api/v1/inbox", headers=headers).get_json()["items"]
    target = items[2]["id"]
    response = client.post(f"/api/v1/inbox/{target}/read", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == target and body["read"] is True and body["read_at"]
    again = client.post(f"/api/v1/inbox/{target}/read", headers=headers).get_json()
    assert again["read_at"] == body["read_at"]  # the first reading is kept
    listing = client.get("/api/v1/inbox?unread=true", headers=headers).get_json()
    assert target not in [n["id"] for n in listing["items"]]
    assert listing["unread_count"] == 4 and len(listing["items"]) == 4
    read = client.get("/api/v1/inbox?unread=false", headers=headers).get_json()
    assert [n["id"] for n in read["items"]] == [target]


def test_another_users_notification_is_404_and_stays_unread(
    app: Flask, client: FlaskClient, inbox_world: World, tokens: dict[str, str]
) -> None:
    (theirs,) = notifications(app, inbox_world.user_ids["dispatcher2"])
    for user in ("dispatcher", "admin", "cityadmin"):
        response = client.post(f"/api/v1/inbox/{theirs.id}/read", headers=bearer(tokens[user]))
        assert_error(response, 404, "not_found")
    assert unread(app, inbox_world.user_ids["dispatcher2"]) == 1
    for missing in (999_999, 2**31, 2**40):
        response = client.post(
            f"/api/v1/inbox/{missing}/read", headers=bearer(tokens["dispatcher"])
        )
        assert_error(response, 404, "not_found")


def test_read_all_marks_only_your_own(
    app: Flask, client: FlaskClient, inbox_world: World, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["dispatcher"])
    response = client.post("/api/v1/inbox/read-all", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"updated": 5}
    assert client.post("/api/v1/inbox/read-all", headers=headers).get_json() == {"updated": 0}
    assert client.get("/api/v1/inbox", headers=headers).get_json()["unread_count"] == 0
    assert unread(app, inbox_world.user_ids["dispatcher2"]) == 1


def test_a_device_token_reads_its_collectors_inbox(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.services.people.devices import issue_device

    case_id = insert_case(app, world)
    publish(app, "case.verified", case_id, recipients=[world.user_ids["collector"]])
    with app.app_context(), unit_of_work() as uow:
        token = issue_device(uow, "collector").token
    body = client.get("/api/v1/inbox", headers=bearer(token)).get_json()
    assert [n["event"] for n in body["items"]] == ["case.verified"]
