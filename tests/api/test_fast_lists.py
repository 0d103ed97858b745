"""Patrols and patrol logs listed from plain rows and orjson: the same bytes as the ORM path
(the list of patrols no longer loads their points or track, only counts the points)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, ok
from test_patrols_api import A1_BOX, T0, perimeter_walk


def _patrols_and_logs(client: FlaskClient, world: World, tokens: dict[str, str]) -> None:
    c = bearer(tokens["collector"])
    walk = perimeter_walk(*A1_BOX)
    drive = perimeter_walk(*A1_BOX, speed=15.0)
    for pid, points in (("patrol-walk-00001", walk), ("patrol-car-000001", drive)):
        ok(
            client.post(
                "/api/v1/patrols",
                headers=c,
                json={"grid_id": world.grid_ids["A1"], "id": pid, "started_at": T0.isoformat(),
                      "points": points},
            ),
            201,
        )  # fmt: skip
        ended_at = datetime.fromtimestamp(points[-1][2], UTC).isoformat()
        ok(client.post(f"/api/v1/patrols/{pid}/end", headers=c, json={"ended_at": ended_at}))
    ok(
        client.post(
            "/api/v1/patrols",
            headers=c,
            json={"grid_id": world.grid_ids["A1"], "id": "patrol-open-00001"},
        ),
        201,
    )  # active, no points yet
    for i, text in enumerate(["路面坑洼", "垃圾堆放", "井盖松动"]):
        body = {"text": text, "lon": A1[0], "lat": A1[1], "id": f"log-00000000000{i}"}
        if i == 1:
            body["patrol_id"] = "patrol-open-00001"
        ok(client.post("/api/v1/patrol-logs", headers=c, json=body), 201)


def _reference(app: Flask, token: str, path: str, query: dict[str, Any]) -> bytes:
    from server.api import patrols as api
    from server.services.patrolling import patrols
    from server.services.people.auth import resolve_bearer
    from server.services.uow import unit_of_work

    with app.test_request_context():
        with unit_of_work() as uow:
            principal = resolve_bearer(uow, token)
        if path == "/api/v1/patrols":
            args = api.ListArgs().load(query)
            page = patrols.list_patrols(
                principal, api._filter(args), cursor=args.get("cursor"), limit=args["limit"]
            )
            body = api.PatrolPage().dump({"items": page.items, "next_cursor": page.next_cursor})
        else:
            args = api.LogListArgs().load(query)
            page = patrols.list_logs(
                principal,
                api._filter(args),
                patrol_id=args.get("patrol"),
                cursor=args.get("cursor"),
                limit=args["limit"],
            )
            body = api.LogPage().dump({"items": page.items, "next_cursor": page.next_cursor})
        return bytes(app.json.response(body).get_data())


@pytest.mark.parametrize("path", ["/api/v1/patrols", "/api/v1/patrol-logs"])
def test_lists_give_the_same_bytes_as_the_orm_path(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], path: str
) -> None:
    _patrols_and_logs(client, world, tokens)
    for who in ("collector", "dispatcher", "collector2"):
        for query in ({}, {"limit": "2"}, {"patrol": "patrol-open-00001"}):
            if "patrol" in query and path == "/api/v1/patrols":
                continue
            response = client.get(path, query_string=query, headers=bearer(tokens[who]))
            assert response.status_code == 200
            assert response.get_data() == _reference(app, tokens[who], path, query), (who, query)
            cursor = response.get_json()["next_cursor"]
            if cursor:
                nxt = {**query, "cursor": cursor}
                again = client.get(path, query_string=nxt, headers=bearer(tokens[who]))
                assert again.get_data() == _reference(app, tokens[who], path, nxt), (who, nxt)
    items = ok(client.get("/api/v1/patrols", headers=bearer(tokens["dispatcher"])))["items"]
    counts = {p["id"]: p["point_count"] for p in items}
    assert counts["patrol-open-00001"] == 0 and counts["patrol-walk-00001"] > 100
    car = next(p for p in items if p["id"] == "patrol-car-000001")
    assert "too_fast" in {f["code"] for f in car["flags"]}
    assert ok(client.get("/api/v1/patrols", headers=bearer(tokens["collector2"])))["items"] == []
