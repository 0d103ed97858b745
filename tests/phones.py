"""Phones for the sync tests: device tokens and a small protocol client on the test client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient

from server.services.uow import unit_of_work


@dataclass
class Phone:
    """One device speaking the protocol through the Flask test client."""

    client: FlaskClient
    token: str
    device_id: str
    last_pulled_at: int | None = None
    pulls: list[dict[str, Any]] = field(default_factory=list)

    def pull(self, since: Any = "mine") -> dict[str, Any]:
        cursor = self.last_pulled_at if since == "mine" else since
        query = "" if cursor is None else f"?last_pulled_at={cursor}"
        response = self.client.get(f"/api/v1/sync/pull{query}", headers=bearer(self.token))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = json.loads(response.get_data(as_text=True))
        self.last_pulled_at = body["timestamp"]
        self.pulls.append(body)
        return body

    def push(self, changes: dict[str, Any], since: Any = "mine") -> Any:
        cursor = self.last_pulled_at if since == "mine" else since
        return self.client.post(
            f"/api/v1/sync/push?last_pulled_at={'null' if cursor is None else cursor}",
            data=json.dumps(changes),
            headers={**bearer(self.token), "Content-Type": "application/json"},
        )


def issue(app: Flask, username: str) -> tuple[str, str]:
    from server.services.people.devices import issue_device

    with app.app_context():
        with unit_of_work() as uow:
            issued = issue_device(uow, username)
        return issued.token, issued.device.id


@pytest.fixture
def phone(app: Flask, client: FlaskClient, world: World) -> Phone:
    token, device_id = issue(app, "collector")
    return Phone(client, token, device_id)


@pytest.fixture
def make_phone(app: Flask, client: FlaskClient, world: World) -> Any:
    def make(username: str = "collector") -> Phone:
        token, device_id = issue(app, username)
        return Phone(client, token, device_id)

    return make


def ids(pull: dict[str, Any], table: str, kind: str) -> list[str]:
    items = pull["changes"][table][kind]
    return sorted(i if kind == "deleted" else i["id"] for i in items)
