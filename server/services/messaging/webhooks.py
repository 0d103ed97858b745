"""Outgoing webhooks: subscriptions, their delivery log, and delivering one event.

An outside system (SMS gateway, WeChat bridge, a 12345 hotline platform) subscribes to
case events of one subdistrict (or, set up by a city admin, of the whole deployment).
Each event becomes one `WebhookDelivery` per subscription (see `notify.publish`), sent by
a Celery task with retries and exponential backoff.

What a receiver gets — an HTTP POST of a JSON body (UTF-8, not ASCII-escaped):

    {"event": "case.dispatched", "event_id": "<32 hex>", "occurred_at": "<ISO UTC>",
     "case": {"id", "number", "status", "priority", "source", "category", "subdistrict",
              "community", "grid", "unit": {"id", "name"} | null, "deadline_at",
              "overdue", "rework_count"},
     ...event-specific fields}

with the headers

    Content-Type: application/json; charset=utf-8
    User-Agent: Minqing-Webhook/1
    X-Minqing-Event: case.dispatched
    X-Minqing-Delivery: <delivery id>          (the same on every retry)
    X-Minqing-Event-Id: <event_id>             (the receiver's idempotency key)
    X-Minqing-Timestamp: <unix seconds>        (of this attempt)
    X-Minqing-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body bytes)>

Any 2xx answer counts as delivered; anything else (3xx included: redirects are not
followed), a timeout or a refused connection is retried, up to WEBHOOK_MAX_ATTEMPTS
attempts. Targets must be public addresses, checked at subscription and at every delivery
(`services/outbound.py`); a target that no longer passes fails the delivery unsent.
Delivery is at least once: receivers should drop an `event_id` they have seen.
Payloads hold no personal data (no names, phones, descriptions or addresses).
A receiver checks a request with `verify_signature()` (or the same few lines in its
own language).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import Subdistrict, WebhookDelivery, WebhookSubscription
from server.services.messaging import outbound
from server.services.messaging.notify import (
    DELIVER_TASK,
    EVENTS,
    INBOX_ONLY_EVENTS,
    MAX_ID,
    OTHER_EVENTS,
    WILDCARD,
    new_delivery,
)
from server.services.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork, unit_of_work

PING = "ping"
USER_AGENT = "Minqing-Webhook/1"
SIGNATURE_PREFIX = "sha256="
MAX_RETRY_DELAY_S = 3600
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 128
ERROR_MAX = 500
SUBSCRIBABLE: tuple[str, ...] = (
    WILDCARD,
    *EVENTS,
    *(e for e in OTHER_EVENTS if e not in INBOX_ONLY_EVENTS),
)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _invalid(field: str, message: str, message_zh: str) -> Invalid:
    return Invalid(
        "validation_error", f"{field}: {message}", f"字段 {field}：{message_zh}", field=field
    )


# --------------------------------------------------------------------------- signatures


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `b"<timestamp>." + body`, keyed by the secret."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    tolerance_s: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: is this request from Minqing, and fresh?

    Pass the subscription's secret, the `X-Minqing-Timestamp` and `X-Minqing-Signature`
    headers and the raw request body (the bytes as received — not re-serialised JSON).
    False when the signature does not match or the timestamp is more than `tolerance_s`
    seconds away from now (a replayed request). Compared in constant time.
    """
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, ts, raw)
    return hmac.compare_digest(expected.encode(), (signature or "").strip().encode())


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent: compact JSON, Chinese left readable, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once, at creation


def _require_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins manage webhooks", "只有管理员可以管理 Webhook")


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials; stripped."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _invalid("url", "must be an http(s) URL with a host", "必须是带主机名的 http(s) 地址")
    if parts.username is not None or parts.password is not None:
        raise _invalid(
            "url",
            "must not contain credentials; requests are signed instead",
            "不能包含用户名或密码（请求已签名）",
        )
    if port == 0 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _invalid("url", "is malformed", "格式错误")
    if len(url) > 500:
        raise _invalid("url", "is longer than 500 characters", "长度不能超过 500")
    return url


def check_events(events: Iterable[str]) -> list[str]:
    """Known event names (or "*"), without duplicates, in the order given."""
    out: list[str] = []
    for event in events:
        if event not in SUBSCRIBABLE:
            raise _invalid(
                "events",
                f"unknown event {event!r}; use '*' or one of {', '.join(SUBSCRIBABLE[1:])}",
                f"未知事件 {event}；可用 * 或：{'、'.join(SUBSCRIBABLE[1:])}",
            )
        if event not in out:
            out.append(event)
    if not out:
        raise _invalid("events", "name at least one event (or '*')", "至少选择一个事件（或 *）")
    return out


