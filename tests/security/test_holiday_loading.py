"""The holiday calendar is data an admin loads: validated per year, replacing the bundled
year, with a warning while next year is missing (from 1 December) and weekends-only meanwhile."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from flask import Flask

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
