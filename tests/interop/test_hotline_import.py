"""12345 work-order import (`minqing cases import`) and the reply sheet (回复单), both backends:
generated XLSX and CSV files, a file with every kind of bad row (the report before any write,
all-or-nothing), `--skip-invalid`, a re-import that changes nothing, the category table, and
the reply sheet read back with openpyxl after the cases were worked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from factories import LAT0, LON0, STEP
from flask import Flask
from helpers import A1, B1
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

C1 = (LON0 + 0.03 + 0.5 * STEP, LAT0 + 0.5 * STEP)  # the other subdistrict's grid
HEADER = ["工单编号", "来电时间", "诉求类型", "诉求内容", "地址", "联系人", "联系电话", "坐标"]


def coords(point: tuple[float, float]) -> str:
    return f"{point[0]:.6f},{point[1]:.6f}"


GOOD = [
    [
        "GD20261203000001",
        "2026-12-03 08:15:00",
        "环境卫生",
        "小区门口垃圾堆积三天无人清运",
        "文昌路 18 号",
        "王小明",
        "13912345678",
        coords(A1),
    ],
    [
        "GD20261203000002",
        datetime(2026, 12, 3, 9, 30),
        "sanitation",
        "路边绿化带有建筑垃圾",
        "乙村村口",
        "李四",
        "0514-87654321",
        coords(B1),
    ],
    [
        "GD20261203000003",
        "2026/12/3 10:05",
        "城市管理/市容环境/垃圾清运",
        "垃圾桶满溢",
        "",
        "",
        "",
        coords(A1),
    ],
]


def xlsx_bytes(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[Any]], header: list[str], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode(encoding)


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["cases", *args])


def case_rows(app: Flask) -> list[Any]:
    from server.extensions import db
    from server.models import Case, HotlineOrder

    with app.app_context():
        rows = db.session.execute(
            select(
                HotlineOrder.order_no,
                Case.number,
                Case.source,
                Case.channel,
                Case.grid_id,
                Case.reporter_name,
                Case.address,
                HotlineOrder.received_at,
            )
            .join(Case, Case.id == HotlineOrder.case_id)
            .order_by(HotlineOrder.order_no)
        ).all()
        return [tuple(r) for r in rows]


def count_cases(app: Flask) -> int:
    from server.extensions import db
    from server.models import Case

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Case)) or 0)


@pytest.fixture
def mapped(app: Flask, world: World) -> World:
    result = run(app, "categories", "set", "市容环境", "sanitation")
    assert result.exit_code == 0, result.output + result.stderr
    return world


def test_xlsx_import_then_reimport_changes_nothing(
    app: Flask, mapped: World, tmp_path: Path
) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(GOOD))
    result = run(app, "import", str(path), "--user", "dispatcher")
    assert result.exit_code == 0, result.output + result.stderr
    assert "created 新建: 3" in result.output
    rows = case_rows(app)
    assert [r[0] for r in rows] == [g[0] for g in GOOD]
    assert {r[2] for r in rows} == {"hotline"} and {r[3] for r in rows} == {"12345"}
    assert rows[0][4] == mapped.grid_ids["A1"] and rows[1][4] == mapped.grid_ids["B1"]
    assert rows[0][5] == "王小明" and rows[0][6] == "文昌路 18 号"
    assert rows[2][5] is None  # an empty cell is no name
    # 来电时间 is local (Asia/Shanghai) time: 08:15 +08:00 = 00:15 UTC
    assert rows[0][7] == datetime(2026, 12, 3, 0, 15, tzinfo=UTC)
    from server.extensions import db
    from server.models import Case, CaseEvent

    with app.app_context():
        events = db.session.execute(
            select(CaseEvent.action, CaseEvent.payload, CaseEvent.actor_id)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(Case.number == rows[0][1])
        ).all()
    assert [e.action for e in events] == ["report"]  # the same event as any report
    assert events[0].payload["channel"] == "12345" and events[0].payload["source"] == "hotline"
    assert events[0].actor_id == mapped.user_ids["dispatcher"]
    before = count_cases(app)

    again = run(app, "import", str(path), "--user", "dispatcher")
    assert again.exit_code == 0, again.output + again.stderr
    assert "created 新建: 0" in again.output
    assert "unchanged 已导入过，未改动: 3 — nothing changed 无变化" in again.output
    assert count_cases(app) == before and case_rows(app) == rows


def test_a_bad_file_is_reported_row_by_row_and_nothing_is_written(
    app: Flask, mapped: World, tmp_path: Path
) -> None:
    far = (LON0 + 1.0, LAT0 + 1.0)
    bad = [
        *GOOD[:1],
        ["", "2026-12-03 08:00", "环境卫生", "没有编号", "", "", "", coords(A1)],  # row 3
        ["GD-B", "昨天上午", "环境卫生", "时间写错", "", "", "", coords(A1)],  # row 4
        ["GD-C", "2026-12-03 08:00", "噪音扰民", "未知分类", "", "", "", coords(A1)],  # row 5
        ["GD-D", "2026-12-03 08:00", "环境卫生", "坐标写错", "", "", "", "东经119度"],  # row 6
        # row 7: an address only is no problem: it is imported unlocated (test_unlocated.py)
        ["GD-E", "2026-12-03 08:00", "环境卫生", "只有地址", "文昌路 1 号", "", "", ""],  # 7
        ["GD-F", "2026-12-03 08:00", "环境卫生", "网格之外", "", "", "", coords(far)],  # 8
        ["GD-G", "2026-12-03 08:00", "环境卫生", "别的街道", "", "", "", coords(C1)],  # 9
        [GOOD[0][0], "2026-12-03 08:00", "环境卫生", "编号重复", "", "", "", coords(A1)],  # 10
        ["GD-H", "2026-12-03 08:00", "环境卫生", "", "", "", "电话号码", coords(A1)],  # 11
        ["GD-I", "2026-12-03 08:00", "环境卫生", "内容", "", "", "", coords(A1)],  # 12 good
    ]
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx_bytes(bad))
    before = count_cases(app)
    result = run(app, "import", str(path), "--user", "dispatcher")
    assert result.exit_code == 1
    found = {
        (line.split()[1], line.split("[", 1)[1].split("]")[0], line.split("] ")[1].split(":")[0])
        for line in result.stderr.splitlines()
        if line.strip().startswith("row ")
    }
    assert found == {
        ("3", "工单编号", "required"),
        ("4", "来电时间", "bad_datetime"),
        ("5", "诉求类型", "unknown_category"),
        ("6", "坐标", "bad_coordinates"),
        ("8", "坐标", "outside_subdistrict"),
        ("9", "坐标", "outside_subdistrict"),
        ("10", "工单编号", "duplicate_in_file"),
        ("11", "诉求内容", "required"),
        ("11", "联系电话", "invalid_phone"),
    }
    assert "8 行有误，未导入任何工单" in result.stderr
    assert count_cases(app) == before and case_rows(app) == []

    skipping = run(app, "import", str(path), "--user", "dispatcher", "--skip-invalid")
    assert skipping.exit_code == 0, skipping.output + skipping.stderr
    assert "created 新建: 3" in skipping.output and "skipped 跳过: 8" in skipping.output
    assert "unlocated 待定位: 1" in skipping.output
    assert sorted(r[0] for r in case_rows(app)) == sorted([GOOD[0][0], "GD-E", "GD-I"])


def test_report_as_data_and_refusals(app_ctx: Flask, mapped: World) -> None:
    from server.errors import DomainError
    from server.extensions import db
    from server.models import User
    from server.services.interop.hotline import ImportRejected, import_orders
    from server.services.people.auth import principal_for
    from server.services.uow import unit_of_work

    def as_user(name: str) -> Any:
        return principal_for(db.session.scalar(select(User).where(User.username == name)))

    data = xlsx_bytes(GOOD)
    with pytest.raises(DomainError) as refused, unit_of_work() as uow:
        import_orders(uow, as_user("collector"), "x.xlsx", data)
    assert refused.value.status == 403
    # missing columns: refused even with --skip-invalid, the report names them
    with pytest.raises(ImportRejected) as rejected, unit_of_work() as uow:
        import_orders(
            uow,
            as_user("admin"),
            "x.xlsx",
            xlsx_bytes([["1", "x"]], ["编号X", "内容X"]),
            skip_invalid=True,
        )
    assert [(p["row"], p["column"], p["code"]) for p in rejected.value.details] == [
        (1, "工单编号", "missing_column"),
        (1, "诉求内容", "missing_column"),
        (1, "诉求类型", "missing_column"),
    ]
    assert all(p["message_zh"] and p["message"] for p in rejected.value.details)
    # not a spreadsheet
    with pytest.raises(DomainError) as damaged, unit_of_work() as uow:
        import_orders(uow, as_user("admin"), "x.xlsx", b"PK\x03\x04 not a zip")
    assert damaged.value.code == "bad_file" and damaged.value.field == "file"
    # a dry run writes nothing and says what it would do
    with unit_of_work() as uow:
        dry = import_orders(uow, as_user("admin"), "x.xlsx", data, dry_run=True)
    assert dry.would_create == 3 and not dry.written and dry.created == []
    assert dry.columns["order_no"] == "工单编号" and dry.columns["coordinates"] == "坐标"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_with_lon_lat_columns(app: Flask, mapped: World, tmp_path: Path, encoding: str) -> None:
    header = [
        "工单号",
        "受理时间",
        "问题分类",
        "来电内容",
        "事发地址",
        "来电人",
        "来电号码",
        "经度",
        "纬度",
        "紧急程度",
        "办理时限",
    ]
    rows = [
        [
            "C-001",
            "2026年12月3日 9时30分",
            "市容环境",
            "路灯不亮",
            "甲社区",
            "赵六",
            "13800001111",
            A1[0],
            A1[1],
            "紧急",
            "2026-12-05 17:00",
        ],
        ["C-002", "2026-12-03", "环境卫生", "井盖缺失", "", "", "", B1[0], B1[1], "", ""],
    ]
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes(rows, header, encoding))
    result = run(app, "import", str(path), "--user", "admin")
    assert result.exit_code == 0, result.output + result.stderr
    from server.extensions import db
    from server.models import Case, HotlineOrder

    with app.app_context():
        got = db.session.execute(
            select(
                HotlineOrder.order_no,
                Case.priority,
                HotlineOrder.deadline_at,
                HotlineOrder.category_text,
                Case.grid_id,
            )
            .join(Case, Case.id == HotlineOrder.case_id)
            .order_by(HotlineOrder.order_no)
        ).all()
    assert [(g[0], g[1], g[3], g[4]) for g in got] == [
        ("C-001", "urgent", "市容环境", mapped.grid_ids["A1"]),
        ("C-002", "normal", "环境卫生", mapped.grid_ids["B1"]),
    ]
    assert got[0][2] is not None and got[1][2] is None


def test_reply_sheet_after_the_cases_were_worked(app: Flask, mapped: World, tmp_path: Path) -> None:
    from server.extensions import db
    from server.models import Case, User
    from server.services.caseloop.cases import ActionInput, act
    from server.services.people.auth import principal_for
    from server.services.uow import unit_of_work

    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(GOOD))
    assert run(app, "import", str(path), "--user", "dispatcher").exit_code == 0
    first = case_rows(app)[0]
    with app.app_context():
        users = {u.username: principal_for(u) for u in db.session.scalars(select(User))}
        case = db.session.scalar(select(Case).where(Case.number == first[1]))
        assert case is not None
        steps = [
            ("dispatcher", "accept", {}),
            ("dispatcher", "dispatch", {"unit_id": mapped.unit_id}),
            ("staff", "acknowledge", {}),
            ("staff", "report_done", {"result": "已清运，现场已恢复整洁"}),
            ("dispatcher", "verify_ok", {}),
        ]
        for who, action, extra in steps:
            with unit_of_work() as uow:
                case = act(
                    uow, users[who], case.id, action, ActionInput(version=case.version, **extra)
                )
        case_id = case.id

    out = tmp_path / "reply.xlsx"
    result = run(app, "reply-sheet", str(out), "--user", "dispatcher")
    assert result.exit_code == 0, result.output + result.stderr
    sheet = load_workbook(out).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert sheet.freeze_panes == "A2"
    col = {name: header.index(name) for name in header}
    assert [r[0] for r in body] == [g[0] for g in GOOD]
    done = body[0]
    assert done[col["本系统编号 Case number"]] == first[1]
    assert done[col["状态 Status"]] == "待评价"
    assert done[col["是否办结 Finished"]] == "是"
    assert done[col["办理单位 Handling unit"]] == "城管中队"
    assert done[col["办理结果 Result"]] == "已清运，现场已恢复整洁"
    assert isinstance(done[col["办结时间 Handled"]], datetime)
    assert isinstance(done[col["来电时间 Received"]], datetime)
    assert done[col["来电时间 Received"]] == datetime(2026, 12, 3, 8, 15)  # local, as sent
    assert (
        body[1][col["是否办结 Finished"]] == "否" and body[1][col["办理单位 Handling unit"]] is None
    )

    finished = tmp_path / "finished.csv"
    result = run(app, "reply-sheet", str(finished), "--user", "dispatcher", "--finished")
    assert result.exit_code == 0, result.output + result.stderr
    raw = finished.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r[0] for r in lines[1:]] == [GOOD[0][0]]
    # the other subdistrict's dispatcher sees none of them; a collector may not export
    other = tmp_path / "other.csv"
    assert run(app, "reply-sheet", str(other), "--user", "dispatcher2").exit_code == 0
    assert len(other.read_bytes().decode("utf-8-sig").strip().splitlines()) == 1
    refused = run(app, "reply-sheet", str(tmp_path / "c.csv"), "--user", "collector")
    assert refused.exit_code == 1
    with app.app_context():
        from server.models import ExportLog

        logged = db.session.scalars(select(ExportLog.subject)).all()
    assert logged.count("hotline_replies") >= 3
    assert case_id


def test_category_table(app: Flask, world: World) -> None:
    assert run(app, "categories", "set", "市容环境", "sanitation").exit_code == 0
    assert run(app, "categories", "set", "市容环境", "sanitation").exit_code == 0  # idempotent
    listed = run(app, "categories", "list")
    assert listed.output.strip() == "市容环境\tsanitation\t环境卫生"
    unknown = run(app, "categories", "set", "噪音", "noise")
    assert unknown.exit_code == 1 and "未知的事项分类" in unknown.stderr
    assert "已删除" in run(app, "categories", "remove", "市容环境").output
    assert run(app, "categories", "list").output.strip() == ""
