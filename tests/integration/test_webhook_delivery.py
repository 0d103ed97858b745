"""Webhooks delivered by the real Celery worker to a real HTTP receiver on loopback:
signed, once, retried with backoff after failures, given up after WEBHOOK_MAX_ATTEMPTS.

The worker process runs with MINQING_WEBHOOK_RETRY_BASE_SECONDS=1 (conftest).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import Worker, World, wait_for
from flask import Flask
from sqlalchemy import select

from server.services.uow import unit_of_work

REPORTER_NAME = "王小明"
REPORTER_PHONE = "13912345678"


# --------------------------------------------------------------------------- the receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as scripted."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer, then 200
    always: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> int:
        with self.lock:
            self.requests.append(request)
            if self.always is not None:
                return self.always
            return self.script.pop(0) if self.script else 200


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
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            status = holder["r"].answer(request)
            body = b'{"ok": true}' if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    holder["r"] = Receiver(url=f"http://{host}:{port}/minqing/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


# --------------------------------------------------------------------------- helpers


def subscribe(
    app: Flask, world: World, url: str, events: list[str] | None = None
) -> tuple[int, str]:
    """A subscription of the test subdistrict, made by its admin: (id, secret)."""
    from server.domain.roles import Role
    from server.services.messaging.webhooks import create_subscription
    from server.services.people.principal import Principal

    admin = Principal(
        user_id=world.user_ids["admin"],
        username="admin",
        role=Role.ADMIN,
        subdistrict_id=world.subdistrict_id,
    )
    with app.app_context():
        with unit_of_work() as uow:
            created = create_subscription(
                uow, admin, name="接收端", url=url, events=events or ["*"]
            )
        return created.subscription.id, created.secret


def report_case(app: Flask, world: World, event: str = "case.reported") -> str:
    """Insert a case row (with a resident's name and phone) and publish `event` for it."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from server.extensions import db
    from server.models import Case, Category, Grid
    from server.services.messaging import notify

    with app.app_context():
        grid = db.session.get(Grid, world.grid_ids["A1"])
        category = db.session.scalar(select(Category).where(Category.code == "sanitation"))
        assert grid is not None and category is not None
        case = Case(
            id=uuid.uuid4().hex,
            number=f"QJ-20261126-{uuid.uuid4().int % 10000:04d}",
            public_token=uuid.uuid4().hex,
            subdistrict_id=grid.subdistrict_id,
            community_id=grid.community_id,
            grid_id=grid.id,
            category_id=category.id,
            priority="high",
            source="resident",
            status="reported",
            description=f"路灯不亮，请联系{REPORTER_NAME} {REPORTER_PHONE}",
            point=from_shape(Point(119.4325, 32.3925), srid=4326),
            lon=119.4325,
            lat=32.3925,
            reporter_role="resident",
            reporter_name=REPORTER_NAME,
            reporter_phone=REPORTER_PHONE,
            version=1,
        )
        db.session.add(case)
        notify.publish(
            event, case, actor_id=None, recipients=notify.dispatcher_ids(case.subdistrict_id)
        )
        db.session.commit()
        return case.id


def delivery_of(app: Flask, subscription_id: int) -> Any:
    """The subscription's only delivery, read fresh."""
    from server.extensions import db
    from server.models import WebhookDelivery

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
            )
        )
        db.session.expunge_all()
    assert len(rows) == 1, rows
    return rows[0]


def assert_signed(request: Received, secret: str) -> dict[str, Any]:
    from server.services.messaging.webhooks import verify_signature

    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"].startswith("application/json")
    assert headers["user-agent"] == "Minqing-Webhook/1"
    assert verify_signature(
        secret, headers["x-minqing-timestamp"], request.body, headers["x-minqing-signature"]
    )
    assert not verify_signature(
        "another-secret-0123456789",
        headers["x-minqing-timestamp"],
        request.body,
        headers["x-minqing-signature"],
    )
    payload: dict[str, Any] = json.loads(request.body.decode("utf-8"))
    assert headers["x-minqing-event"] == payload["event"]
    assert headers["x-minqing-event-id"] == payload["event_id"]
    return payload


