"""Scope and robustness rules found by review: photos, duplicates, races, bad times and dates."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import act, assert_error, dispatched, new_case, ok, report
from PIL import Image

from server.services.uow import unit_of_work


def upload(client: FlaskClient, token: str, colour: str = "blue") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    response = client.post(
        "/api/v1/attachments",
        headers=bearer(token),
        data={"file": (io.BytesIO(buffer.getvalue()), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return str(response.get_json()["sha256"])


def test_photos_are_read_only_by_uploader_or_who_sees_the_case(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    photo = upload(client, tokens["collector"])
    ok(report(client, tokens["collector"], photos=[photo]), 201)
    for who in ("collector", "dispatcher", "admin", "cityadmin"):
        assert (
            client.get(f"/api/v1/attachments/{photo}", headers=bearer(tokens[who])).status_code
            == 200
        ), who
    for who in ("staff", "collector2", "dispatcher2", "collector3"):
        assert_error(
            client.get(f"/api/v1/attachments/{photo}", headers=bearer(tokens[who])),
            404,
            "not_found",
        )
        assert (
            client.head(f"/api/v1/attachments/{photo}", headers=bearer(tokens[who])).status_code
            == 404
        )


def test_a_photo_of_another_case_cannot_be_attached(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    photo = upload(client, tokens["collector"], "red")
    ok(report(client, tokens["collector"], photos=[photo]), 201)
    from helpers import B1

    stolen = report(client, tokens["collector2"], at=B1, photos=[photo])
    assert_error(stolen, 422, "photo_not_yours", "photos")
    anonymous = report(client, None, photos=[photo])
    assert_error(anonymous, 422, "photo_not_yours", "photos")


def test_duplicates_are_not_shown_to_residents(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    ok(report(client, tokens["collector"], description="张三 13812345678 家门口垃圾"), 201)
    anonymous = ok(report(client, None), 201)
    assert anonymous["duplicates"] == []
    seen = ok(report(client, tokens["dispatcher"]), 201)
    assert len(seen["duplicates"]) == 2


def test_photos_only_on_actions_that_take_them(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    photo = upload(client, tokens["dispatcher"])
    case = new_case(client, tokens)
    assert_error(
        act(client, tokens["dispatcher"], case, "accept", photos=[photo]),
        422,
        "validation_error",
        "photos",
    )
    assert_error(
        act(client, tokens["dispatcher"], case, "accept", photos=["0" * 64]),
        422,
        "validation_error",
        "photos",
    )


def test_a_lost_race_is_409_not_500(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from server.errors import Conflict
    from server.services.caseloop import cases as case_service
    from server.services.people.auth import resolve_bearer

    case = new_case(client, tokens)
    with app.app_context():
        with unit_of_work() as uow:
            principal = resolve_bearer(uow, tokens["dispatcher"])
        case_service.visible_case(principal, case["id"])  # loaded at version 1 here …
        ok(act(client, tokens["dispatcher"], case, "accept"))  # … then accepted elsewhere
        with pytest.raises(Conflict) as info, unit_of_work() as uow:
            case_service.act(
                uow,
                principal,
                case["id"],
                "reject",
                case_service.ActionInput(version=1, reason="dup"),
            )
        assert info.value.code == "stale_version"


def test_a_collector_verifies_only_in_their_grids(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from conftest import login

    from server.services.people.users import assign_grids

    case = ok(act(client, tokens["staff"], dispatched(client, tokens, world), "acknowledge"))
    case = ok(act(client, tokens["staff"], case, "report_done", result="ok"))
    with app.app_context(), unit_of_work() as uow:  # the collector is moved to another grid
        assign_grids(uow, "collector", [world.grid_codes["A2"]], replace=True)
    token = login(client, "collector")
    assert_error(act(client, token, case, "verify_ok"), 403, "forbidden")


def test_track_times_from_a_broken_phone_clock_are_refused(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    c = bearer(tokens["collector"])
    ok(
        client.post(
            "/api/v1/patrols",
            headers=c,
            json={"grid_id": world.grid_ids["A1"], "id": "patrol-clock-0001"},
        ),
        201,
    )
    for t in (1e12, 100):
        response = client.post(
            "/api/v1/patrols/patrol-clock-0001/points",
            headers=c,
            json={"points": [[119.4325, 32.3925, t, 5]]},
        )
        assert_error(response, 422, "bad_track", "points")
    assert (
        ok(client.post("/api/v1/patrols/patrol-clock-0001/end", headers=c, json={}))["status"]
        == "ended"
    )


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", "/api/v1/index?date=0001-01-01", None, "date"),
        ("get", "/api/v1/index/history?community=1&to=0001-01-05", None, "to"),
        ("get", "/api/v1/stats/kpis?to=0001-01-02T00:00:00Z", None, "to"),
        ("get", "/api/v1/stats/patrols?to=0001-01-02T00:00:00Z", None, "to"),
        ("get", "/api/v1/cases?from=0001-01-01T00:00:00%2B14:00", None, "from"),
        ("post", "/api/v1/index/compute", {"date": "0001-01-01"}, "date"),
    ],
)
def test_dates_out_of_range_are_422(
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    method: str,
    url: str,
    body: Any,
    field: str,
) -> None:
    headers = bearer(tokens["dispatcher"])
    response = getattr(client, method)(url, headers=headers, json=body)
    assert_error(response, 422, "validation_error", field)
