"""The field app (/app/) on a phone in Chromium against the live server: paired by sign-in,
then a whole offline day — reload and cold restart from the cache, a patrol of 32 fixes,
three logs with photos, a case report and a 返工 check, the browser closed and reopened
still offline — and one sync that sends it all, exactly once, photos readable."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
    page.wait_for_function("() => window.minqingReady === true")
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
    page.locator("#pending").filter(has_text="待同步 6 条记录、5 张照片").wait_for()

    # ---- closed and reopened, still offline: everything is there
    p.close()
    page = p.open()
    p.start_app()
    page.locator("#pending").filter(has_text="待同步 6 条记录、5 张照片").wait_for()
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
    return json.loads(text)


def detail_photos(client: FlaskClient, headers: dict[str, str], case: dict[str, Any]) -> Any:
    detail = ok(client.get(f"/api/v1/cases/{case['id']}", headers=headers))
    return [p if isinstance(p, str) else p["sha256"] for p in detail["photos"]]


def write_log(page: Any, text: str) -> None:
    """A log at the phone's current position, no photo."""
    page.goto("/app/#/log")
    page.get_by_label("内容").fill(text)
    page.get_by_role("button", name="使用当前位置").click()
    page.locator("#place-text").filter(has_text="WGS84").wait_for()
    page.get_by_role("button", name="保存日志").click()
    page.get_by_role("heading", name="今日", exact=True).wait_for()


def test_pair_by_qr_url_and_a_revoked_phone_stops_syncing(
    app: Any,
    phone: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    check_a11y: Any,
) -> None:
    from server.services.people import devices
    from server.services.uow import unit_of_work

    with app.app_context():
        with unit_of_work() as uow:
            issued = devices.issue_device(uow, "collector")
            device_id = issued.device.id
        url = issued.provisioning_payload()
    assert url.endswith(f"/app/#pair={issued.token}")
    p: Phone = phone()
    page = p.open()
    page.goto(url[url.index("/app/") :])
    page.wait_for_function("() => window.minqingReady === true")
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert issued.token not in page.url and "pair" not in page.url  # not left in the URL
    assert page.evaluate("window.minqing.kvGet('token')") == issued.token
    for route in ("more", "rejections", "patrol"):
        page.goto(f"/app/#/{route}")
        page.locator("h1").wait_for()
        check_a11y(page)
        p.no_sideways_scroll()

    with app.app_context(), unit_of_work() as uow:
        devices.revoke_device(uow, device_id)
    write_log(page, "停用前最后一条日志")
    page.wait_for_selector('[data-phase="revoked"]', timeout=30_000)
    assert "此设备已被管理员停用" in page.locator("#revoked").inner_text()
    assert page.get_by_role("button", name="立即同步").is_disabled()
    page.locator("#pending").filter(has_text="待同步 1 条记录").wait_for()
    # it stays stopped after a restart: no sync request at all
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/v1/sync" in r.url else None)
    page.reload()
    page.wait_for_function("() => window.minqing && window.minqingReady === true")
    page.wait_for_timeout(1500)
    assert seen == [] and p.phase() == "revoked"
    # the unsynced record can still be exported
    page.goto("/app/#/more")
    with page.expect_download() as download:
        page.get_by_role("button", name="导出未同步的记录").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert [r["text"] for r in exported["records"]["patrol_logs"]] == ["停用前最后一条日志"]
    # paired again (by sign-in): the kept record goes up
    page.get_by_role("button", name="重新绑定这部手机（保留未同步的记录）").click()
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    logs = ok(client.get("/api/v1/patrol-logs", headers=bearer(tokens["dispatcher"])))["items"]
    assert [x["text"] for x in logs] == ["停用前最后一条日志"]


def test_refusals_second_phone_and_other_collectors(
    phone: Any, client: FlaskClient, world: World, tokens: dict[str, str], check_a11y: Any
) -> None:
    first: Phone = phone("first")
    page = first.open()
    page.goto("/app/")
    first.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    write_log(page, "网格内的日志")
    first.move_to(*B1)  # collector2's grid, not this collector's
    write_log(page, "别人网格里的日志")
    first.sync_now()
    page.goto("/app/#/rejections")
    refused = page.locator("#rejections li")
    refused.first.wait_for()
    assert refused.count() == 1 and "别人网格里的日志" in refused.inner_text()
    check_a11y(page)
    first.no_sideways_scroll()
    page.get_by_role("button", name="复制为新记录").click()
    page.get_by_role("heading", name="写巡查日志").wait_for()
    assert page.get_by_label("内容").input_value() == "别人网格里的日志"
    logs = ok(client.get("/api/v1/patrol-logs", headers=bearer(tokens["dispatcher"])))["items"]
    assert [x["text"] for x in logs] == ["网格内的日志"]

    second: Phone = phone("second")
    second.open().goto("/app/")
    second.pair_by_sign_in("collector", TEST_PASSWORD)
    second.page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert [r["text"] for r in second.records("patrol_logs")] == ["网格内的日志"]

    other: Phone = phone("other", at=B1)
    other.open().goto("/app/")
    other.pair_by_sign_in("collector2", TEST_PASSWORD)
    other.page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert other.count("patrol_logs") == 0 and other.count("sync_rejections") == 0