# --------------------------------------------------------------------------- on the worker


@pytest.mark.worker
def test_an_event_is_delivered_once_signed_and_without_personal_data(
    app: Flask, worker: Worker, world: World, receiver: Receiver
) -> None:
    sub_id, secret = subscribe(app, world, receiver.url)
    case_id = report_case(app, world)
    wait_for(lambda: delivery_of(app, sub_id).status == "delivered", timeout=30)
    time.sleep(0.5)  # room for a duplicate, were there one
    (request,) = receiver.requests
    assert request.path == "/minqing/hook"
    payload = assert_signed(request, secret)
    delivery = delivery_of(app, sub_id)
    assert request.headers["X-Minqing-Delivery"] == str(delivery.id)
    assert payload["event_id"] == delivery.event_id
    assert payload["event"] == "case.reported" and payload["case"]["id"] == case_id
    assert payload["case"]["priority"] == "high"
    text = request.body.decode("utf-8")
    assert REPORTER_NAME not in text and REPORTER_PHONE not in text
    assert "reporter" not in text and "phone" not in text
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.delivered_at is not None and delivery.last_error is None


@pytest.mark.worker
def test_failures_are_retried_with_backoff_until_delivered(
    app: Flask, worker: Worker, world: World, receiver: Receiver
) -> None:
    receiver.script = [500, 500]
    sub_id, secret = subscribe(app, world, receiver.url, ["case.reported"])
    started = time.monotonic()
    report_case(app, world)
    wait_for(lambda: delivery_of(app, sub_id).status == "delivered", timeout=45)
    elapsed = time.monotonic() - started
    delivery = delivery_of(app, sub_id)
    assert delivery.attempts == 3 and delivery.last_status_code == 200
    assert len(receiver.requests) == 3
    assert elapsed >= 3  # 1 s, then 2 s between the attempts
    payloads = [assert_signed(r, secret) for r in receiver.requests]
    assert len({p["event_id"] for p in payloads}) == 1  # the same event, retried
    assert {r.headers["X-Minqing-Delivery"] for r in receiver.requests} == {str(delivery.id)}


@pytest.mark.worker
def test_an_unreachable_receiver_is_retried_and_recovers(
    app: Flask, worker: Worker, world: World, receiver: Receiver
) -> None:
    """A closed port: attempts grow, the error is kept; once the URL answers, delivered."""
    from server.extensions import db
    from server.models import WebhookSubscription

    sub_id, _secret = subscribe(app, world, closed_port_url())
    report_case(app, world)
    wait_for(lambda: delivery_of(app, sub_id).attempts >= 2, timeout=30)
    delivery = delivery_of(app, sub_id)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error and "Connection" in delivery.last_error
    with app.app_context():
        sub = db.session.get(WebhookSubscription, sub_id)
        assert sub is not None
        sub.url = receiver.url
        db.session.commit()
    wait_for(lambda: delivery_of(app, sub_id).status == "delivered", timeout=45)
    assert len(receiver.requests) == 1
    assert delivery_of(app, sub_id).attempts >= 3


# --------------------------------------------------------------------------- in-process


def test_max_attempts_marks_failed_and_nothing_is_sent_again(
    app: Flask, world: World, receiver: Receiver
) -> None:
    """Without a broker the test app makes one attempt after commit; then by hand."""
    from server.services.messaging.webhooks import deliver

    receiver.always = 503
    sub_id, _secret = subscribe(app, world, receiver.url)
    saved = app.config["WEBHOOK_MAX_ATTEMPTS"]
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    try:
        report_case(app, world)
        first = delivery_of(app, sub_id)
        assert first.status == "pending" and first.attempts == 1
        assert first.last_status_code == 503 and "receiver says no" in first.last_error
        with app.app_context():
            second = deliver(first.id)
            assert second.retry and second.status == "pending" and second.attempts == 2
            third = deliver(first.id)
            assert not third.retry and third.status == "failed" and third.attempts == 3
            again = deliver(first.id)
            assert not again.sent and again.status == "failed"
            assert deliver(987_654).status == "missing"
    finally:
        app.config["WEBHOOK_MAX_ATTEMPTS"] = saved
    assert len(receiver.requests) == 3
    failed = delivery_of(app, sub_id)
    assert failed.status == "failed" and failed.attempts == 3 and failed.delivered_at is None


