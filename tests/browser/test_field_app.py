"""The field app (/app/) on a phone in Chromium against the live server: paired by sign-in,
then a whole offline day — reload and cold restart from the cache, a patrol of 32 fixes,
three logs with photos, a case report and a 返工 check, the browser closed and reopened
still offline — and one sync that sends it all, exactly once, photos readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSWORD, World, bearer
from flask.testing import FlaskClient
from helpers import A1, B1, act, ok, report

from browser.field_phone import Phone

STEP = 0.00004  # about 4 m a fix


def handled_case(client: FlaskClient, tokens: dict[str, str], world: World) -> dict[str, Any]:
    """A case in grid A1 that the unit reports done: it waits for the collector's check."""
    case = ok(report(client, tokens["dispatcher"], at=A1, description="路灯不亮"), 201)["case"]
    d, s = tokens["dispatcher"], tokens["staff"]
    case = ok(act(client, d, case, "accept"))
    case = ok(act(client, d, case, "dispatch", unit_id=world.unit_id))
    case = ok(act(client, s, case, "acknowledge"))
    return ok(act(client, s, case, "report_done", result="已修复"))


@pytest.fixture
def phone(playwright: Any, live_server: Any, tmp_path: Path) -> Any:
    made: list[Phone] = []

    def make(name: str = "phone", at: tuple[float, float] = A1) -> Phone:
        p = Phone(playwright, live_server.url, tmp_path / name, at)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_a_whole_offline_day_syncs_once(
    phone: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    tmp_path: Path,
    check_a11y: Any,
    screenshot: Any,
) -> None:
    case = handled_case(client, tokens, world)
    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    page.get_by_role("heading", name="绑定这部手机").wait_for()
    check_a11y(page)
    p.no_sideways_scroll()
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    p.wait_controlled()
    page.locator("#to-verify").get_by_text(case["number"]).wait_for()
    assert p.count("grids") == 1 and p.count("categories") >= 1
    check_a11y(page)
    p.no_sideways_scroll()
    screenshot(page, "field-app-today")

    # ---- the network goes: reload, then a cold start of the browser, from the cache
    p.set_offline(True)
    page.reload()
    page.wait_for_function("window.minqingReady === true")
    page.get_by_role("heading", name="今日", exact=True).wait_for()
    p.close()
    p.offline = True
    page = p.open()
    p.start_app()
    page.locator("#to-verify").get_by_text(case["number"]).wait_for()
    page.wait_for_selector('[data-phase="offline"]')

    # ---- a patrol: every fix lands in the phone's database
    page.get_by_role("link", name="巡查").click()
    page.get_by_role("button", name="开始巡查").click()
    page.get_by_role("button", name="结束巡查").wait_for()
    check_a11y(page)
    page.wait_for_selector("#fix-count")
    first = int(page.locator("#fix-count").inner_text())  # the position when it started
    lon0, lat0 = A1[0] - 0.001, A1[1] - 0.001
    for i in range(1, 33):
        p.move_to(lon0 + i * STEP, lat0 + (i % 2) * STEP)
        page.wait_for_function(
            "n => document.querySelector('#fix-count')?.textContent === String(n)", arg=first + i
        )
    fixes = first + 32
    screenshot(page, "field-app-patrol")

    # ---- three logs with photos, during the patrol
    for n in range(3):
        page.get_by_role("link", name="写日志").click()
        page.get_by_label("内容").fill(f"巡查日志 {n + 1}：楼道堆放杂物")
        page.locator("#photos").set_input_files(
            str(p.photo(tmp_path, f"log{n}.jpg", (40 * n, 90, 30)))
        )
        page.locator("#photo-list img").wait_for()
        if n == 0:
            check_a11y(page)
            p.no_sideways_scroll()
            screenshot(page, "field-app-log")
        page.get_by_role("button", name="保存日志").click()
        page.get_by_role("button", name="结束巡查").wait_for()
    page.get_by_role("button", name="结束巡查").click()
    page.get_by_role("button", name="开始巡查").wait_for()

    # ---- a case report with a photo
    page.get_by_role("link", name="上报").click()
    page.get_by_label("类别").select_option(label="环境卫生")
    page.get_by_label("问题描述").fill("垃圾桶满溢，需要清运")
    page.get_by_role("button", name="使用当前位置").click()
    page.locator("#photos").set_input_files(str(p.photo(tmp_path, "case.jpg", (200, 20, 20))))
    page.locator("#photo-list img").wait_for()
    check_a11y(page)
    p.no_sideways_scroll()
    page.get_by_role("button", name="上报", exact=True).click()
    page.get_by_role("heading", name="今日", exact=True).wait_for()

    # ---- 返工 on site, with a reason and a photo
    page.locator("#to-verify").get_by_text(case["number"]).click()
    page.get_by_role("radio", name="返工").check()
    page.get_by_label("说明（返工必填）").fill("灯仍然不亮")
    page.locator("#photos").set_input_files(str(p.photo(tmp_path, "check.jpg", (20, 20, 200))))
    page.locator("#photo-list img").wait_for()
    check_a11y(page)
    page.get_by_role("button", name="提交核查").click()
    page.locator("#verify-pending").wait_for()
    assert "待同步 6 条记录、5 张照片" in page.locator("#pending").inner_text()

    # ---- closed and reopened, still offline: everything is there
    p.close()
    page = p.open()
    p.start_app()
    assert "待同步 6 条记录、5 张照片" in page.locator("#pending").inner_text()
    [patrol] = p.records("patrols")
    assert patrol["status"] == "ended" and len(eval_json(patrol["track"])) == fixes
    assert p.count("patrol_logs") == 3 and p.count("case_actions") == 1

    # ---- back online: one sync sends it all
    p.set_offline(False)
    p.sync_now()
    page.wait_for_function(
        "() => document.querySelector('#pending').textContent.includes('没有待同步')"
    )
    dispatcher = bearer(tokens["dispatcher"])
    patrols = ok(client.get("/api/v1/patrols?limit=200", headers=dispatcher))["items"]
    mine = [x for x in patrols if x["collector_id"] == world.user_ids["collector"]]
    assert len(mine) == 1 and mine[0]["id"] == patrol["id"]
    assert mine[0]["point_count"] == fixes and mine[0]["status"] == "ended"
    logs = ok(client.get("/api/v1/patrol-logs?limit=200", headers=dispatcher))["items"]
    assert sorted(x["text"] for x in logs) == [f"巡查日志 {n}：楼道堆放杂物" for n in (1, 2, 3)]
    assert all(x["patrol_id"] == patrol["id"] and len(x["photos"]) == 1 for x in logs), [
        (x["patrol_id"], x["photos"]) for x in logs
    ]
    cases = ok(client.get("/api/v1/cases?limit=200", headers=dispatcher))["items"]
    reported = [c for c in cases if c["description"] == "垃圾桶满溢，需要清运"]
    assert len(reported) == 1
    checked = ok(client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher))
    assert checked["status"] == "dispatched"  # 返工: back to the unit
    photos = [x["photos"][0] for x in logs] + list(detail_photos(client, dispatcher, reported[0]))
    assert len(set(photos)) == 4
    collector = bearer(tokens["collector"])
    for sha in photos:  # the uploader reads every photo; the dispatcher the case's
        got = client.get(f"/api/v1/attachments/{sha}", headers=collector)
        assert got.status_code == 200 and got.data[:2] == b"\xff\xd8", sha  # a JPEG
    got = client.get(f"/api/v1/attachments/{photos[-1]}", headers=dispatcher)
    assert got.status_code == 200
    last = checked["events"][-1]
    assert last["action"] == "verify_fail" and last["actor_role"] == "collector"
    assert "灯仍然不亮" in str(last), last

    # a second sync changes nothing on the server (no duplicate)
    p.sync_now()
    again = ok(client.get("/api/v1/patrol-logs?limit=200", headers=dispatcher))["items"]
    assert len(again) == 3


def eval_json(text: str) -> Any:
    import json

    return json.loads(text)


def detail_photos(client: FlaskClient, headers: dict[str, str], case: dict[str, Any]) -> Any:
    detail = ok(client.get(f"/api/v1/cases/{case['id']}", headers=headers))
    return [p if isinstance(p, str) else p["sha256"] for p in detail["photos"]]


_ = B1