def test_a_push_cut_half_way_loses_and_doubles_nothing(
    phone: Any, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)

    # 1. the network drops before the push reaches the server
    page.route("**/api/v1/sync/push*", lambda route: route.abort("internetdisconnected"))
    write_log(page, "断网时的日志")
    page.wait_for_selector('[data-phase="offline"], [data-phase="failed"]', timeout=30_000)
    page.unroute("**/api/v1/sync/push*")

    # 2. the push reaches the server, the answer never comes back, the browser is closed
    def deliver_then_drop(route: Any) -> None:
        route.fetch()  # the server applies it
        route.abort("connectionreset")

    page.route("**/api/v1/sync/push*", deliver_then_drop)
    write_log(page, "回应丢失的日志")
    page.wait_for_selector('[data-phase="offline"], [data-phase="failed"]', timeout=30_000)
    page.locator("#pending").filter(has_text="待同步 2 条记录").wait_for()
    p.close()
    page = p.open()
    p.start_app()
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    assert "没有待同步" in page.locator("#pending").inner_text()
    logs = ok(client.get("/api/v1/patrol-logs", headers=bearer(tokens["dispatcher"])))["items"]
    assert sorted(x["text"] for x in logs) == ["回应丢失的日志", "断网时的日志"]


def test_timings_and_2000_local_records_open_within_a_second(
    phone: Any, world: World, tmp_path: Path
) -> None:
    """The figures in README (first load, offline start, 2,000 records); printed with -s."""
    import gzip

    from server.config import PROJECT_ROOT

    build = PROJECT_ROOT / "build" / "mobile"
    shell = [
        build / n for n in ("index.html", "app.js", "app.css", "sw.js", "manifest.webmanifest")
    ]
    shell += sorted((build / "icons").iterdir())
    raw = sum(f.stat().st_size for f in shell)
    zipped = sum(len(gzip.compress(f.read_bytes())) for f in shell)

    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    page.wait_for_function("() => window.minqingReadyAt > 0")
    first_load = page.evaluate("window.minqingReadyAt")
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    p.wait_controlled()
    page.reload()
    page.wait_for_function("() => window.minqingReady === true")
    online_start = page.evaluate("window.minqingReadyAt")

    def offline_cold_start() -> float:
        p.close()
        p.offline = True
        p.open()
        p.start_app()
        return float(p.page.evaluate("window.minqingReadyAt"))

    offline_start = offline_cold_start()
    inserted = p.page.evaluate(
        """async () => {
            const db = window.minqing.state.database
            const logs = db.get('patrol_logs')
            const t0 = performance.now()
            await db.write(() => db.batch(...Array.from({length: 2000}, (_, i) =>
                logs.prepareCreate(r => {
                    r._setRaw('text', '日志 ' + i); r._setRaw('crs', 'wgs84')
                    r._setRaw('lon', 119.4325); r._setRaw('lat', 32.3925)
                    r._setRaw('photos', '[]'); r._setRaw('logged_at', Date.now())
                }))))
            await window.minqing.flush()
            return performance.now() - t0
        }"""
    )
    with_2000 = offline_cold_start()
    assert p.count("patrol_logs") == 2000
    p.page.locator("#pending").filter(has_text="待同步 2000 条记录").wait_for()
    figures = {
        "shell_bytes": raw,
        "shell_bytes_gzip": zipped,
        "first_load_ms": round(first_load),
        "online_start_ms": round(online_start),
        "offline_cold_start_ms": round(offline_start),
        "write_2000_records_ms": round(inserted),
        "offline_cold_start_with_2000_records_ms": round(with_2000),
    }
    print("\nfield app timings:", json.dumps(figures))
    out = PROJECT_ROOT / "artifacts" / "field-app-timings.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))
    assert with_2000 < 1000, figures


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the phones' time zone (field_phone.Phone)


