"""The 12345 import: rows per second for check, import and re-import, against the same cases
reported one by one through `cases.report_case` (the baseline: what the cases cost anyway).

    python bench/hotline_import.py --orders 1000 [--backend spatialite --backend postgis]

Each measurement runs on a fresh database with the demo subdistrict (no history). The sheet
is an XLSX of N work orders with points at the demo grids' representative points, spread over
the grids and the demo categories.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from typing import Any

from _common import fresh_app
from sqlalchemy import select


def sheet(rows: int) -> tuple[bytes, list[dict[str, Any]]]:
    from geoalchemy2.shape import to_shape
    from openpyxl import Workbook

    from server.extensions import db
    from server.models import Category, Grid

    points = []
    for g in db.session.scalars(select(Grid)):
        p = to_shape(g.geom).representative_point()
        points.append((round(p.x, 7), round(p.y, 7)))
    codes = list(db.session.scalars(select(Category.code).where(Category.active.is_(True))))
    rng = random.Random(7)
    book = Workbook(write_only=True)
    ws = book.create_sheet()
    ws.append(
        ["工单编号", "来电时间", "诉求类型", "诉求内容", "地址", "联系人", "联系电话", "坐标"]
    )
    data = []
    for i in range(rows):
        lon, lat = rng.choice(points)
        row = {
            "order_no": f"BENCH{i:08d}",
            "category": rng.choice(codes),
            "description": f"第 {i} 号工单：道路积水，影响通行",
            "lon": lon,
            "lat": lat,
        }
        data.append(row)
        ws.append(
            [
                row["order_no"],
                "2026-12-03 09:00",
                row["category"],
                row["description"],
                "文昌路 18 号",
                "王小明",
                "13912345678",
                f"{lon},{lat}",
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), data


def dispatcher() -> Any:
    from server.extensions import db
    from server.models import User
    from server.services.people.auth import principal_for

    user = db.session.scalar(select(User).where(User.role == "dispatcher"))
    assert user is not None
    return principal_for(user)


def seeded(backend: str) -> Any:
    from server.demo.seed import seed_demo
    from server.services.uow import unit_of_work

    app = fresh_app(backend)
    with app.app_context(), unit_of_work() as uow:
        seed_demo(uow, "bench-password")
    return app


def run(backend: str, rows: int) -> None:
    from server.services.caseloop.cases import ReportInput, report_case
    from server.services.interop.hotline import import_orders
    from server.services.uow import unit_of_work

    print(f"\n## {backend}: {rows:,} work orders")
    print(f"  {'step':<34} {'seconds':>8} {'rows/s':>8}")

    def line(label: str, seconds: float) -> None:
        print(f"  {label:<34} {seconds:8.2f} {rows / seconds:8,.0f}")

    app = seeded(backend)
    with app.app_context():
        data, items = sheet(rows)
        who = dispatcher()
        started = time.perf_counter()
        with unit_of_work() as uow:
            for item in items:
                report_case(
                    uow,
                    who,
                    ReportInput(
                        category=item["category"],
                        description=item["description"],
                        lon=item["lon"],
                        lat=item["lat"],
                        source="hotline",
                        reporter_name="王小明",
                        reporter_phone="13912345678",
                        address="文昌路 18 号",
                    ),
                    channel="12345",
                )
        line("baseline: report_case × N", time.perf_counter() - started)

    app = seeded(backend)
    with app.app_context():
        who = dispatcher()
        for label, dry in (("check only (--dry-run)", True), ("import", False)):
            started = time.perf_counter()
            with unit_of_work() as uow:
                report = import_orders(uow, who, "bench.xlsx", data, dry_run=dry)
            line(label, time.perf_counter() - started)
            assert not report.problems, report.problems[:3]
        assert len(report.created) == rows
        started = time.perf_counter()
        with unit_of_work() as uow:
            again = import_orders(uow, who, "bench.xlsx", data)
        line("re-import (all unchanged)", time.perf_counter() - started)
        assert len(again.unchanged) == rows and not again.created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders", type=int, default=1000
    )  # not --rows: make bench passes its arguments to every script
    parser.add_argument("--backend", action="append", choices=["spatialite", "postgis"])
    args, _ = parser.parse_known_args()
    for backend in args.backend or ["spatialite"]:
        run(backend, args.orders)


if __name__ == "__main__":
    main()
