"""Webhook subscriptions: admins only, scoped by subdistrict, validated; which events
become deliveries. (Sending them on a real worker: tests/integration/test_webhook_delivery.py.)

Subscriptions here point at a closed loopback port: without a broker the test app makes
one in-process attempt after commit, which is refused at once.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error
from sqlalchemy import func, select
from test_inbox_api import REPORTER_NAME, REPORTER_PHONE, insert_case, publish


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(request: pytest.FixtureRequest) -> Any:
    """The test receivers listen on loopback, which webhooks may reach only when an operator
    allow-lists it (MINQING_WEBHOOK_ALLOWED_HOSTS); the real worker gets the same setting."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ("127.0.0.1",)
    yield
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ()


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def count(app: Flask, model_name: str) -> int:
    from server import models
    from server.extensions import db

    model = getattr(models, model_name)
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def create(
    client: FlaskClient, token: str, url: str, **body: Any
) -> Any:  # the test client's response
    body.setdefault("name", "短信网关")
    body.setdefault("events", ["*"])
    return client.post("/api/v1/webhooks", json={"url": url, **body}, headers=bearer(token))


def deliveries_of(app: Flask, subscription_id: int | None = None) -> list[Any]:
    from server.extensions import db
    from server.models import WebhookDelivery

    with app.app_context():
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if subscription_id is not None:
            stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize("user", ["dispatcher", "staff", "collector"])
def test_only_admins_manage_webhooks(
    app: Flask, client: FlaskClient, tokens: dict[str, str], user: str, closed_url: str
) -> None:
    headers = bearer(tokens[user])
    assert_error(client.get("/api/v1/webhooks", headers=headers), 403, "forbidden")
    assert_error(create(client, tokens[user], closed_url), 403, "forbidden")
    assert count(app, "WebhookSubscription") == 0
    sub_id = create(client, tokens["admin"], closed_url).get_json()["id"]
    for method, path in (
        ("DELETE", f"/api/v1/webhooks/{sub_id}"),
        ("GET", f"/api/v1/webhooks/{sub_id}/deliveries"),
        ("POST", f"/api/v1/webhooks/{sub_id}/test"),
    ):
        response = client.open(path, method=method, headers=headers)
        assert_error(response, 403, "forbidden")
    assert count(app, "WebhookDelivery") == 0
    assert client.get("/api/v1/webhooks", headers=bearer(tokens["admin"])).get_json()[0]["active"]


def test_webhooks_need_a_token(client: FlaskClient, world: World) -> None:
    assert_error(client.get("/api/v1/webhooks"), 401, "unauthorized")
    assert_error(client.post("/api/v1/webhooks", json={}), 401, "unauthorized")


# --------------------------------------------------------------------------- create, list