def slot_plan(now: datetime) -> tuple[str, str, datetime | None]:
    """Two of today's slot times around the phone's local time `now`: one 30 minutes ago
    (missed, with a 5-minute tolerance) and one in 30 minutes (to do). Within 40 minutes of
    midnight both cannot fall on one day: then the phone's clock is set an hour away from
    midnight (the third value; None: the phone keeps the real time)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    shift = timedelta(0)
    if now - midnight < timedelta(minutes=40):
        shift = timedelta(hours=1)
    elif midnight + timedelta(days=1) - now < timedelta(minutes=40):
        shift = -timedelta(hours=1)
    phone_now = now + shift
    missed = (phone_now - timedelta(minutes=30)).strftime("%H:%M")
    todo = (phone_now + timedelta(minutes=30)).strftime("%H:%M")
    return missed, todo, (phone_now if shift else None)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("12:00", ("11:30", "12:30", None)),
        ("00:00", ("00:30", "01:30", "01:00")),
        ("00:03", ("00:33", "01:33", "01:03")),
        ("00:41", ("00:11", "01:11", None)),
        ("23:19", ("22:49", "23:49", None)),
        ("23:59", ("22:29", "23:29", "22:59")),
    ],
)
def test_the_slot_plan_fits_in_one_day_at_any_hour(now: str, expected: tuple[Any, ...]) -> None:
    hour, minute = map(int, now.split(":"))
    at = datetime(2026, 12, 4, hour, minute, 30, tzinfo=SHANGHAI)
    missed, todo, phone_now = slot_plan(at)
    assert (missed, todo) == expected[:2]
    assert (phone_now.strftime("%H:%M") if phone_now else None) == expected[2]
    assert (phone_now or at).date() == at.date() and missed < todo


def test_slots_bad_photos_a_broken_server_and_english(
    phone: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    tmp_path: Path,
    check_a11y: Any,
) -> None:
    missed, todo, phone_now = slot_plan(datetime.now(SHANGHAI))
    ok(
        client.post(
            "/api/v1/patrol-schedules",
            json={
                "collector_id": world.user_ids["collector"],
                "grid_id": world.grid_ids["A1"],
                "times": [todo, missed],
                "tolerance_minutes": 5,
                "skip_holidays": False,
            },
            headers=bearer(tokens["dispatcher"]),
        ),
        201,
    )
    p: Phone = phone()
    page = p.open()
    if phone_now is not None:  # too near midnight for two slots of one day: move the clock
        p.context.clock.install(time=phone_now)
    page.goto("/app/")
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    slots = page.locator("#slots li")
    slots.first.wait_for()
    assert slots.count() == 2
    assert missed in slots.nth(0).inner_text() and "已错过" in slots.nth(0).inner_text()
    assert todo in slots.nth(1).inner_text() and "待巡查" in slots.nth(1).inner_text()

    # a file that is not an image is refused; a huge photo is made smaller on the phone
    page.goto("/app/#/log")
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture")
    page.locator("#photos").set_input_files(str(fake))
    page.locator("#photo-error").filter(has_text="不是图片").wait_for()
    assert page.locator("#photo-list img").count() == 0
    big = tmp_path / "big.jpg"
    from PIL import Image

    Image.effect_noise((4000, 3000), 60).convert("RGB").save(big, quality=95)
    page.locator("#photos").set_input_files(str(big))
    page.locator("#photo-list img").wait_for()
    sha = page.locator("[data-action=drop-photo]").get_attribute("data-sha")
    size = page.evaluate(
        """async (sha) => { const p = await window.minqing.photoGet(sha);
               const b = await createImageBitmap(p.blob); return [b.width, b.height, p.size] }""",
        sha,
    )
    assert max(size[:2]) == 1920 and size[2] < big.stat().st_size, size

    # a server answering 502 with an HTML page: the record stays, the status says so
    page.route(
        "**/api/v1/sync/pull*",
        lambda route: route.fulfill(
            status=502, body="<html>Bad Gateway</html>", content_type="text/html"
        ),
    )
    page.get_by_label("内容").fill("网关出错时写的日志")
    page.get_by_role("button", name="使用当前位置").click()
    page.locator("#place-text").filter(has_text="WGS84").wait_for()
    page.get_by_role("button", name="保存日志").click()
    page.wait_for_selector('[data-phase="failed"]', timeout=30_000)
    assert "失败" in page.locator("#status").inner_text()
    # the photo went up (photos go first); the record waits
    page.locator("#pending").filter(has_text="待同步 1 条记录、0 张照片").wait_for()
    page.unroute("**/api/v1/sync/pull*")
    p.sync_now()
    logs = ok(client.get("/api/v1/patrol-logs", headers=bearer(tokens["dispatcher"])))["items"]
    assert [x["text"] for x in logs] == ["网关出错时写的日志"] and logs[0]["photos"] == [sha]

    # English, and back
    page.goto("/app/#/more")
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Today").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    check_a11y(page)
    page.get_by_role("link", name="Today").click()
    page.get_by_role("heading", name="Today", exact=True).wait_for()
    check_a11y(page)
    p.no_sideways_scroll()
    page.goto("/app/#/more")
    page.get_by_role("button", name="中文").click()
    page.get_by_role("link", name="今日").wait_for()


def test_a_log_reported_as_a_case_too(
    phone: Any, client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    page.goto("/app/#/log")
    page.get_by_label("内容").fill("井盖松动，有人绊倒")
    page.get_by_role("checkbox", name="同时上报为事件（需选类别）").check()
    page.get_by_role("button", name="使用当前位置").click()
    page.locator("#place-text").filter(has_text="WGS84").wait_for()
    page.get_by_role("button", name="保存日志").click()
    page.get_by_text("上报事件请选择类别。").wait_for()  # a case needs a category
    page.get_by_label("类别（可不选）").select_option(label="环境卫生")
    page.get_by_role("button", name="保存日志").click()
    page.get_by_role("heading", name="今日", exact=True).wait_for()
    page.wait_for_function(
        "() => document.querySelector('#pending').textContent.includes('没有待同步')",
        timeout=30_000,
    )
    # the case's number came back with the pull after the push
    page.locator("#open-cases").get_by_text("MQ-").wait_for()
    dispatcher = bearer(tokens["dispatcher"])
    logs = ok(client.get("/api/v1/patrol-logs", headers=dispatcher))["items"]
    cases = ok(client.get("/api/v1/cases", headers=dispatcher))["items"]
    assert [x["text"] for x in logs] == ["井盖松动，有人绊倒"]
    assert [c["description"] for c in cases] == ["井盖松动，有人绊倒"]


def test_a_photo_of_people_removed_on_the_server_leaves_the_phone(
    app: Any,
    phone: Any,
    client: FlaskClient,
    world: World,
    tokens: dict[str, str],
    tmp_path: Path,
    check_a11y: Any,
) -> None:
    """The collector says a photo shows people when taking it; the server removes it under
    retention; the next sync drops the phone's cached copy, and the log shows the
    placeholder where the photo was, not a broken image. Photos still listed stay."""
    from datetime import timedelta

    from sqlalchemy import text

    from server.extensions import db
    from server.models import Attachment
    from server.models.base import utcnow

    p: Phone = phone()
    page = p.open()
    page.goto("/app/")
    p.pair_by_sign_in("collector", TEST_PASSWORD)
    page.wait_for_selector('[data-phase="ok"]', timeout=30_000)
    shas = []
    for text_, colour, personal in (
        ("路口聚集围观", (200, 60, 60), True),
        ("井盖破损", (60, 60, 200), False),
    ):
        page.goto("/app/#/log")
        page.get_by_label("内容").fill(text_)
        page.get_by_role("button", name="使用当前位置").click()
        page.locator("#place-text").filter(has_text="WGS84").wait_for()
        page.locator("#photos").set_input_files(str(p.photo(tmp_path, f"{colour}.jpg", colour)))
        page.locator("#photo-list img").wait_for()
        if personal:
            page.get_by_label("照片含有人物（个人信息）").check()
        shas.append(page.locator("[data-action=drop-photo]").get_attribute("data-sha"))
        page.get_by_role("button", name="保存日志").click()
        page.get_by_role("heading", name="今日", exact=True).wait_for()
    person, street = shas
    p.sync_now()
    page.wait_for_function(
        "() => document.querySelector('#pending').textContent.includes('没有待同步')"
    )
    with app.app_context():
        flags = {sha: db.session.get(Attachment, sha).personal for sha in shas}
    assert flags == {person: True, street: False}  # the box travelled with the upload
    cached = "async (sha) => Boolean(await window.minqing.photoGet(sha))"
    assert page.evaluate(cached, person) and page.evaluate(cached, street)
    page.goto("/app/#/logs")
    page.locator("#logs img").nth(1).wait_for()
    assert page.locator(".photo-removed").count() == 0

    # the server removes the photo of people (retention: uploaded long ago, held by a log)
    with app.app_context():
        db.session.execute(
            text("UPDATE attachments SET created_at = :t"), {"t": utcnow() - timedelta(days=40)}
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "apply"])
    assert "person_photos_removed  1" in result.output, result.output

    p.sync_now()
    page.wait_for_function(
        "async (sha) => !(await window.minqing.photoGet(sha))", arg=person, timeout=15_000
    )
    assert page.evaluate(cached, street)  # still listed by its log: kept
    [log] = [r for r in p.records("patrol_logs") if r["text"] == "路口聚集围观"]
    assert json.loads(log["photos"]) == []
    page.goto("/app/#/")
    page.goto("/app/#/logs")
    removed = page.locator(f'li.log[data-id="{log["id"]}"]')
    removed.get_by_text("已删除（个人信息保护）").wait_for()
    assert removed.locator("img").count() == 0
    kept = page.locator("li.log").filter(has_text="井盖破损")
    assert kept.locator("img").count() == 1 and kept.locator(".photo-removed").count() == 0
    check_a11y(page)
    p.no_sideways_scroll()
    # no broken image anywhere on the page
    broken = page.evaluate(
        "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
    )
    assert broken == 0
