"""The case loop over HTTP: report, act, refuse, list, bulk, extensions, KPIs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, B1, act, assert_error, dispatched, new_case, ok, report
from sqlalchemy import func, select


def counts(app: Flask) -> dict[str, int]:
    from server.extensions import db
    from server.models import Case, CaseEvent, Rating

    with app.app_context():
        return {
            m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Case, CaseEvent, Rating)
        }


# ---------------------------------------------------------------------------------- report


def test_collector_reports_in_gcj02(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    from geo.crs import from_wgs84

    lon, lat = from_wgs84(*A1, "gcj02")
    body = ok(report(client, tokens["collector"], at=(lon, lat), crs="gcj02"), 201)
    case = body["case"]
    assert re.fullmatch(r"MQ-\d{8}-0001", case["number"])
    assert case["status"] == "reported" and case["stage"] == "collect"
    assert case["grid"]["code"] == world.grid_codes["A1"]
    assert case["source"] == "patrol"
    assert case["priority"] == "normal"  # the category's default
    assert case["version"] == 1
    assert case["lon"] == pytest.approx(A1[0], abs=1e-6)
    assert len(body["public_token"]) >= 32
    assert body["public_url"].endswith("/r/" + body["public_token"])
    assert body["duplicates"] == []
    second = ok(report(client, tokens["collector"], at=(A1[0] + 0.0002, A1[1])), 201)
    assert second["case"]["number"].endswith("-0002")
    assert [d["id"] for d in second["duplicates"]] == [case["id"]]
    assert 15 < second["duplicates"][0]["distance_m"] < 25


def test_duplicates_respect_radius_and_category(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    first = new_case(client, tokens)
    far = ok(report(client, tokens["collector"], at=(A1[0] + 0.001, A1[1])), 201)  # ~94 m
    assert far["duplicates"] == []
    assert first["id"]


@pytest.mark.parametrize(
    ("who", "at", "extra", "status", "code", "field"),
    [
        ("collector", (119.2, 32.39), {}, 422, "outside_subdistrict", "lon"),
        ("collector", B1, {}, 422, "outside_your_grids", "lon"),
        ("collector", A1, {"category": "nope"}, 422, "unknown_category", "category"),
        ("collector", A1, {"priority": "asap"}, 422, "validation_error", "priority"),
        ("collector", A1, {"photos": ["0" * 64]}, 422, "unknown_attachment", "photos"),
        ("collector", A1, {"crs": "gcj03"}, 422, "validation_error", "crs"),
        ("collector", A1, {"description": ""}, 422, "validation_error", "description"),
        ("staff", A1, {}, 403, "forbidden", None),
        ("dispatcher2", A1, {}, 422, "outside_subdistrict", "lon"),
        ("dispatcher", A1, {"source": "resident"}, 422, "validation_error", "source"),
    ],
)
def test_bad_reports_write_nothing(
    app: Flask,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    who: str,
    at: tuple[float, float],
    extra: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = counts(app)
    assert_error(report(client, tokens[who], at=at, **extra), status, code, field)
    assert counts(app) == before


def test_dispatcher_reports_for_a_caller(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    body = ok(
        report(
            client,
            tokens["dispatcher"],
            at=B1,
            source="hotline",
            reporter_phone="13912345678",
            reporter_name="李四",
        ),
        201,
    )
    assert body["case"]["source"] == "hotline"
    assert body["case"]["reporter"] == {
        "role": "dispatcher",
        "name": "李四",
        "phone": "13912345678",
        "phone_consent": False,  # the caller did not allow the handling unit to call
    }
    assert body["case"]["public_token"] == body["public_token"]
    seen_by_collector = ok(
        client.get(f"/api/v1/cases/{body['case']['id']}", headers=bearer(tokens["collector2"]))
    )
    assert seen_by_collector["reporter"]["phone"] == "139****5678"
    assert seen_by_collector["reporter"]["name"] == "李*"
    assert "public_token" not in seen_by_collector


def test_resident_reports_anonymously_and_is_rate_limited(
    app: Flask, client: FlaskClient, world: World
) -> None:
    body = ok(report(client, None, reporter_phone="13700001111"), 201)
    assert body["case"]["source"] == "resident"
    assert body["case"]["reporter"]["phone"] == "137****1111"  # masked even for themselves
    assert "public_token" not in body["case"] and body["public_token"]
    limit = app.config["RESIDENT_REPORTS_PER_HOUR"]
    for _ in range(limit - 1):
        ok(report(client, None), 201)
    before = counts(app)
    limited = report(client, None)
    assert_error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) > 0
    assert counts(app) == before


def test_a_retried_offline_report_is_not_duplicated(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    first = report(client, tokens["collector"], id="phone-abc-00000001")
    assert first.status_code == 201
    again = report(client, tokens["collector"], id="phone-abc-00000001")
    assert again.status_code == 200
    assert again.get_json()["case"]["id"] == "phone-abc-00000001"
    assert counts(app)["cases"] == 1
    taken = report(client, tokens["dispatcher"], id="phone-abc-00000001")
    assert_error(taken, 409, "id_taken", "id")


# ---------------------------------------------------------------------------------- actions


def test_refusals_change_nothing(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    before = counts(app)
    # illegal transition: acknowledge a case that is only reported
    assert_error(act(client, tokens["dispatcher"], case, "acknowledge"), 403, "role_not_allowed")
    assert_error(
        act(client, tokens["dispatcher"], case, "report_done", result="x"), 403, "role_not_allowed"
    )
    assert_error(
        act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id),
        409,
        "illegal_transition",
    )
    # wrong role: a collector cannot accept
    assert_error(act(client, tokens["collector"], case, "accept"), 403, "role_not_allowed")
    # another grid's collector, another unit, another subdistrict: not even visible
    assert_error(act(client, tokens["collector2"], case, "verify_ok"), 404, "not_found")
    assert_error(act(client, tokens["dispatcher2"], case, "accept"), 404, "not_found")
    assert_error(act(client, tokens["staff"], case, "acknowledge"), 404, "not_found")
    # stale version
    assert_error(
        act(client, tokens["dispatcher"], case, "accept", version=7),
        409,
        "stale_version",
        "version",
    )
    # unknown action, missing required field
    assert_error(act(client, tokens["dispatcher"], case, "teleport"), 404, "unknown_action")
    assert_error(
        act(client, tokens["dispatcher"], case, "reject"), 422, "validation_error", "reason"
    )
    assert counts(app) == before
    fresh = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["dispatcher"])))
    assert fresh["version"] == 1 and len(fresh["events"]) == 1


def test_one_event_per_successful_action_and_versions(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = new_case(client, tokens)
    accepted = ok(act(client, tokens["dispatcher"], case, "accept"))
    assert accepted["version"] == 2
    # replaying the same request with the old version is refused, not applied twice
    assert_error(act(client, tokens["dispatcher"], case, "accept"), 409, "stale_version")
    detail = ok(client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["dispatcher"])))
    assert [e["action"] for e in detail["events"]] == ["report", "accept"]
    assert [e["seq"] for e in detail["events"]] == [1, 2]


def test_dispatch_sets_deadline_from_category(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = dispatched(client, tokens, world)
    assert case["status"] == "dispatched"
    assert case["unit"] == {"id": world.unit_id, "name": "城管中队"}
    deadline = datetime.fromisoformat(case["deadline_at"])
    hours = (deadline - datetime.fromisoformat(case["dispatched_at"])).total_seconds() / 3600
    assert hours == pytest.approx(72, abs=0.01)  # sanitation, normal priority


def test_dispatch_with_deadline_override_and_unknown_unit(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept"))
    assert_error(
        act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.other_unit_id),
        422,
        "unknown_unit",
        "unit_id",
    )
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert_error(
        act(client, tokens["dispatcher"], case, "dispatch", unit_id=world.unit_id, deadline=past),
        422,
        "deadline_in_past",
        "deadline",
    )
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    done = ok(
        act(
            client,
            tokens["dispatcher"],
            case,
            "dispatch",
            unit_id=world.unit_id,
            deadline=soon.isoformat(),
        )
    )
    assert datetime.fromisoformat(done["deadline_at"]) == soon


def test_send_back_returns_to_the_dispatcher(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = dispatched(client, tokens, world)
    back = ok(act(client, tokens["staff"], case, "send_back", reason="不属于本单位职责"))
    assert back["status"] == "accepted"
    assert back["unit"] is None and back["deadline_at"] is None
    assert back["send_back_count"] == 1
    # the unit no longer sees it
    assert_error(
        client.get(f"/api/v1/cases/{case['id']}", headers=bearer(tokens["staff"])), 404, "not_found"
    )


def test_extension_request_and_decisions(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    case = ok(act(client, tokens["staff"], dispatched(client, tokens, world), "acknowledge"))
    assert "request_extension" in case["allowed_actions"]
    assert_error(
        act(client, tokens["dispatcher"], case, "approve_extension"), 409, "no_pending_extension"
    )
    later = datetime.fromisoformat(case["deadline_at"]) + timedelta(days=2)
    asked = ok(
        act(
            client,
            tokens["staff"],
            case,
            "request_extension",
            deadline=later.isoformat(),
            reason="需采购配件",
        )
    )
    assert asked["extension_request"]["reason"] == "需采购配件"
    assert_error(
        act(
            client,
            tokens["staff"],
            asked,
            "request_extension",
            deadline=later.isoformat(),
            reason="again",
        ),
        409,
        "extension_pending",
    )
    denied = ok(act(client, tokens["dispatcher"], asked, "deny_extension", reason="时限足够"))
    assert denied["extension_request"] is None
    assert denied["deadline_at"] == case["deadline_at"]
    asked = ok(
        act(
            client,
            tokens["staff"],
            denied,
            "request_extension",
            deadline=later.isoformat(),
            reason="需采购配件",
        )
    )
    approved = ok(act(client, tokens["dispatcher"], asked, "approve_extension"))
    assert datetime.fromisoformat(approved["deadline_at"]) == later
    assert approved["extension_count"] == 1


def test_merge_into_an_open_case(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    first = new_case(client, tokens)
    second = new_case(client, tokens)
    assert_error(
        act(client, tokens["dispatcher"], second, "merge", into=second["id"]),
        422,
        "invalid_merge_target",
        "into",
    )
    merged = ok(act(client, tokens["dispatcher"], second, "merge", into=first["id"]))
    assert merged["status"] == "merged" and merged["merged_into"] == first["id"]
    assert merged["stage"] == "done"


def test_bulk_dispatch_is_all_or_nothing(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    cases = [
        ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept")) for _ in range(3)
    ]
    stale = [{"id": c["id"], "version": c["version"]} for c in cases]
    stale[1]["version"] = 99
    before = counts(app)
    refused = client.post(
        "/api/v1/cases/bulk/dispatch",
        headers=bearer(tokens["dispatcher"]),
        json={"cases": stale, "unit_id": world.unit_id},
    )
    body = assert_error(refused, 409, "bulk_refused")
    assert [d["id"] for d in body["details"]] == [cases[1]["id"]]
    assert body["details"][0]["code"] == "stale_version"
    assert counts(app) == before
    items = [{"id": c["id"], "version": c["version"]} for c in cases]
    done = ok(
        client.post(
            "/api/v1/cases/bulk/dispatch",
            headers=bearer(tokens["dispatcher"]),
            json={"cases": items, "unit_id": world.unit_id},
        )
    )
    assert {c["status"] for c in done["dispatched"]} == {"dispatched"}
    assert_error(
        client.post(
            "/api/v1/cases/bulk/dispatch",
            headers=bearer(tokens["staff"]),
            json={"cases": items, "unit_id": world.unit_id},
        ),
        403,
        "forbidden",
    )


# ---------------------------------------------------------------------------------- lists


def test_queue_scope_filters_and_cursor(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    mine = [new_case(client, tokens) for _ in range(3)]
    theirs = ok(report(client, tokens["collector2"], at=B1), 201)["case"]
    ok(act(client, tokens["dispatcher"], mine[0], "accept"))

    def ids(token: str, query: str = "") -> list[str]:
        got: list[str] = []
        url = f"/api/v1/cases?limit=2{query}"
        for _ in range(10):
            page = ok(client.get(url, headers=bearer(token)))
            got += [c["id"] for c in page["items"]]
            if not page["next_cursor"]:
                return got
            url = f"/api/v1/cases?limit=2{query}&cursor={page['next_cursor']}"
        raise AssertionError("pagination did not end")

    assert sorted(ids(tokens["dispatcher"])) == sorted([c["id"] for c in mine] + [theirs["id"]])
    assert len(ids(tokens["dispatcher"])) == 4  # no repeats across pages
    assert sorted(ids(tokens["collector"])) == sorted(c["id"] for c in mine)
    assert ids(tokens["collector2"]) == [theirs["id"]]
    assert ids(tokens["staff"]) == []
    assert ids(tokens["dispatcher2"]) == []
    assert ids(tokens["dispatcher"], "&status=accepted") == [mine[0]["id"]]
    assert sorted(ids(tokens["dispatcher"], "&stage=collect")) == sorted(
        [c["id"] for c in mine] + [theirs["id"]]
    )
    assert ids(tokens["dispatcher"], f"&grid={world.grid_ids['B1']}") == [theirs["id"]]
    assert ids(tokens["dispatcher"], "&q=" + mine[1]["number"]) == [mine[1]["id"]]
    assert ids(tokens["dispatcher"], "&overdue=true") == []
    newest_first = ids(tokens["dispatcher"])
    assert newest_first == list(reversed(ids(tokens["dispatcher"], "&sort=created_at")))
    count = ok(client.get("/api/v1/cases/counts", headers=bearer(tokens["dispatcher"])))
    assert count["by_stage"]["collect"] == 4
    assert count["by_status"]["accepted"] == 1


def test_queue_rejects_bad_cursor(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    assert_error(
        client.get("/api/v1/cases?cursor=abc", headers=bearer(tokens["dispatcher"])),
        400,
        "invalid_cursor",
        "cursor",
    )
