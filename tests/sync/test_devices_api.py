"""Devices for admins: issue (token once, QR), list with sync state, revoke, sync log."""

from __future__ import annotations

import base64
from typing import Any

from conftest import bearer
from flask.testing import FlaskClient
from helpers import assert_error, ok

from server.services.uow import unit_of_work


def test_issue_list_sync_log_and_revoke(client: FlaskClient, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    issued = ok(
        client.post(
            "/api/v1/devices", json={"collector": "collector", "name": "一号机"}, headers=admin
        ),
        201,
    )
    token = issued["token"]
    assert issued["provisioning"].endswith(f"/app/#pair={token}")
    assert base64.b64decode(issued["qr_png_base64"]).startswith(b"\x89PNG")
    device_id = issued["device"]["id"]
    pulled = ok(
        client.get("/api/v1/sync/pull", headers={**bearer(token), "X-App-Version": "1.4.2"})
    )
    listed = ok(client.get("/api/v1/devices?collector=collector", headers=admin))
    [row] = [d for d in listed if d["id"] == device_id]
    assert "token" not in row and row["token_hint"] == token[-4:]
    assert row["app_version"] == "1.4.2"
    assert row["last_sync_cursor"] == pulled["timestamp"] and row["pulls"] == 1
    log = ok(client.get(f"/api/v1/devices/{device_id}/syncs", headers=admin))
    assert log[0]["kind"] == "pull" and log[0]["cursor"] == pulled["timestamp"]
    assert log[0]["counts"]["grids"]["created"] == 1
    revoked = ok(client.post(f"/api/v1/devices/{device_id}/revoke", headers=admin))
    assert revoked["revoked_at"]
    assert client.get("/api/v1/sync/pull", headers=bearer(token)).status_code == 401


def test_devices_are_for_admins_of_the_subdistrict(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    body = {"collector": "collector"}
    for who in ("dispatcher", "collector", "staff"):
        response = client.post("/api/v1/devices", json=body, headers=bearer(tokens[who]))
        assert response.status_code == 403, who
    assert_error(
        client.post(
            "/api/v1/devices", json={"collector": "nobody"}, headers=bearer(tokens["admin"])
        ),
        404,
        "not_found",
        "collector",
    )
    assert_error(
        client.post("/api/v1/devices/nope/revoke", headers=bearer(tokens["admin"])),
        404,
        "not_found",
    )


def test_sync_photo_upload_is_idempotent_and_checked(
    app: Any, client: FlaskClient, tokens: dict[str, str]
) -> None:
    import hashlib
    import io

    from PIL import Image

    from server.services.people.devices import issue_device

    with app.app_context(), unit_of_work() as uow:
        device = bearer(issue_device(uow, "collector").token)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    photo = buffer.getvalue()
    sha = hashlib.sha256(photo).hexdigest()
    url = f"/api/v1/sync/attachments/{sha}"
    assert client.head(url, headers=device).status_code == 404
    assert client.put(url, data=photo, headers=device).status_code == 201
    assert client.put(url, data=photo, headers=device).status_code == 200  # a retry: no-op
    assert client.head(url, headers=device).status_code == 200
    other = "0" * 64
    assert_error(
        client.put(f"/api/v1/sync/attachments/{other}", data=photo, headers=device),
        400,
        "hash_mismatch",
    )
    app.config["MAX_CONTENT_LENGTH"], saved = 1024, app.config.get("MAX_CONTENT_LENGTH")
    try:
        big = b"\xff\xd8" + b"0" * 4096
        response = client.put(
            f"/api/v1/sync/attachments/{hashlib.sha256(big).hexdigest()}",
            data=big,
            headers=device,
        )
        assert response.status_code == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert client.put(url, data=photo).status_code == 401
