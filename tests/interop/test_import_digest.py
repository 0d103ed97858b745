"""A 12345 import tells the dispatchers once, and a located case is told like any case event,
both backends: 30 rows give one `hotline.imported` inbox entry per dispatcher of the
subdistrict (counts in the title, a link to exactly those cases) and 30 `case.reported`
webhook deliveries; re-imports and dry runs tell nobody; a report through the API still
notifies per case; `POST /api/v1/cases/{id}/location` queues `case.located`.

Subscriptions point at a closed loopback port (as tests/api/test_webhooks_api.py does):
without a broker the test app makes one in-process attempt after commit, refused at once;
the delivery rows are what is asserted."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSWORD, World, bearer, login
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, B1, ok, sign_in
from sqlalchemy import select
from test_hotline_import import mapped
from test_unlocated import OFF, cases_by_order, geocoder, import_file, row

__all__ = ["geocoder", "mapped"]  # fixtures


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(app: Flask) -> Any:
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ("127.0.0.1",)
    yield
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ()


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def dispatcher3(app: Flask, mapped: World) -> int:
    """A second dispatcher of the first subdistrict."""
    from server.extensions import db
    from server.models import Subdistrict
    from server.services.people.users import create_user
    from server.services.uow import unit_of_work

    with app.app_context():
        sd = db.session.get(Subdistrict, mapped.subdistrict_id)
        assert sd is not None
        with unit_of_work() as uow:
            user = create_user(
                uow,
                username="dispatcher3",
                password=TEST_PASSWORD,
                role="dispatcher",
                display_name="测试dispatcher3",
                phone="13800009999",
                subdistrict_code=sd.code,
            )
        return int(user.id)


def subscribe(client: FlaskClient, token: str, url: str, events: list[str]) -> int:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "name": "12345 平台", "events": events},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def deliveries(app: Flask, event: str | None = None) -> list[Any]:
    from server.extensions import db
    from server.models import WebhookDelivery

    with app.app_context():
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if event is not None:
            stmt = stmt.where(WebhookDelivery.event == event)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def inbox_of(app: Flask, user_id: int) -> list[Any]:
    from server.extensions import db
    from server.models import Notification

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id)
            )
        )
        db.session.expunge_all()
        return rows


def thirty_rows() -> list[list[Any]]:
    """25 rows with coordinates (A1 and B1), 5 without (unlocated: no geocoder)."""
    rows = []
    for i in range(25):
        rows.append(row(f"GD-{i:03d}", f"文昌路 {i} 号", A1 if i % 2 else B1))
    for i in range(25, 30):
        rows.append(row(f"GD-{i:03d}", f"某处 {i} 号"))
    return rows


def test_an_import_of_30_rows_tells_each_dispatcher_once(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    dispatcher3: int,
    tokens: dict[str, str],
    tmp_path: Path,
    closed_url: str,
    geocoder: Any,
) -> None:
    geocoder(OFF)
    reported = subscribe(client, tokens["admin"], closed_url, ["case.reported"])
    subscribe(client, tokens["admin"], closed_url, ["*"])
    before = {u: len(inbox_of(app, u)) for u in mapped.user_ids.values()}

    result = import_file(app, tmp_path, thirty_rows(), "--user", "admin")
    assert result.exit_code == 0, result.output + result.stderr
    assert "created 新建: 30" in result.output
    cases = cases_by_order(app)
    assert len(cases) == 30
    assert sum(1 for c in cases.values() if c["grid_id"] is None) == 5

    # one entry per dispatcher of the subdistrict, none per case
    for user_id in (mapped.user_ids["dispatcher"], dispatcher3):
        notes = inbox_of(app, user_id)
        assert len(notes) == 1, [n.title for n in notes]
        note = notes[0]
        assert note.event == "hotline.imported" and note.case_id is None
        assert note.title == "12345 工单导入：新建 30 件，其中待定位 5 件"
        assert note.title_en == "12345 import: 30 cases, 5 unlocated"
        assert "orders.xlsx" in (note.body or "")
    # nobody else heard of it: the other subdistrict's dispatcher, the importer, collectors
    for name in ("dispatcher2", "admin", "collector", "collector2", "staff"):
        assert len(inbox_of(app, mapped.user_ids[name])) == before[mapped.user_ids[name]]

    # the webhooks still go per case: 30 for each subscription, no digest webhook
    made = deliveries(app)
    assert {d.event for d in made} == {"case.reported"}
    assert len([d for d in made if d.subscription_id == reported]) == 30
    assert len(made) == 60
    assert {d.payload["case"]["id"] for d in made} == {c["id"] for c in cases.values()}
    assert {d.payload["case"]["source"] for d in made} == {"hotline"}

    # the entry's filter lists exactly the imported cases, through the API and the console
    page = ok(client.get("/api/v1/inbox", headers=bearer(tokens["dispatcher"])))
    assert len(page["items"]) == 1
    entry = page["items"][0]
    assert entry["event"] == "hotline.imported"
    filt = entry["cases_filter"]
    assert filt["source"] == "hotline" and filt["imported_at"].endswith("+00:00")
    listed = ok(
        client.get(
            "/api/v1/cases",
            query_string={**filt, "limit": 200},
            headers=bearer(tokens["dispatcher"]),
        )
    )
    assert {c["id"] for c in listed["items"]} == {c["id"] for c in cases.values()}
    assert entry["link"].startswith("/console/cases?") and "imported_at=" in entry["link"]

    # a later import of 2 more rows: a second entry whose filter shows only those two
    more = [row("GD-100", "文昌路 100 号", A1), row("GD-101", "某处 101 号")]
    (tmp_path / "second").mkdir()
    result = import_file(app, tmp_path / "second", more, "--user", "admin")
    assert result.exit_code == 0, result.output + result.stderr
    notes = inbox_of(app, dispatcher3)
    assert [n.title for n in notes] == [
        "12345 工单导入：新建 30 件，其中待定位 5 件",
        "12345 工单导入：新建 2 件，其中待定位 1 件",
    ]
    page = ok(client.get("/api/v1/inbox", headers=bearer(tokens["dispatcher"])))
    second = page["items"][0]["cases_filter"]
    assert second != filt
    listed = ok(
        client.get("/api/v1/cases", query_string=second, headers=bearer(tokens["dispatcher"]))
    )
    new_ids = {c["id"] for o, c in cases_by_order(app).items() if o in ("GD-100", "GD-101")}
    assert {c["id"] for c in listed["items"]} == new_ids
    assert len(deliveries(app, "case.reported")) == 64

    # the console: the entry's button opens the queue filtered to the first import
    csrf = sign_in(client, "dispatcher")
    first_note = inbox_of(app, mapped.user_ids["dispatcher"])[0]
    inbox_page = client.get("/console/inbox")
    assert "data-open-import" in inbox_page.text
    opened = client.post(
        f"/console/inbox/{first_note.id}/read", data={"open": "1", "csrf_token": csrf}
    )
    assert opened.status_code == 303
    assert "/console/cases?" in opened.location and "source=hotline" in opened.location
    queue = client.get(opened.location)
    assert queue.status_code == 200 and "data-import-filter" in queue.text
    numbers = {c["number"] for c in cases.values()}
    shown = set(re.findall(r"[A-Z0-9]+-\d{8}-\d{4}", queue.text)) & (
        numbers | {c["number"] for c in cases_by_order(app).values()}
    )
    assert shown == numbers
    assert inbox_of(app, mapped.user_ids["dispatcher"])[0].read_at is not None
    bad = client.get("/console/cases", query_string={"imported_at": "yesterday"})
    assert bad.status_code == 422 and "imported_at" in bad.text


def test_reimports_and_dry_runs_tell_nobody_and_the_importer_is_not_told(
    app: Flask,
    mapped: World,
    dispatcher3: int,
    tmp_path: Path,
    geocoder: Any,
) -> None:
    geocoder(OFF)
    rows = [row("GD-1", "文昌路 1 号", A1), row("GD-2", "文昌路 2 号", B1)]
    dispatcher = mapped.user_ids["dispatcher"]
    assert import_file(app, tmp_path, rows, "--user", "dispatcher", "--dry-run").exit_code == 0
    assert inbox_of(app, dispatcher3) == []
    assert import_file(app, tmp_path, rows, "--user", "dispatcher").exit_code == 0
    notes = inbox_of(app, dispatcher3)
    assert [n.title for n in notes] == ["12345 工单导入：新建 2 件"]
    assert notes[0].title_en == "12345 import: 2 cases"
    assert inbox_of(app, dispatcher) == []  # the importer saw the report on screen
    again = import_file(app, tmp_path, rows, "--user", "dispatcher")
    assert again.exit_code == 0 and "created 新建: 0" in again.output
    assert len(inbox_of(app, dispatcher3)) == 1


def test_a_report_through_the_api_still_notifies_per_case(
    app: Flask, client: FlaskClient, mapped: World, dispatcher3: int, tokens: dict[str, str]
) -> None:
    for i in range(2):
        body = {"category": "sanitation", "description": f"井盖缺失 {i}"}
        body |= {"lon": A1[0], "lat": A1[1]}
        response = client.post("/api/v1/cases", json=body, headers=bearer(tokens["collector"]))
        assert response.status_code == 201, response.get_json()
    notes = inbox_of(app, dispatcher3)
    assert [n.event for n in notes] == ["case.reported", "case.reported"]
    assert all(n.case_id for n in notes)


def test_locating_a_case_queues_case_located_and_tells_the_importer(
    app: Flask,
    client: FlaskClient,
    mapped: World,
    dispatcher3: int,
    tokens: dict[str, str],
    tmp_path: Path,
    closed_url: str,
    geocoder: Any,
) -> None:
    geocoder(OFF)
    located_sub = subscribe(client, tokens["admin"], closed_url, ["case.located"])
    assert import_file(app, tmp_path, [row("GD-9", "文昌路 9 号")]).exit_code == 0
    case = cases_by_order(app)["GD-9"]
    assert case["grid_id"] is None
    assert deliveries(app, "case.located") == []
    importer = mapped.user_ids["dispatcher"]
    before = len(inbox_of(app, importer))

    token3 = login(client, "dispatcher3")
    done = ok(
        client.post(
            f"/api/v1/cases/{case['id']}/location",
            json={"version": case["version"], "lat": A1[1], "lng": A1[0]},
            headers=bearer(token3),
        )
    )
    assert done["grid"]["id"] == mapped.grid_ids["A1"]
    made = deliveries(app, "case.located")
    assert [d.subscription_id for d in made] == [located_sub]
    payload = made[0].payload
    assert payload["event"] == "case.located" and payload["how"] == "map"
    assert payload["case"]["id"] == case["id"]
    assert payload["case"]["grid"] == mapped.grid_codes["A1"]
    assert payload["case"]["community"] is not None
    assert "王小明" not in str(payload) and "13912345678" not in str(payload)
    # the importer (the case's reporter) is told; the locating dispatcher is not
    notes = inbox_of(app, importer)[before:]
    assert [n.event for n in notes] == ["case.located"] and notes[0].case_id == case["id"]
    assert notes[0].title.startswith(f"事项 {case['number']} 已定位")
    assert [n.event for n in inbox_of(app, dispatcher3)] == ["hotline.imported"]
    # no collector is told now; the collector of A1 is, when the case awaits verification
    collector = mapped.user_ids["collector"]
    assert inbox_of(app, collector) == []
    version = done["version"]
    for action, extra, token in (
        ("accept", {}, tokens["dispatcher"]),
        ("dispatch", {"unit_id": mapped.unit_id}, tokens["dispatcher"]),
        ("acknowledge", {}, tokens["staff"]),
        ("report_done", {"result": "已清运"}, tokens["staff"]),
    ):
        version = ok(
            client.post(
                f"/api/v1/cases/{case['id']}/actions/{action}",
                json={"version": version, **extra},
                headers=bearer(token),
            )
        )["version"]
    assert [n.event for n in inbox_of(app, collector)] == ["case.handled"]
    assert inbox_of(app, mapped.user_ids["collector2"]) == []


def test_the_digest_is_not_subscribable(
    client: FlaskClient, mapped: World, tokens: dict[str, str], closed_url: str
) -> None:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": closed_url, "name": "x", "events": ["hotline.imported"]},
        headers=bearer(tokens["admin"]),
    )
    assert response.status_code == 422 and response.get_json()["field"] == "events"
    subscribe(client, tokens["admin"], closed_url, ["case.located"])


def test_the_console_import_page_tells_each_dispatcher_once(
    app: Flask, client: FlaskClient, mapped: World, dispatcher3: int, geocoder: Any
) -> None:
    import io

    from test_hotline_import import HEADER, xlsx_bytes

    geocoder(OFF)
    rows = [row(f"W-{i}", f"文昌路 {i} 号", A1) for i in range(3)] + [row("W-9", "某处")]
    data = xlsx_bytes(rows, HEADER)
    csrf = sign_in(client, "admin")
    checked = client.post(
        "/console/hotline/check",
        data={"csrf_token": csrf, "file": (io.BytesIO(data), "w.xlsx")},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.text
    assert inbox_of(app, dispatcher3) == []  # the check writes nothing, tells nobody
    stash = checked.text.split('name="stash" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/console/hotline/import",
        data={"csrf_token": csrf, "stash": stash, "filename": "w.xlsx", "crs": "wgs84"},
    )
    assert done.status_code == 200 and "已导入 4 条工单" in done.text
    for user_id in (mapped.user_ids["dispatcher"], dispatcher3):
        notes = inbox_of(app, user_id)
        assert [(n.event, n.title) for n in notes] == [
            ("hotline.imported", "12345 工单导入：新建 4 件，其中待定位 1 件")
        ]
    assert inbox_of(app, mapped.user_ids["dispatcher2"]) == []
