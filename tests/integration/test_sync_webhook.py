"""A case reported from a phone through sync reaches the webhooks exactly as one reported
through the API: the push is one unit of work, and its after-commit work (the delivery
task) is released after the push's real commit, on a real Celery worker."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Worker, World, bearer, wait_for
from flask import Flask
from flask.testing import FlaskClient
from helpers import ok, report
from phones import Phone
from sqlalchemy import select

from tests.integration.test_webhook_delivery import (  # noqa: F401 (an autouse fixture)
    Receiver,
    _loopback_receivers_allowed,
    assert_signed,
    subscribe,
)
from tests.integration.test_webhook_delivery import receiver as receiver  # the fixture
from tests.sync.test_sync_basics import empty
from tests.sync.test_sync_guarantees import case_raw


def deliveries(app: Flask, sub_id: int) -> list[Any]:
    from server.extensions import db
    from server.models import WebhookDelivery

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == sub_id)
                .order_by(WebhookDelivery.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


@pytest.mark.worker
def test_a_case_pushed_from_a_phone_is_delivered_like_one_from_the_api(
    app: Flask,
    worker: Worker,
    world: World,
    receiver: Receiver,
    phone: Phone,
    client: FlaskClient,
    tokens: dict[str, str],
) -> None:
    sub_id, secret = subscribe(app, world, receiver.url, ["case.reported"])
    # through the API
    api_case = ok(report(client, tokens["collector"]), 201)["case"]
    wait_for(lambda: [d.status for d in deliveries(app, sub_id)] == ["delivered"], timeout=30)
    # through sync: one push, one commit, then the delivery task
    body = phone.pull()
    category = body["changes"]["categories"]["created"][0]["id"]
    pushed = phone.push({"cases": {**empty(), "created": [case_raw("case-hook-0001", category)]}})
    assert ok(pushed) == {}
    wait_for(lambda: len(deliveries(app, sub_id)) == 2, timeout=10)
    wait_for(
        lambda: [d.status for d in deliveries(app, sub_id)] == ["delivered", "delivered"],
        timeout=30,
    )
    time.sleep(0.5)  # room for a duplicate, were there one
    via_api, via_sync = deliveries(app, sub_id)
    for delivery in (via_api, via_sync):
        assert delivery.attempts == 1 and delivery.last_status_code == 200
        assert delivery.delivered_at is not None and delivery.last_error is None
    assert len(receiver.requests) == 2
    payloads = [assert_signed(r, secret) for r in receiver.requests]
    by_case = {p["case"]["id"]: p for p in payloads}
    assert set(by_case) == {api_case["id"], "case-hook-0001"}
    api_payload, sync_payload = by_case[api_case["id"]], by_case["case-hook-0001"]
    assert sync_payload["event"] == api_payload["event"] == "case.reported"
    assert set(sync_payload["case"]) == set(api_payload["case"])  # the same shape
    assert sync_payload["case"]["source"] == api_payload["case"]["source"] == "patrol"
    # the phone's case is in the database as the API's is
    fetched = ok(client.get("/api/v1/cases/case-hook-0001", headers=bearer(tokens["dispatcher"])))
    assert fetched["status"] == "reported"
