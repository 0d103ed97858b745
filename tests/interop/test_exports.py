"""台账 exports opened back with openpyxl and csv and compared with the API's rows, for three
roles: a dispatcher (everything, unmasked), a collector (their grids, masked) and unit staff
(their unit's cases, masked); KPIs, patrols, the index; every export logged."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import World, bearer
from flask import Flask
from flask.testing import FlaskClient
from helpers import A1, B1, act, ok, report
from openpyxl import load_workbook
from sqlalchemy import select

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def cases(client: FlaskClient, world: World, tokens: dict[str, str]) -> dict[str, Any]:
    """Four cases: the collector's in A1, a caller's in A1 and in B1 (name and phone), one of
    them dispatched to the unit, and one whose text starts like a formula."""
    d = tokens["dispatcher"]
    mine = ok(report(client, tokens["collector"], description="垃圾桶满溢"), 201)["case"]
    caller = dict(reporter_name="王小明", reporter_phone="13912345678", address="文昌路 18 号")
    in_a1 = ok(report(client, d, description="路灯不亮", **caller), 201)["case"]
    in_b1 = ok(report(client, d, at=B1, description="井盖缺失", **caller), 201)["case"]
    formula = ok(report(client, d, at=A1, description='=HYPERLINK("x")'), 201)["case"]
    in_a1 = ok(act(client, d, in_a1, "accept"))
    in_a1 = ok(act(client, d, in_a1, "dispatch", unit_id=world.unit_id))
    return {"mine": mine, "in_a1": in_a1, "in_b1": in_b1, "formula": formula}


def api_rows(client: FlaskClient, token: str, query: str = "") -> list[dict[str, Any]]:
    return ok(client.get(f"/api/v1/cases?limit=200{query}", headers=bearer(token)))["items"]


def xlsx_rows(data: bytes) -> tuple[Any, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    return sheet, list(sheet.iter_rows(values_only=True))


def local(moment: str | None) -> datetime | None:
    if moment is None:
        return None
    return datetime.fromisoformat(moment).astimezone(ZONE).replace(tzinfo=None)


@pytest.mark.parametrize("role", ["dispatcher", "collector", "staff"])
def test_case_export_matches_the_api(
    client: FlaskClient, tokens: dict[str, str], cases: dict[str, Any], role: str
) -> None:
    token = tokens[role]
    expected = api_rows(client, token)
    response = client.get("/api/v1/exports/cases?format=xlsx", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response.headers["Content-Disposition"]
    sheet, rows = xlsx_rows(response.data)
    header, body = rows[0], rows[1:]
    assert header[0] == "编号 Number" and "上报人电话 Phone" in header
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["J"].width == pytest.approx(40, abs=1)  # description
    col = {name: header.index(name) for name in header}
    assert [r[0] for r in body] == [c["number"] for c in expected]  # same cases, same order
    for row, case in zip(body, expected, strict=True):
        assert row[col["状态 Status"]] == case["status_zh"]
        assert row[col["网格编码 Grid code"]] == case["grid"]["code"]
        assert row[col["上报人 Reporter"]] == case["reporter"]["name"]
        assert row[col["上报人电话 Phone"]] == case["reporter"]["phone"]
        assert row[col["办理单位 Unit"]] == (case["unit"]["name"] if case["unit"] else None)
        reported = row[col["上报时间 Reported"]]
        assert isinstance(reported, datetime)  # a real Excel date, in local time
        assert abs((reported - local(case["reported_at"])).total_seconds()) < 1
        deadline = row[col["办理期限 Deadline"]]
        if case["deadline_at"]:
            assert abs((deadline - local(case["deadline_at"])).total_seconds()) < 1
        else:
            assert deadline is None
    numbers = {r[0] for r in body}
    phones = {r[col["上报人电话 Phone"]] for r in body}
    if role == "dispatcher":
        assert numbers == {c["number"] for c in cases.values()}
        assert "13912345678" in phones
    elif role == "collector":  # their grid A1 only, masked
        assert cases["in_b1"]["number"] not in numbers and cases["mine"]["number"] in numbers
        assert phones == {None, "139****5678"}
    else:  # the unit's one case, masked
        assert numbers == {cases["in_a1"]["number"]}
        assert phones == {"139****5678"}
        assert body[0][col["上报人 Reporter"]] == "王**"

    # the same rows as CSV, UTF-8 with a BOM
    response = client.get("/api/v1/exports/cases?format=csv", headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert tuple(lines[0]) == header
    assert [line[0] for line in lines[1:]] == [c["number"] for c in expected]
    assert [line[col["上报人电话 Phone"]] or None for line in lines[1:]] == [
        c["reporter"]["phone"] for c in expected
    ]


def test_filters_formulas_and_the_log(
    app: Flask, client: FlaskClient, world: World, tokens: dict[str, str], cases: dict[str, Any]
) -> None:
    from server.extensions import db
    from server.models import ExportLog

    d = bearer(tokens["dispatcher"])
    query = f"&status=dispatched&grid={world.grid_ids['A1']}"
    expected = api_rows(client, tokens["dispatcher"], query)
    _, rows = xlsx_rows(client.get(f"/api/v1/exports/cases?format=xlsx{query}", headers=d).data)
    assert [r[0] for r in rows[1:]] == [c["number"] for c in expected] == [cases["in_a1"]["number"]]
    # a description that looks like a formula stays text in both formats
    _, rows = xlsx_rows(client.get("/api/v1/exports/cases?q=HYPERLINK", headers=d).data)
    assert rows[1][9] == '=HYPERLINK("x")'
    text = client.get("/api/v1/exports/cases?format=csv&q=HYPERLINK", headers=d).data
    assert list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))[1][9] == '\'=HYPERLINK("x")'
    # bad input: 422 before anything is written; no token: 401
    assert client.get("/api/v1/exports/cases?format=pdf", headers=d).status_code == 422
    assert client.get("/api/v1/exports/cases").status_code == 401
    with app.app_context():
        logged = db.session.scalars(select(ExportLog).order_by(ExportLog.id)).all()
        assert [(e.subject, e.format, e.role) for e in logged] == [
            ("cases", "xlsx", "dispatcher"),
            ("cases", "xlsx", "dispatcher"),
            ("cases", "csv", "dispatcher"),
        ]
        assert logged[0].user_id == world.user_ids["dispatcher"]
        assert logged[0].filters["status"] == ["dispatched"]
        assert logged[0].filters["grid"] == world.grid_ids["A1"]
        assert logged[2].filters["q"] == "HYPERLINK"


def test_kpi_export(client: FlaskClient, tokens: dict[str, str], cases: dict[str, Any]) -> None:
    d = bearer(tokens["dispatcher"])
    figures = ok(client.get("/api/v1/stats/kpis", headers=d))
    response = client.get("/api/v1/exports/kpis?format=xlsx", headers=d)
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["关键指标", "分社区"]
    rows = list(book["关键指标"].iter_rows(values_only=True))
    reported = next(r for r in rows if r[0] == "上报数")
    assert reported[2] == figures["reported"]["value"] == 4
    communities = list(book["分社区"].iter_rows(values_only=True))
    assert len(communities) == 1 + 2  # header + communities A and B
    staff = client.get("/api/v1/exports/kpis?format=csv", headers=bearer(tokens["staff"]))
    assert staff.status_code == 200 and staff.data.decode("utf-8-sig").startswith("指标 Figure")
    collector = client.get("/api/v1/exports/kpis", headers=bearer(tokens["collector"]))
    assert collector.status_code == 403


def test_patrol_and_index_exports(
    client: FlaskClient, world: World, tokens: dict[str, str]
) -> None:
    for who, grid in (("collector", "A1"), ("collector2", "B1")):
        patrol = ok(
            client.post(
                "/api/v1/patrols",
                json={"grid_id": world.grid_ids[grid]},
                headers=bearer(tokens[who]),
            ),
            201,
        )
        ok(client.post(f"/api/v1/patrols/{patrol['id']}/end", json={}, headers=bearer(tokens[who])))
    own = client.get("/api/v1/exports/patrols?format=xlsx", headers=bearer(tokens["collector"]))
    _, rows = xlsx_rows(own.data)
    assert [r[1] for r in rows[1:]] == ["测试collector"]  # their own, their own name
    everyone = client.get(
        "/api/v1/exports/patrols?format=xlsx", headers=bearer(tokens["dispatcher"])
    )
    _, rows = xlsx_rows(everyone.data)
    assert sorted(r[2] for r in rows[1:]) == sorted(world.grid_codes[g] for g in ("A1", "B1"))
    assert isinstance(rows[1][4], datetime)
    refused = client.get("/api/v1/exports/patrols", headers=bearer(tokens["staff"]))
    assert refused.status_code == 403
    index = client.get("/api/v1/exports/index?format=csv", headers=bearer(tokens["staff"]))
    assert index.status_code == 200
    header = index.data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("日期 Day,编码 Code,名称 Name,民情指数 Score")


# ---------------------------------------------------------------------------------- console


def web_sign_in(client: FlaskClient, username: str) -> None:
    import re

    from conftest import TEST_PASSWORD

    client.delete_cookie("minqing_session")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 302


def test_console_buttons_export_what_the_page_shows(
    client: FlaskClient, world: World, tokens: dict[str, str], cases: dict[str, Any]
) -> None:
    import re

    web_sign_in(client, "collector")
    queue = client.get("/console/cases?status=reported")
    assert queue.status_code == 200
    links = re.findall(r'href="(/console/exports/cases\.(?:xlsx|csv)[^"]*)"', queue.text)
    assert len(links) == 2 and all("status=reported" in link for link in links)
    response = client.get(links[0].replace("&amp;", "&"))
    assert response.status_code == 200
    _, rows = xlsx_rows(response.data)
    expected = api_rows(client, tokens["collector"], "&status=reported")
    assert [r[0] for r in rows[1:]] == [c["number"] for c in expected]
    assert cases["in_b1"]["number"] not in {r[0] for r in rows}
    # the KPI page's buttons (dispatcher)
    web_sign_in(client, "dispatcher")
    kpis = client.get("/console/kpis?from=2026-01-01&to=2026-12-31")
    links = re.findall(r'href="(/console/exports/[a-z]+\.(?:xlsx|csv)[^"]*)"', kpis.text)
    assert {link.split(".")[0] for link in links} == {
        "/console/exports/kpis",
        "/console/exports/patrols",
        "/console/exports/index",
    }
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.data  # read to the end: a streamed body holds its request context
        response.close()
    # unit staff may not export patrols
    web_sign_in(client, "staff")
    assert client.get("/console/exports/patrols.xlsx").status_code == 403
