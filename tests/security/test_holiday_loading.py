"""The holiday calendar is data an admin loads: validated per year, replacing the bundled
year, with a warning while next year is missing (from 1 December) and weekends-only meanwhile."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from conftest import World
from flask import Flask
from flask.testing import FlaskClient

from tests.web.test_web_session import csrf_of, sign_in

# Test data only, labelled as such: not a published notice (real years come from the State
# Council's notice; nothing here is used outside the tests).
FAKE_2031 = {
    "years": {
        "2031": {
            "holidays": ["2031-01-01", "2031-10-01", "2031-10-02"],
            "workdays": ["2031-09-27"],
            "source": "测试数据，非真实通知 / test data, not a real notice",
        }
    }
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_loading_a_year_changes_the_calendar(app: Flask, tmp_path: Path) -> None:
    from server.services.caseloop.case_deadlines import calendar

    with app.app_context():
        before = calendar()
        assert not before.covers(2031) and before.is_workday(date(2031, 10, 1))  # a Wednesday
    result = app.test_cli_runner().invoke(
        args=["holidays", "load", str(_write(tmp_path, FAKE_2031))]
    )
    assert result.exit_code == 0, result.output
    assert "loaded 2031" in result.output
    with app.app_context():
        after = calendar()
        assert after.covers(2031)
        assert not after.is_workday(date(2031, 10, 1))
        assert after.is_workday(date(2031, 9, 27))  # a Saturday made a workday (调休)
        assert after.covers(2026) and not after.is_workday(date(2026, 10, 1))  # bundled kept
    status = app.test_cli_runner().invoke(args=["holidays", "status"])
    assert "2031  测试数据" in status.output


def test_bad_files_are_refused_naming_the_fault(app: Flask, tmp_path: Path) -> None:
    from server.extensions import db
    from server.models import HolidayYear

    cases = {
        "twice": ["2031-01-01", "2031-01-01"],
        "weekday workday": None,
    }
    twice = json.loads(json.dumps(FAKE_2031))
    twice["years"]["2031"]["holidays"] = cases["twice"]
    weekday = json.loads(json.dumps(FAKE_2031))
    weekday["years"]["2031"]["workdays"] = ["2031-09-29"]  # a Monday
    both = json.loads(json.dumps(FAKE_2031))
    both["years"]["2031"]["workdays"] = ["2031-01-01"]
    for data, fault in ((twice, "重复"), (weekday, "不是周末"), (both, "既是放假日")):
        result = app.test_cli_runner().invoke(
            args=["holidays", "load", str(_write(tmp_path, data))]
        )
        assert result.exit_code == 1 and fault in result.output + str(result.stderr_bytes), (
            result.output
        )
    with app.app_context():
        assert db.session.query(HolidayYear).count() == 0  # nothing half-loaded


def test_a_missing_next_year_warns_from_december(app: Flask, tmp_path: Path) -> None:
    from server.services.caseloop.case_deadlines import calendar
    from server.services.territory import holidays

    with app.app_context():
        cal = calendar()
        assert holidays.warnings(cal, date(2026, 11, 30)) == []
        (warning,) = holidays.warnings(cal, date(2026, 12, 1))
        assert warning["code"] == "holidays_missing" and "2027" in warning["message_zh"]
        assert len(holidays.warnings(cal, date(2027, 1, 5))) == 1  # the year itself missing


def test_healthz_names_the_missing_year(app: Flask) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "ok"
    codes = [w["code"] for w in body["warnings"]]
    missing_next = today.month == 12 and today.year + 1 > 2026
    missing_now = today.year > 2026
    assert (len(codes) > 0) == (missing_next or missing_now)


def test_the_cli_names_every_fault_with_its_line(app: Flask, tmp_path: Path) -> None:
    from server.extensions import db
    from server.models import HolidayYear

    bad = json.loads(json.dumps(FAKE_2031))
    bad["years"]["2031"]["holidays"] = ["2031-01-01", "2031-01-01", "2029-10-01"]
    bad["years"]["2031"]["workdays"] = ["2031-09-29"]  # a Monday
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps(bad, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    result = app.test_cli_runner().invoke(args=["holidays", "load", str(path)])
    out = result.output + str(result.stderr_bytes or b"", "utf-8")
    assert result.exit_code == 1, out
    for fault, day in (
        ("重复", "2031-01-01"),
        ("不属于 2031 年", "2029-10-01"),
        ("不是周末", "2031-09-29"),
    ):
        said = next(line for line in out.splitlines() if fault in line)
        number = int(said.split("第 ")[1].split(" 行")[0])
        assert f'"{day}"' in lines[number - 1], (said, lines[number - 1])
    assert "is listed twice" in out and "nothing loaded" in out
    with app.app_context():
        assert db.session.query(HolidayYear).count() == 0


def _upload(client: FlaskClient, page: str, text: str) -> Any:
    return client.post(
        "/console/admin/holidays",
        data={
            "csrf_token": csrf_of(page),
            "_back": "/console/admin/holidays",
            "holidays": (io.BytesIO(text.encode()), "holidays.json"),
        },
        content_type="multipart/form-data",
    )


def test_the_admin_page_lists_the_years_and_their_days(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign_in(client, "cityadmin")
    page = client.get("/console/admin/holidays")
    assert page.status_code == 200
    table = page.text.split('class="holiday-years"')[1].split("</table>")[0]
    row_2026 = table.split('<th scope="row">2026</th>')[1].split("</tr>")[0]
    assert "国办发明电〔2025〕7号" in row_2026
    assert "10-01–10-07" in row_2026 and "02-15–02-23" in row_2026  # blocks of days off
    assert "共 33 天" in row_2026 and "10-10" in row_2026  # a make-up workday (调休)
    assert "随程序发布" in row_2026
    response = _upload(client, page.text, json.dumps(FAKE_2031, ensure_ascii=False))
    assert response.status_code == 303
    page = client.get("/console/admin/holidays")
    row_2031 = page.text.split('<th scope="row">2031</th>')[1].split("</tr>")[0]
    assert "10-01–10-02" in row_2031 and "09-27" in row_2031 and "管理员导入" in row_2031


def test_a_bad_file_on_the_page_lists_every_fault_and_loads_nothing(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from server.extensions import db
    from server.models import HolidayYear

    bad = json.loads(json.dumps(FAKE_2031))
    bad["years"]["2031"]["holidays"] = ["2031-01-01", "2031-01-01"]
    bad["years"]["2031"]["workdays"] = ["2031-09-29"]
    bad["years"]["2032"] = {"holidays": ["2032-01-01"], "workdays": [], "source": "测试数据"}
    text = json.dumps(bad, ensure_ascii=False, indent=2)
    lines = text.splitlines()
    sign_in(client, "cityadmin")
    page = client.get("/console/admin/holidays")
    response = _upload(client, page.text, text)
    assert response.status_code == 422, response.text[:300]
    report = response.text.split('<table class="holiday-report">')[1].split("</table>")[0]
    rows = report.split("<tbody>")[1].split("</tr>")[:-1]
    assert len(rows) == 2  # both faults, the sound year 2032 named in neither
    for row, day in zip(rows, ("2031-01-01", "2031-09-29"), strict=True):
        number = int(row.split("<td>")[1].split("</td>")[0])
        assert f'"{day}"' in lines[number - 1]
        assert f"第 {number} 行" in row and f"line {number}," in row  # both languages
    assert "文件有 2 处错误" in response.text and "未导入任何年份" in response.text
    with app.app_context():
        assert db.session.query(HolidayYear).count() == 0  # not even the sound year


def test_only_admins_see_the_page_and_only_city_admins_load(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from datetime import datetime

    from server.services.caseloop.case_deadlines import calendar, local_zone
    from server.services.territory import holidays

    sign_in(client, "dispatcher")
    assert client.get("/console/admin/holidays").status_code == 403
    sign_in(client, "admin")  # a subdistrict's admin: the calendar is the city's
    page = client.get("/console/admin/holidays")
    assert page.status_code == 200 and 'type="file"' not in page.text
    assert _upload(client, page.text, json.dumps(FAKE_2031)).status_code == 403
    with app.app_context():
        expected = holidays.warnings(calendar(), datetime.now(local_zone()).date())
    for warning in expected:  # e.g. from 1 December while next year is missing
        assert warning["message_zh"] in page.text
    assert page.text.count('class="flash warn"') >= len(expected)
    other = client.get("/console/admin/people").text  # every admin page, with a link
    for warning in expected:
        assert warning["message_zh"] in other and 'href="/console/admin/holidays">去导入' in other
    if not expected:
        assert "去导入" not in other
