"""Deliberation topics and 阳光五务 notices on collectors' phones: pull only, scoped to the
communities of the collector's grids, names masked; a phone of schema version 1 that
migrates gets the new tables whole; a phone's edits of them are refused and corrected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import World, bearer
from flask.testing import FlaskClient
from helpers import ok
from phones import Phone, ids


def propose(client: FlaskClient, token: str, community: int, title: str) -> dict[str, Any]:
    return ok(  # type: ignore[no-any-return]
        client.post(
            "/api/v1/deliberations",
            json={
                "community_id": community,
                "title": title,
                "description": "需要议事",
                "proposer_name": "李四海",
                "address": "文昌苑",
            },
            headers=bearer(token),
        ),
        201,
    )


def publish(client: FlaskClient, token: str, community: int, title: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return ok(  # type: ignore[no-any-return]
        client.post(
            "/api/v1/notices",
            json={
                "community_id": community,
                "category": "finance",
                "title": title,
                "body": "收入 12 万元，支出 9 万元",
                "published_from": (now - timedelta(hours=1)).isoformat(),
                "published_until": (now + timedelta(days=10)).isoformat(),
            },
            headers=bearer(token),
        ),
        201,
    )


def test_schema_version_2_has_topics_and_notices(client: FlaskClient, phone: Phone) -> None:
    schema = ok(client.get("/api/v1/sync/schema", headers=bearer(phone.token)))
    assert schema["version"] == 2
    tables = {t["name"]: {c["name"] for c in t["columns"]} for t in schema["tables"]}
    assert {"title", "status", "public_path", "proposer", "community_id"} <= tables["topics"]
    assert {"category", "published_from", "published_until", "withdrawn"} <= tables["notices"]


def test_topics_and_notices_of_the_collectors_communities_reach_the_phone(
    client: FlaskClient, phone: Phone, world: World, tokens: dict[str, str]
) -> None:
    d = tokens["dispatcher"]
    mine = propose(client, d, world.community_ids["A"], "停车难")
    propose(client, d, world.community_ids["B"], "别的社区的议题")
    notice = publish(client, d, world.community_ids["A"], "三季度财务公开")
    publish(client, d, world.community_ids["B"], "别的社区的公告")

    first = phone.pull(None)
    assert ids(first, "topics", "created") == [str(mine["id"])]
    (topic,) = first["changes"]["topics"]["created"]
    assert topic["title"] == "停车难" and topic["status"] == "proposed"
    assert topic["status_zh"] == "已提议" or topic["status_zh"]
    assert topic["proposer"] == "李**"  # masked for collectors
    assert topic["public_path"] == f"/t/{mine['public_token']}"
    assert topic["community_id"] == str(world.community_ids["A"])
    assert ids(first, "notices", "created") == [str(notice["id"])]
    (row,) = first["changes"]["notices"]["created"]
    assert row["withdrawn"] is False and row["published_until"] > row["published_from"]

    # a step of the topic and a withdrawn notice arrive as updates
    ok(
        client.post(
            f"/api/v1/deliberations/{mine['id']}/actions/accept",
            json={"version": mine["version"]},
            headers=bearer(d),
        )
    )
    ok(
        client.post(
            f"/api/v1/notices/{notice['id']}/withdraw",
            json={"reason": "数字有误"},
            headers=bearer(d),
        )
    )
    later = phone.pull()
    (updated,) = later["changes"]["topics"]["updated"]
    assert updated["id"] == str(mine["id"]) and updated["status"] == "reviewing"
    (gone,) = later["changes"]["notices"]["updated"]
    assert gone["withdrawn"] is True
    # nothing else moved: another community's changes never reach this phone
    assert later["changes"]["topics"]["created"] == []


def test_a_phone_that_migrates_from_version_1_gets_the_tables_whole(
    client: FlaskClient, phone: Phone, world: World, tokens: dict[str, str]
) -> None:
    topic = propose(client, tokens["dispatcher"], world.community_ids["A"], "加装电梯")
    notice = publish(client, tokens["dispatcher"], world.community_ids["A"], "服务公开")
    phone.pull(None)  # the first sync (this phone already had them: the same cursor now)
    quiet = phone.pull()
    assert quiet["changes"]["topics"]["created"] == []
    migration = json.dumps({"from": 1, "tables": ["topics", "notices"], "columns": []})
    response = client.get(
        f"/api/v1/sync/pull?last_pulled_at={phone.last_pulled_at}&schema_version=2"
        f"&migration={migration}",
        headers=bearer(phone.token),
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert ids(body, "topics", "created") == [str(topic["id"])]
    assert ids(body, "notices", "created") == [str(notice["id"])]


def test_a_phones_edit_of_a_topic_is_refused_and_corrected(
    app: Any, client: FlaskClient, phone: Phone, world: World, tokens: dict[str, str]
) -> None:
    topic = propose(client, tokens["dispatcher"], world.community_ids["A"], "楼道堆物")
    first = phone.pull(None)
    (raw,) = first["changes"]["topics"]["created"]
    pushed = phone.push(
        {"topics": {"created": [], "updated": [{**raw, "title": "改了"}], "deleted": []}}
    )
    assert pushed.status_code == 200, pushed.get_data(as_text=True)
    from server.extensions import db
    from server.models import Topic

    with app.app_context():
        stored = db.session.get(Topic, topic["id"])
        assert stored is not None and stored.title == "楼道堆物"
    after = phone.pull()
    rejection = after["changes"]["sync_rejections"]["created"]
    assert rejection and rejection[0]["table_name"] == "topics"
