"""Location privacy: a patrol's track reaches only its collector's own devices (colleagues'
phones get the patrol without it); log photos are readable by the grid's collectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from conftest import World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1
from pages import png
from phones import Phone, issue


def _walk() -> list[list[float]]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    return [
        [A1[0] + i * 0.0001, A1[1], (start + timedelta(seconds=30 * i)).timestamp(), 5]
        for i in range(10)
    ]


def _patrol_in_pull(pull: dict[str, Any], patrol_id: str) -> dict[str, Any]:
    table = pull["changes"]["patrols"]
    (record,) = [r for r in table["created"] + table["updated"] if r["id"] == patrol_id]
    return record


def test_colleagues_phones_get_patrols_without_tracks(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.services.people.users import assign_grids
    from server.services.uow import unit_of_work

    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector2", [world.grid_codes["A1"]])  # a colleague in the same grid
    token = login(client, "collector")
    started = client.post(
        "/api/v1/patrols",
        json={"grid_id": world.grid_ids["A1"], "id": "patrol-privacy-01", "points": _walk()},
        headers=bearer(token),
    )
    assert started.status_code == 201, started.get_json()

    own = Phone(client, *issue(app, "collector"))
    colleague = Phone(client, *issue(app, "collector2"))
    mine = _patrol_in_pull(own.pull(), "patrol-privacy-01")
    theirs = _patrol_in_pull(colleague.pull(), "patrol-privacy-01")
    assert len(json.loads(mine["track"])) == 10
    assert json.loads(theirs["track"]) == []
    assert theirs["plausible"] is None
    for kept in ("grid_id", "status", "started_at", "ended_at", "distance_m", "coverage"):
        assert theirs[kept] == mine[kept]
    # dispatchers still read the track through the API
    dispatcher = login(client, "dispatcher")
    read = client.get("/api/v1/patrols/patrol-privacy-01", headers=bearer(dispatcher))
    assert read.status_code == 200


def _log_with_photo(client: FlaskClient, token: str) -> str:
    upload = client.post(
        "/api/v1/attachments",
        data={"file": (BytesIO(png((1, 2, 3))), "p.png")},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    assert upload.status_code in (200, 201), upload.get_json()
    sha = str(upload.get_json()["sha256"])
    logged = client.post(
        "/api/v1/patrol-logs",
        json={"text": "井盖缺失", "lon": A1[0], "lat": A1[1], "photos": [sha], "id": "log-priv-1"},
        headers=bearer(token),
    )
    assert logged.status_code == 201, logged.get_json()
    return sha


def test_log_photos_are_readable_by_the_grids_collectors(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.services.people.users import assign_grids
    from server.services.uow import unit_of_work

    sha = _log_with_photo(client, login(client, "collector"))
    outsider = login(client, "collector2")  # grid B1 only
    assert client.get(f"/api/v1/attachments/{sha}", headers=bearer(outsider)).status_code == 404
    with app.app_context(), unit_of_work() as uow:
        assign_grids(uow, "collector2", [world.grid_codes["A1"]])
    colleague = login(client, "collector2")
    response = client.get(f"/api/v1/attachments/{sha}", headers=bearer(colleague))
    assert response.status_code == 200
    assert response.data[:4] == b"\x89PNG"
    device_token, _ = issue(app, "collector2")  # and the colleague's phone
    head = client.head(f"/api/v1/sync/attachments/{sha}", headers=bearer(device_token))
    assert head.status_code == 200
    other_sd = login(client, "collector3")
    assert client.get(f"/api/v1/attachments/{sha}", headers=bearer(other_sd)).status_code == 404
