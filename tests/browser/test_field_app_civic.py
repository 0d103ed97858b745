"""The field app shows the community's open deliberation topics and current 阳光五务 notices
read-only (pulled, never pushed), and a phone paired at sync schema version 1 upgrades its
database to version 2 and then receives the new tables whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import World, bearer
from flask.testing import FlaskClient
from helpers import A1, ok

from browser.field_phone import Phone


@pytest.fixture
def phone(playwright: Any, live_server: Any, tmp_path: Path) -> Any:
    made: list[Phone] = []

    def make(name: str = "phone") -> Phone:
        p = Phone(playwright, live_server.url, tmp_path / name, A1)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def propose(client: FlaskClient, token: str, community: int, title: str) -> dict[str, Any]:
    return ok(  # type: ignore[no-any-return]
        client.post(
            "/api/v1/deliberations",
            json={
                "community_id": community,
                "title": title,
                "description": "晚上车停满消防通道，需要议事",
                "address": "文昌苑 3 幢",
                "proposer_name": "赵大爷",
            },
            headers=bearer(token),
        ),
        201,
    )


def publish(
    client: FlaskClient, token: str, community: int, title: str, starts_in: timedelta
) -> dict[str, Any]:
    start = datetime.now(UTC) + starts_in
    return ok(  # type: ignore[no-any-return]
        client.post(
            "/api/v1/notices",
            json={
                "community_id": community,
                "category": "finance",
                "title": title,
                "body": "收入 12 万元\n支出 9 万元",
                "published_from": start.isoformat(),
                "published_until": (start + timedelta(days=10)).isoformat(),
            },
            headers=bearer(token),
        ),
        201,
    )


def device(app: Any) -> tuple[str, str]:
    """A device of the collector: its token and its pairing link."""
    from server.services.people import devices
    from server.services.uow import unit_of_work

    with app.app_context():
        with unit_of_work() as uow:
            issued = devices.issue_device(uow, "collector")
        return issued.token, issued.provisioning_payload()


def test_the_collector_shows_open_topics_and_current_notices(
    app: Any,
    phone: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    check_a11y: Any,
    screenshot: Any,
) -> None:
    d = tokens["dispatcher"]
    topic = propose(client, d, world.community_ids["A"], "消防通道停车")
    propose(client, d, world.community_ids["B"], "别的社区的议题")
    publish(client, d, world.community_ids["A"], "三季度财务公开", timedelta(hours=-1))
    publish(client, d, world.community_ids["A"], "下月才公示的公告", timedelta(days=3))
    _, url = device(app)
    p: Phone = phone()
    page = p.open()
    page.goto(url[url.index("/app/") :])
    page.wait_for_function("() => window.minqingReady === true")
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert p.count("topics") == 1 and p.count("notices") == 2

    page.goto("/app/#/today")
    page.locator("#civic-link").filter(has_text="议题 1 个 · 公告 1 条").wait_for()
    page.locator("#civic-link").click()
    page.get_by_role("heading", name="社区议事与公开").wait_for()
    topics = page.locator("#topics").inner_text()
    assert "消防通道停车" in topics and "别的社区" not in topics and "已提议" in topics
    notices = page.locator("#notices").inner_text()
    assert "三季度财务公开" in notices and "下月才公示" not in notices
    check_a11y(page)
    p.no_sideways_scroll()
    screenshot(page, "field-app-civic")

    page.get_by_role("link", name="消防通道停车").click()
    link = page.locator("#topic-link")
    link.wait_for()
    assert link.inner_text().endswith(f"/t/{topic['public_token']}")
    assert "赵**" in page.locator("main").inner_text()
    assert "赵大爷" not in page.locator("main").inner_text()
    check_a11y(page)

    # a step of the council reaches the phone at the next sync
    ok(
        client.post(
            f"/api/v1/deliberations/{topic['id']}/actions/accept",
            json={"version": topic["version"]},
            headers=bearer(d),
        )
    )
    p.sync_now()
    page.goto(f"/app/#/topic/{topic['id']}")
    page.locator("#topic-status").filter(has_text="合议").wait_for()
    # nothing of it is pushed back: the phone has no pending change of these tables
    assert page.evaluate(
        """async () => (await window.minqing.state.database.get('topics').query().fetch())
               .every(r => r._raw._status === 'synced')"""
    )


def test_a_phone_of_schema_version_1_upgrades_and_gets_the_new_tables(
    app: Any, phone: Any, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    topic = propose(client, tokens["dispatcher"], world.community_ids["A"], "加装电梯")
    token, _ = device(app)
    me = ok(client.get("/api/v1/me", headers=bearer(token)))
    schema = ok(client.get("/api/v1/sync/schema", headers=bearer(token)))
    assert schema["version"] == 2
    old = {
        "version": 1,
        "tables": [t for t in schema["tables"] if t["name"] not in ("topics", "notices")],
    }
    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    page.get_by_role("heading", name="绑定这部手机").wait_for()
    # the phone as it was paired before version 2: its schema, token and collector
    page.evaluate(
        """async ([schema, token, me]) => {
             await window.minqing.kvSet('schema', schema)
             await window.minqing.kvSet('migrations', [])
             await window.minqing.kvSet('me', me)
             await window.minqing.kvSet('token', token)
           }""",
        [old, token, me],
    )
    page.reload()
    page.wait_for_function("() => window.minqingReady === true")
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert page.evaluate("() => window.minqing.state.database.schema.version") == 1
    assert p.count("grids") == 1
    # after its sync it found the newer schema: kept with the migration, used at next start
    page.locator("#status").filter(has_text="新版本已下载").wait_for()
    migrations = page.evaluate("() => window.minqing.kvGet('migrations')")
    assert [m["toVersion"] for m in migrations] == [2]
    assert {s.get("name") for s in migrations[0]["steps"]} == {"topics", "notices"}
    page.reload()
    page.wait_for_function("() => window.minqingReady === true")
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert page.evaluate("() => window.minqing.state.database.schema.version") == 2
    assert p.count("grids") == 1  # the migrated database kept its records
    # the sync told the server the tables are new: they came whole
    page.wait_for_function(
        "async () => (await window.minqing.state.database.get('topics').query().fetch()).length"
        " === 1"
    )
    page.goto("/app/#/civic")
    assert "加装电梯" in page.locator("#topics").inner_text()
    assert topic["public_token"]