def test_create_shows_the_secret_once(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], closed_url: str
) -> None:
    response = create(
        client, tokens["admin"], closed_url, events=["case.reported", "case.closed", "case.closed"]
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["subdistrict_id"] == world.subdistrict_id
    assert body["events"] == ["case.reported", "case.closed"]
    assert body["active"] is True and body["url"] == closed_url
    assert len(body["secret"]) >= 40  # token_urlsafe(32)
    listing = client.get("/api/v1/webhooks", headers=bearer(tokens["admin"])).get_json()
    assert [s["id"] for s in listing] == [body["id"]]
    assert "secret" not in listing[0]
    given = create(client, tokens["admin"], closed_url, secret="s" * 20).get_json()
    assert given["secret"] == "s" * 20


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": ["case.exploded"]}, "events"),
        ({"events": ["case.reported", "CASE.CLOSED"]}, "events"),
        ({"events": ["ping"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "case.reported"}, "events"),
        ({"url": "ftp://example.org/hook"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
        ({"url": "http://127.0.0.1:99999/hook"}, "url"),
        ({"url": "http://127.0.0.1/" + "x" * 500}, "url"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"secret": "short"}, "secret"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_create_validation_names_the_field_and_writes_nothing(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    closed_url: str,
    change: dict[str, Any],
    field: str,
) -> None:
    body = {"name": "网关", "url": closed_url, "events": ["*"], **change}
    response = client.post("/api/v1/webhooks", json=body, headers=bearer(tokens["admin"]))
    assert_error(response, 422, "validation_error", field)
    assert count(app, "WebhookSubscription") == 0


def test_subdistrict_admin_cannot_subscribe_for_another_subdistrict(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], closed_url: str
) -> None:
    response = create(
        client, tokens["admin"], closed_url, subdistrict_id=world.other_subdistrict_id
    )
    assert_error(response, 403, "forbidden", "subdistrict_id")
    response = create(client, tokens["cityadmin"], closed_url, subdistrict_id=999_999)
    assert_error(response, 404, "not_found", "subdistrict_id")
    assert count(app, "WebhookSubscription") == 0


# --------------------------------------------------------------------------- scope


@pytest.fixture
def subscriptions(
    client: FlaskClient, world: World, tokens: dict[str, str], closed_url: str
) -> dict[str, int]:
    """Ours (SD, by its admin), theirs (SD2, by the city admin), all (deployment-wide)."""
    ours = create(client, tokens["admin"], closed_url).get_json()["id"]
    theirs = create(
        client, tokens["cityadmin"], closed_url, subdistrict_id=world.other_subdistrict_id
    ).get_json()["id"]
    everywhere = create(client, tokens["cityadmin"], closed_url, subdistrict_id=None)
    assert everywhere.status_code == 201
    assert everywhere.get_json()["subdistrict_id"] is None
    return {"ours": ours, "theirs": theirs, "all": everywhere.get_json()["id"]}


def test_a_subdistrict_admin_sees_only_their_own(
    app: Flask, client: FlaskClient, tokens: dict[str, str], subscriptions: dict[str, int]
) -> None:
    headers = bearer(tokens["admin"])
    listing = client.get("/api/v1/webhooks", headers=headers).get_json()
    assert [s["id"] for s in listing] == [subscriptions["ours"]]
    city = client.get("/api/v1/webhooks", headers=bearer(tokens["cityadmin"])).get_json()
    assert {s["id"] for s in city} == set(subscriptions.values())
    for key in ("theirs", "all"):
        sub_id = subscriptions[key]
        for method, path in (
            ("GET", f"/api/v1/webhooks/{sub_id}/deliveries"),
            ("POST", f"/api/v1/webhooks/{sub_id}/test"),
            ("DELETE", f"/api/v1/webhooks/{sub_id}"),
        ):
            assert_error(client.open(path, method=method, headers=headers), 404, "not_found")
    assert count(app, "WebhookDelivery") == 0
    city = client.get("/api/v1/webhooks", headers=bearer(tokens["cityadmin"])).get_json()
    assert all(s["active"] for s in city)
    for missing in (999_999, 2**31, 2**40):
        response = client.delete(f"/api/v1/webhooks/{missing}", headers=headers)
        assert_error(response, 404, "not_found")


# --------------------------------------------------------------------------- test, delete


def test_test_ping_is_queued_and_logged(
    app: Flask, client: FlaskClient, tokens: dict[str, str], subscriptions: dict[str, int]
) -> None:
    headers = bearer(tokens["admin"])
    sub_id = subscriptions["ours"]
    response = client.post(f"/api/v1/webhooks/{sub_id}/test", headers=headers)
    assert response.status_code == 202, response.get_json()
    delivery = response.get_json()
    assert delivery["event"] == "ping" and delivery["subscription_id"] == sub_id
    assert delivery["payload"]["event_id"] == delivery["event_id"]
    assert len(delivery["event_id"]) == 32
    # The in-process attempt hit a closed port: counted, pending, the error kept.
    page = client.get(f"/api/v1/webhooks/{sub_id}/deliveries", headers=headers).get_json()
    (logged,) = page["items"]
    assert logged["id"] == delivery["id"] and page["next_cursor"] is None
    assert logged["status"] == "pending" and logged["attempts"] == 1
    assert logged["last_status_code"] is None and "Connection" in logged["last_error"]


def test_deliveries_page_newest_first(
    app: Flask, client: FlaskClient, tokens: dict[str, str], subscriptions: dict[str, int]
) -> None:
    headers = bearer(tokens["admin"])
    sub_id = subscriptions["ours"]
    made = [
        client.post(f"/api/v1/webhooks/{sub_id}/test", headers=headers).get_json()["id"]
        for _ in range(3)
    ]
    url = f"/api/v1/webhooks/{sub_id}/deliveries?limit=2"
    first = client.get(url, headers=headers).get_json()
    assert [d["id"] for d in first["items"]] == made[::-1][:2]
    second = client.get(f"{url}&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [d["id"] for d in second["items"]] == made[:1] and second["next_cursor"] is None
    bad = client.get(f"{url}&cursor=xyz", headers=headers)
    assert_error(bad, 400, "invalid_cursor", "cursor")


def test_delete_deactivates_keeps_history_and_stops_sending(
    app: Flask,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    subscriptions: dict[str, int],
) -> None:
    headers = bearer(tokens["admin"])
    sub_id = subscriptions["ours"]
    client.post(f"/api/v1/webhooks/{sub_id}/test", headers=headers)
    response = client.delete(f"/api/v1/webhooks/{sub_id}", headers=headers)
    assert response.status_code == 204 and response.data == b""
    assert client.delete(f"/api/v1/webhooks/{sub_id}", headers=headers).status_code == 204
    (listed,) = client.get("/api/v1/webhooks", headers=headers).get_json()
    assert listed["active"] is False
    (old,) = client.get(f"/api/v1/webhooks/{sub_id}/deliveries", headers=headers).get_json()[
        "items"
    ]
    assert old["status"] == "failed" and old["last_error"] == "subscription deactivated"
    response = client.post(f"/api/v1/webhooks/{sub_id}/test", headers=headers)
    assert_error(response, 409, "subscription_inactive")
    publish(app, "case.reported", insert_case(app, world))
    assert [d.id for d in deliveries_of(app, sub_id)] == [old["id"]]


# --------------------------------------------------------------------------- publish()


def test_publish_makes_one_delivery_per_matching_active_subscription(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], closed_url: str
) -> None:
    def sub(token: str, events: list[str], **body: Any) -> int:
        response = create(client, tokens[token], closed_url, events=events, **body)
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    wildcard = sub("admin", ["*"])
    reported = sub("admin", ["case.reported"])
    closed_only = sub("admin", ["case.closed"])
    everywhere = sub("cityadmin", ["case.reported"])
    other_sd = sub("cityadmin", ["*"], subdistrict_id=world.other_subdistrict_id)
    inactive = sub("admin", ["*"])
    client.delete(f"/api/v1/webhooks/{inactive}", headers=bearer(tokens["admin"]))

    case_id = insert_case(app, world, unit_id=world.unit_id)
    publish(app, "case.reported", case_id, extra={"note_code": "X1"})
    made = deliveries_of(app)
    assert sorted(d.subscription_id for d in made) == sorted([wildcard, reported, everywhere])
    assert not {closed_only, other_sd, inactive} & {d.subscription_id for d in made}
    assert len({d.event_id for d in made}) == 3

    payload = made[0].payload
    assert payload["event"] == "case.reported" and payload["event_id"] == made[0].event_id
    assert payload["occurred_at"].endswith("+00:00")
    assert payload["note_code"] == "X1"
    case = payload["case"]
    assert set(case) == {
        "id",
        "number",
        "status",
        "priority",
        "source",
        "category",
        "subdistrict",
        "community",
        "grid",
        "unit",
        "deadline_at",
        "overdue",
        "rework_count",
    }
    assert case["id"] == case_id and case["category"] == "sanitation"
    assert case["grid"] == world.grid_codes["A1"]
    assert case["unit"] == {"id": world.unit_id, "name": "城管中队"}
    text = json.dumps(payload, ensure_ascii=False)
    assert REPORTER_NAME not in text and REPORTER_PHONE not in text
    assert "reporter" not in text and "phone" not in text and "文昌路" not in text


def test_publish_on_a_rolled_back_transaction_sends_nothing(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], closed_url: str
) -> None:
    from server.extensions import db
    from server.models import Case
    from server.services.messaging import notify

    create(client, tokens["admin"], closed_url)
    case_id = insert_case(app, world)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        notify.publish("case.reported", case, actor_id=None)
        db.session.rollback()
    assert deliveries_of(app) == []
