"""The queue and its counts from plain rows and orjson: the same bytes as the ORM path.

`GET /api/v1/cases` builds its page from `case_queries.list_case_rows` (a Core select of
the columns a page shows), `case_present.present_row` and orjson. Here every role's page is
compared byte for byte with what the ORM objects, `case_present.present` and the route's
marshmallow schema write through the app's JSON provider.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import B1, act, dispatched, new_case, ok, report


def _cases_in_many_states(client: FlaskClient, tokens: dict[str, str], world: World) -> None:
    new_case(client, tokens)  # reported
    ok(report(client, tokens["collector2"], at=B1, description="楼道堆放杂物"), 201)
    ok(
        report(
            client,
            tokens["dispatcher"],
            source="hotline",
            reporter_name="王小明",
            reporter_phone="13912345678",
            address="清江路 12 号",
            description="路灯不亮 100% _dark_",
        ),
        201,
    )
    case = dispatched(client, tokens, world)
    case = ok(act(client, tokens["staff"], case, "acknowledge"))
    ok(
        act(
            client,
            tokens["staff"],
            case,
            "request_extension",
            deadline="2099-01-01T00:00:00+08:00",
            reason="等配件",
        )
    )
    accepted = ok(act(client, tokens["dispatcher"], new_case(client, tokens), "accept"))
    ok(act(client, tokens["dispatcher"], accepted, "dispatch", unit_id=world.unit_id))
    urgent = ok(
        act(client, tokens["dispatcher"], new_case(client, tokens, priority="urgent"), "accept")
    )
    ok(act(client, tokens["dispatcher"], urgent, "dispatch", unit_id=world.unit_id))  # due in 4 h


def _reference(app: Flask, token: str, query: dict[str, Any]) -> bytes:
    """The page as the ORM path writes it: objects, present(), the schema, Flask's JSON."""
    from server.api.cases import CasePageSchema, ListArgs, case_filter
    from server.services.caseloop import case_present, case_queries
    from server.services.people.auth import resolve_bearer
    from server.services.uow import unit_of_work

    with app.test_request_context():
        args = ListArgs().load(query)
        with unit_of_work() as uow:
            principal = resolve_bearer(uow, token)
        page = case_queries.list_cases(
            principal,
            case_filter(args),
            sort=args["sort"],
            cursor=args.get("cursor"),
            limit=args["limit"],
        )
        body = CasePageSchema().dump(
            {
                "items": [case_present.present(c, principal) for c in page.items],
                "next_cursor": page.next_cursor,
            }
        )
        return bytes(app.json.response(body).get_data())


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"limit": "2"},
        {"sort": "deadline_at"},
        {"sort": "-updated_at", "stage": "handle"},
        {"q": "路灯"},
        {"q": "100%"},
    ],
)
def test_every_role_gets_the_same_bytes_as_the_orm_path(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], query: dict[str, Any]
) -> None:
    _cases_in_many_states(client, tokens, world)
    seen = 0
    for who in ("dispatcher", "admin", "cityadmin", "staff", "collector", "collector2"):
        response = client.get("/api/v1/cases", query_string=query, headers=bearer(tokens[who]))
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.get_data() == _reference(app, tokens[who], query), who
        seen += len(response.get_json()["items"])
        if "limit" in query and response.get_json()["next_cursor"]:
            cursor = response.get_json()["next_cursor"]
            nxt = {**query, "cursor": cursor}
            again = client.get("/api/v1/cases", query_string=nxt, headers=bearer(tokens[who]))
            assert again.get_data() == _reference(app, tokens[who], nxt), who
    assert seen > 0


def test_masking_in_the_fast_page(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    _cases_in_many_states(client, tokens, world)

    def hotline(who: str) -> dict[str, Any]:
        items = ok(client.get("/api/v1/cases", headers=bearer(tokens[who])))["items"]
        (case,) = [c for c in items if c["source"] == "hotline"]
        return dict(case)

    full = hotline("dispatcher")
    assert full["reporter"] == {
        "role": "dispatcher",
        "name": "王小明",
        "phone": "13912345678",
        "phone_consent": False,
    }
    assert "public_token" in full
    masked = hotline("collector")  # A1 is the collector's grid
    assert masked["reporter"]["name"] == "王**"
    assert masked["reporter"]["phone"] == "139****5678"
    assert "public_token" not in masked
    assert masked["allowed_actions"] == []
    staff_items = ok(client.get("/api/v1/cases", headers=bearer(tokens["staff"])))["items"]
    extension = [c for c in staff_items if c["extension_request"]]
    assert extension and "request_extension" not in extension[0]["allowed_actions"]


def test_counts_match_a_count_of_the_queue(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    _cases_in_many_states(client, tokens, world)
    for who in ("dispatcher", "staff", "collector"):
        counts = ok(client.get("/api/v1/cases/counts", headers=bearer(tokens[who])))
        items = ok(client.get("/api/v1/cases?limit=200", headers=bearer(tokens[who])))["items"]
        assert sum(counts["by_status"].values()) == len(items)
        assert sum(counts["by_stage"].values()) == len(items)
        for status, n in counts["by_status"].items():
            assert n == sum(1 for c in items if c["status"] == status), (who, status)
        on_clock = [c for c in items if c["status"] in ("dispatched", "in_progress")]
        assert counts["overdue"] == sum(1 for c in on_clock if c["overdue"])
        due_soon = [c for c in on_clock if c["priority"] == "urgent"]  # the others: days away
        assert counts["due_within_24h"] == len(due_soon) == 1, who
    assert (
        ok(client.get("/api/v1/cases/counts", headers=bearer(tokens["dispatcher"])))["by_stage"][
            "handle"
        ]
        == 3
    )


def test_only_an_unfiltered_dispatcher_page_may_use_a_generic_plan(
    app: Flask, client: FlaskClient, tokens: dict[str, str], world: World
) -> None:
    """PostgreSQL connections force a custom plan per execution; the plain page of a
    dispatcher (no filter, no search) lets the connection keep its prepared plan for that one
    statement and sets the custom plans back after it. Filtered pages and other roles' pages
    never change it."""
    from sqlalchemy import event

    from server.extensions import db

    _cases_in_many_states(client, tokens, world)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return
    seen: list[str] = []

    def _record(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if "plan_cache_mode" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", _record)
    try:
        first = ok(client.get("/api/v1/cases?limit=2", headers=bearer(tokens["dispatcher"])))
        assert seen == [
            "SET LOCAL plan_cache_mode = auto",
            "SET LOCAL plan_cache_mode = force_custom_plan",
        ]
        seen.clear()
        for path, who in (
            ("/api/v1/cases?limit=2&q=路灯", "dispatcher"),
            ("/api/v1/cases?limit=2&status=reported", "dispatcher"),
            ("/api/v1/cases?limit=2", "staff"),
            ("/api/v1/cases?limit=2", "collector"),
        ):
            ok(client.get(path, headers=bearer(tokens[who])))
        assert seen == []
        nxt = ok(
            client.get(
                "/api/v1/cases",
                query_string={"limit": 2, "cursor": first["next_cursor"]},
                headers=bearer(tokens["dispatcher"]),
            )
        )
        assert len(seen) == 2 and nxt["items"]  # the next page by cursor is plain too
    finally:
        event.remove(engine, "before_cursor_execute", _record)