def _scope_subdistrict(principal: Principal, requested: int | None) -> int | None:
    """Where a new subscription listens: a subdistrict admin's own subdistrict; a city
    admin's choice (None: the whole deployment)."""
    if principal.subdistrict_id is not None:
        if requested is not None and requested != principal.subdistrict_id:
            raise DomainError(
                "forbidden",
                "subdistrict_id: you manage only your own subdistrict",
                "字段 subdistrict_id：只能管理本街道",
                field="subdistrict_id",
                status=403,
            )
        return principal.subdistrict_id
    if requested is not None and (
        not 0 < requested <= MAX_ID or db.session.get(Subdistrict, requested) is None
    ):
        raise NotFound("Subdistrict", "街道", field="subdistrict_id")
    return requested


def create_subscription(
    uow: UnitOfWork,
    principal: Principal,
    *,
    name: str,
    url: str,
    events: Iterable[str],
    secret: str | None = None,
    subdistrict_id: int | None = None,
) -> CreatedSubscription:
    """Subscribe an outside system to case events; the secret is returned this once."""
    _require_admin(principal)
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        raise _invalid("name", "must be 1 to 100 characters", "长度必须在 1 到 100 之间")
    clean_url = check_url(url)
    outbound.check_target(clean_url)  # public addresses only (or the allow-list)
    clean_events = check_events(events)
    if secret is not None:
        secret = secret.strip()
        if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
            raise _invalid(
                "secret",
                f"must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters",
                f"长度必须在 {MIN_SECRET_LENGTH} 到 {MAX_SECRET_LENGTH} 之间",
            )
    scope = _scope_subdistrict(principal, subdistrict_id)
    clear = secret or secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        subdistrict_id=scope,
        name=clean_name,
        url=clean_url,
        secret=clear,
        events=clean_events,
        active=True,
    )
    uow.session.add(sub)
    uow.session.flush()
    return CreatedSubscription(subscription=sub, secret=clear)


def list_subscriptions(principal: Principal) -> list[WebhookSubscription]:
    """A subdistrict admin's subscriptions, or every one for a city admin; newest first."""
    _require_admin(principal)
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.id.desc())
    if principal.subdistrict_id is not None:
        stmt = stmt.where(WebhookSubscription.subdistrict_id == principal.subdistrict_id)
    return list(db.session.scalars(stmt))


def get_subscription(principal: Principal, subscription_id: int) -> WebhookSubscription:
    """One subscription the caller manages; 404 for any other (existence is not told)."""
    _require_admin(principal)
    sub = None
    if 0 < subscription_id <= MAX_ID:
        sub = db.session.get(WebhookSubscription, subscription_id)
    if sub is None or (
        principal.subdistrict_id is not None and sub.subdistrict_id != principal.subdistrict_id
    ):
        raise NotFound("Webhook subscription", "Webhook 订阅")
    return sub


def deactivate_subscription(
    uow: UnitOfWork, principal: Principal, subscription_id: int
) -> WebhookSubscription:
    """Stop a subscription: no new deliveries, pending ones are abandoned (marked failed).
    Its delivery history is kept. Deactivating twice is harmless."""
    sub = get_subscription(principal, subscription_id)
    if sub.active:
        sub.active = False
        uow.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == PENDING)
            .values(status=FAILED, last_error="subscription deactivated")
        )
    return sub


