"""Webhook targets are public addresses only: internal ones are refused before any connection,
at subscription and again at delivery (DNS rebinding); the allow-list opens named hosts."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import assert_error

from server.services.messaging import outbound

INTERNAL_URLS = [
    "http://127.0.0.1/hook",
    "http://127.0.0.1:5432/",
    "http://localhost:5000/api/v1/me",
    "http://2130706433/",  # 127.0.0.1 as one integer
    "http://0x7f000001/",
    "http://0177.0.0.1/",  # octal
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0:6379/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared address space
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "https://127.0.0.1:443/",
]


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record (and forbid) every outgoing connection: refusals must come before any."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def create(client: FlaskClient, token: str, url: str) -> Any:
    return client.post(
        "/api/v1/webhooks",
        json={"name": "探测", "url": url, "events": ["*"]},
        headers=bearer(token),
    )


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_targets_are_refused_at_subscription(
    client: FlaskClient, tokens: dict[str, str], url: str, no_connections: list[Any]
) -> None:
    body = assert_error(create(client, tokens["admin"], url), 422, "target_not_allowed", "url")
    assert "公网" in body["message_zh"]
    assert not no_connections


def test_an_unresolvable_host_is_refused(
    client: FlaskClient, tokens: dict[str, str], no_connections: list[Any]
) -> None:
    response = create(client, tokens["admin"], "http://no-such-host.invalid/hook")
    assert_error(response, 422, "target_not_allowed", "url")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/"])
def test_other_schemes_are_refused(client: FlaskClient, tokens: dict[str, str], url: str) -> None:
    assert create(client, tokens["admin"], url).status_code == 422


def test_a_public_address_is_accepted_without_connecting(
    client: FlaskClient, tokens: dict[str, str], no_connections: list[Any]
) -> None:
    # 2001:db8:: and TEST-NETs are reserved; this is an ordinary public address. No traffic
    # is sent: creating a subscription only resolves and checks.
    response = create(client, tokens["admin"], "https://203.0.114.10/hook")
    assert response.status_code == 201, response.get_json()
    assert not no_connections


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2400:3200::1", True),
        ("127.0.0.1", False),
        ("::ffff:10.1.2.3", False),
        ("::ffff:8.8.8.8", True),
        ("fe80::1%1", False),
        ("192.0.2.1", False),  # TEST-NET-1 documentation range
        ("198.18.0.1", False),  # benchmarking
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert outbound.is_public(ipaddress.ip_address(address)) is public


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A loopback receiver that records the paths it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.path)
            body = ("secret internal page\r\n\x1b[31m" + "x" * 500).encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://rebind.test:{server.server_address[1]}/hook", seen
    finally:
        server.shutdown()
        server.server_close()


def _subscribe_and_ping(app: Flask, world: World, url: str) -> int:
    from server.domain.roles import Role
    from server.services.messaging import webhooks
    from server.services.people.principal import Principal

    admin = Principal(
        user_id=world.user_ids["admin"],
        username="admin",
        role=Role.ADMIN,
        subdistrict_id=world.subdistrict_id,
        unit_id=None,
        grid_ids=frozenset(),
    )
    from server.models import WebhookDelivery
    from server.services.messaging.notify import new_delivery
    from server.services.uow import unit_of_work

    with app.app_context(), unit_of_work() as uow:
        sub = webhooks.create_subscription(uow, admin, name="r", url=url, events=["*"])
        delivery: WebhookDelivery = new_delivery(sub.subscription, "ping", {"message": "x"})
        uow.session.flush()
        return delivery.id


def test_dns_rebinding_is_refused_at_delivery_before_connecting(
    app: Flask,
    world: World,
    receiver: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host resolved to a public address when subscribed, to loopback when delivered."""
    url, seen = receiver
    answers = {"now": "203.0.114.10"}
    real = outbound.resolve
    monkeypatch.setattr(
        outbound,
        "resolve",
        lambda host, port: [answers["now"]] if host == "rebind.test" else real(host, port),
    )
    delivery_id = _subscribe_and_ping(app, world, url)
    answers["now"] = "127.0.0.1"
    from server.models import WebhookDelivery
    from server.services.messaging import webhooks

    with app.app_context():
        outcome = webhooks.deliver(delivery_id)
        from server.extensions import db

        row = db.session.get(WebhookDelivery, delivery_id)
        assert row is not None
        assert outcome.sent is False and row.status == "failed"
        assert row.last_error and row.last_error.startswith("refused")
    assert seen == []


def test_allow_listed_loopback_is_delivered_with_a_short_clean_excerpt(
    app: Flask,
    world: World,
    receiver: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = receiver
    url = url.replace("rebind.test", "127.0.0.1")
    port = int(url.split(":")[2].split("/")[0])
    app.config["WEBHOOK_ALLOWED_HOSTS"] = (f"127.0.0.1:{port}",)
    try:
        delivery_id = _subscribe_and_ping(app, world, url)
        from server.extensions import db
        from server.models import WebhookDelivery
        from server.services.messaging import webhooks

        with app.app_context():
            webhooks.deliver(delivery_id)
            row = db.session.get(WebhookDelivery, delivery_id)
            assert row is not None and row.last_status_code == 500
            assert row.last_error is not None
            assert row.last_error.startswith("HTTP 500: secret internal page")
            assert len(row.last_error) <= len("HTTP 500: ") + outbound.EXCERPT_MAX
            assert "\r" not in row.last_error and "\x1b" not in row.last_error
        assert seen == ["/hook"]
    finally:
        app.config["WEBHOOK_ALLOWED_HOSTS"] = ()


def test_the_allow_list_names_a_port(
    app: Flask, client: FlaskClient, tokens: dict[str, str], no_connections: list[Any]
) -> None:
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ("127.0.0.1:8443",)
    try:
        assert create(client, tokens["admin"], "http://127.0.0.1:8443/hook").status_code == 201
        assert create(client, tokens["admin"], "http://127.0.0.1:5432/").status_code == 422
    finally:
        app.config["WEBHOOK_ALLOWED_HOSTS"] = ()


def test_redirects_are_not_followed(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.path)
            self.send_response(307)
            self.send_header("Location", "/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ("127.0.0.1",)
    try:
        delivery_id = _subscribe_and_ping(
            app, world, f"http://127.0.0.1:{server.server_address[1]}/h"
        )
        from server.services.messaging import webhooks

        with app.app_context():
            outcome = webhooks.deliver(delivery_id)
        assert outcome.status_code == 307 and outcome.retry
        assert hits == ["/h"]
    finally:
        app.config["WEBHOOK_ALLOWED_HOSTS"] = ()
        server.shutdown()
        server.server_close()


def test_the_allow_list_setting_is_read_and_checked() -> None:
    from server.config import ConfigError, load_config

    config = load_config({"MINQING_WEBHOOK_ALLOWED_HOSTS": "Gateway.Local:8080, 10.0.0.5"})
    assert config["WEBHOOK_ALLOWED_HOSTS"] == ("gateway.local:8080", "10.0.0.5")
    with pytest.raises(ConfigError):
        load_config({"MINQING_WEBHOOK_ALLOWED_HOSTS": "http://x/"})