def test_delivered_is_never_sent_again(app: Flask, world: World, receiver: Receiver) -> None:
    from server.services.messaging.webhooks import deliver

    sub_id, _secret = subscribe(app, world, receiver.url)
    report_case(app, world)
    delivery = delivery_of(app, sub_id)
    assert delivery.status == "delivered"
    with app.app_context():
        outcome = deliver(delivery.id)
    assert not outcome.sent and outcome.status == "delivered"
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(app: Flask, world: World, receiver: Receiver) -> None:
    receiver.always = 302
    sub_id, _secret = subscribe(app, world, receiver.url)
    report_case(app, world)
    delivery = delivery_of(app, sub_id)
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert len(receiver.requests) == 1


# --------------------------------------------------------------------------- pure helpers


def test_signature_scheme_and_freshness() -> None:
    import hashlib
    import hmac

    from server.services.messaging.webhooks import encode_body, sign, verify_signature

    body = encode_body({"event": "ping", "名称": "测试"})
    assert "测试".encode() in body  # UTF-8, not \\u escapes
    expected = hmac.new(b"k" * 20, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 20, 1700000000, body) == "sha256=" + expected
    signature = sign("k" * 20, 1700000000, body)
    assert verify_signature("k" * 20, "1700000000", body, signature, now=1700000100)
    assert verify_signature("k" * 20, 1700000000, body.decode(), signature, now=1700000000)
    assert not verify_signature("k" * 20, "1700000000", body, signature, now=1700000301)
    assert not verify_signature("k" * 20, "1700000000", body + b" ", signature, now=1700000000)
    assert not verify_signature("k" * 20, "1700000001", body, signature, now=1700000000)
    assert not verify_signature("k" * 20, "soon", body, signature, now=1700000000)
    assert not verify_signature("k" * 20, "1700000000", body, "", now=1700000000)


def test_retry_countdown_doubles_and_is_capped(app: Flask) -> None:
    from server.services.messaging.webhooks import retry_countdown

    with app.app_context():
        base = app.config["WEBHOOK_RETRY_BASE_SECONDS"]
        assert [retry_countdown(n) for n in (1, 2, 3)] == [base, 2 * base, 4 * base]
        assert retry_countdown(40) == 3600


def test_deliveries_whose_enqueue_was_lost_are_sent_again(app: Flask, world: World) -> None:
    """A delivery never attempted (the broker was down at commit) is re-enqueued after ten
    minutes, once: the eager task makes its attempt, so the next sweep leaves it alone."""
    from datetime import timedelta

    from server.extensions import db
    from server.models import WebhookDelivery, WebhookSubscription
    from server.models.base import utcnow
    from server.services.messaging.webhooks import requeue_stalled

    with app.app_context():
        sub = WebhookSubscription(
            subdistrict_id=world.subdistrict_id,
            name="lost",
            url="http://127.0.0.1:9/hook",
            secret="s" * 32,
            events=["*"],
            active=True,
        )
        db.session.add(sub)
        db.session.flush()
        old = WebhookDelivery(
            subscription_id=sub.id,
            event="case.reported",
            event_id="e" * 32,
            payload={"event": "case.reported"},
            status="pending",
            attempts=0,
            created_at=utcnow() - timedelta(minutes=11),
        )
        fresh = WebhookDelivery(
            subscription_id=sub.id,
            event="case.reported",
            event_id="f" * 32,
            payload={"event": "case.reported"},
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
        db.session.add_all([old, fresh])
        db.session.commit()
        old_id, fresh_id = old.id, fresh.id
        with unit_of_work() as uow:
            assert requeue_stalled(uow) == 1
        db.session.expire_all()
        assert db.session.get(WebhookDelivery, old_id).attempts == 1
        assert db.session.get(WebhookDelivery, fresh_id).attempts == 0
        with unit_of_work() as uow:
            assert requeue_stalled(uow) == 0