def list_deliveries(
    principal: Principal,
    subscription_id: int,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[WebhookDelivery]:
    """A subscription's deliveries, newest first, keyset-paginated."""
    sub = get_subscription(principal, subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(WebhookDelivery.id < after)
    rows = list(db.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)


def send_test(uow: UnitOfWork, principal: Principal, subscription_id: int) -> WebhookDelivery:
    """Queue a `ping` event to the subscription, to check the receiver and its secret."""
    sub = get_subscription(principal, subscription_id)
    if not sub.active:
        raise Conflict(
            "subscription_inactive",
            "The subscription is deactivated",
            "该 Webhook 订阅已停用",
        )
    delivery = new_delivery(
        sub,
        PING,
        {"subscription": {"id": sub.id, "name": sub.name}, "message": "Minqing webhook test"},
    )
    uow.session.flush()
    uow.after_commit(DELIVER_TASK, delivery.id)
    return delivery


# --------------------------------------------------------------------------- delivering


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one call of `deliver()` did, for the task to decide on a retry."""

    delivery_id: int
    status: str  # pending | delivered | failed | missing
    attempts: int
    sent: bool  # whether an HTTP request was made
    retry: bool  # pending after a failed attempt: try again later
    status_code: int | None = None
    error: str | None = None


def retry_countdown(attempts: int) -> int:
    """Seconds before the next attempt: base × 2^(attempts−1), at most an hour."""
    base = int(current_app.config["WEBHOOK_RETRY_BASE_SECONDS"])
    exponent = min(max(attempts - 1, 0), 20)
    return int(min(base * 2**exponent, MAX_RETRY_DELAY_S))


def _post(
    target: outbound.Target, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None]:
    """POST once: (status code, error text); error None means a 2xx. The log keeps at most a
    short printable excerpt of a refusing receiver's answer."""
    try:
        status, answer = outbound.post(target, body, headers, timeout)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, type(exc).__name__
    if 200 <= status < 300:
        return status, None
    snippet = outbound.excerpt(answer)
    return status, f"HTTP {status}" + (f": {snippet}" if snippet else "")


def deliver(delivery_id: int) -> DeliveryOutcome:
    """Make one delivery attempt, unless the delivery is already delivered or failed.

    The database is not held while the request is in flight. A 2xx marks the delivery
    delivered; otherwise the attempt is counted, its status code and error recorded, and
    the delivery stays pending (`retry`) until WEBHOOK_MAX_ATTEMPTS attempts, then failed.
    A delivery whose subscription was deactivated is marked failed without sending.

    The edge of a task: two units of work, before and after the request, so that no
    transaction stays open while it is in flight.
    """
    with unit_of_work() as uow:
        prepared = _prepare_delivery(uow, delivery_id)
    if isinstance(prepared, DeliveryOutcome):
        return prepared
    url, secret, event, event_id, body = prepared
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Minqing-Event": event,
        "X-Minqing-Delivery": str(delivery_id),
        "X-Minqing-Event-Id": event_id,
        "X-Minqing-Timestamp": str(timestamp),
        "X-Minqing-Signature": sign(secret, timestamp, body),
    }
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    try:
        target = outbound.check_target(url)  # again now: DNS may answer differently today
    except outbound.TargetRefused as refused:
        with unit_of_work() as uow:
            return _refuse_delivery(uow, delivery_id, refused)
    status_code, error = _post(target, body, headers, timeout)
    with unit_of_work() as uow:
        return _record_attempt(uow, delivery_id, status_code, error)


def _prepare_delivery(
    uow: UnitOfWork, delivery_id: int
) -> DeliveryOutcome | tuple[str, str, str, str, bytes]:
    """What to send (url, secret, event, event id, body), or the outcome without sending."""
    delivery = uow.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return DeliveryOutcome(delivery_id, "missing", 0, sent=False, retry=False)
    max_attempts = int(current_app.config["WEBHOOK_MAX_ATTEMPTS"])
    sub = uow.session.get(WebhookSubscription, delivery.subscription_id)
    if delivery.status == PENDING and (sub is None or not sub.active):
        delivery.status = FAILED
        delivery.last_error = "subscription deactivated"
    elif delivery.status == PENDING and delivery.attempts >= max_attempts:
        delivery.status = FAILED
    if delivery.status != PENDING or sub is None:
        return DeliveryOutcome(
            delivery.id, delivery.status, delivery.attempts, sent=False, retry=False
        )
    return sub.url, sub.secret, delivery.event, delivery.event_id, encode_body(delivery.payload)


def _record_attempt(
    uow: UnitOfWork, delivery_id: int, status_code: int | None, error: str | None
) -> DeliveryOutcome:
    max_attempts = int(current_app.config["WEBHOOK_MAX_ATTEMPTS"])
    delivery = uow.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:  # deleted meanwhile (its subscription was removed)
        return DeliveryOutcome(delivery_id, "missing", 0, sent=True, retry=False)
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.last_status_code = status_code
    if error is None:
        delivery.status = DELIVERED
        delivery.delivered_at = uow.now
        delivery.last_error = None
    else:
        delivery.last_error = error[:ERROR_MAX]
        if delivery.status == PENDING and delivery.attempts >= max_attempts:
            delivery.status = FAILED
    outcome = DeliveryOutcome(
        delivery.id,
        delivery.status,
        delivery.attempts,
        sent=True,
        retry=delivery.status == PENDING,
        status_code=status_code,
        error=error,
    )
    return outcome


def _refuse_delivery(
    uow: UnitOfWork, delivery_id: int, refused: outbound.TargetRefused
) -> DeliveryOutcome:
    """The target is no longer allowed: fail the delivery at once, nothing is sent."""
    delivery = uow.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        return DeliveryOutcome(delivery_id, "missing", 0, sent=False, retry=False)
    delivery.status = FAILED
    delivery.last_status_code = None
    delivery.last_error = f"refused: {refused.message.removeprefix('url: ')}"[:ERROR_MAX]
    return DeliveryOutcome(
        delivery.id, FAILED, delivery.attempts, sent=False, retry=False, error="refused"
    )


STALLED_AFTER = timedelta(minutes=10)


def requeue_stalled(uow: UnitOfWork, *, limit: int = 500) -> int:
    """Send again the deliveries that were never attempted (their enqueue was lost, e.g.
    the broker was down at commit time), ten minutes after they were made."""
    now = uow.now
    ids = list(
        uow.session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == 0,
                WebhookDelivery.created_at < now - STALLED_AFTER,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
    )
    for delivery_id in ids:
        uow.after_commit(DELIVER_TASK, delivery_id)
    return len(ids)
