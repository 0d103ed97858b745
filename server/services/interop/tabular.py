"""Writing rows as spreadsheets that stream: XLSX (XlsxWriter, constant memory) and CSV.

The XLSX is assembled in a temporary file (a zip needs its parts before its directory) with
XlsxWriter's constant-memory mode, which flushes each row as it is written; the file is then
sent in chunks and removed. CSV is produced chunk by chunk as the rows come. Either way a
100k-row export never holds its rows in memory (bench/exports.py measures it).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

import xlsxwriter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
BOM = "\ufeff"
CHUNK = 64 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str  # Chinese first: "编号 Number"
    width: float = 14
    kind: str = "text"  # text | number | integer | datetime | date | percent


@dataclass
class Sheet:
    title: str  # ≤ 31 characters (Excel)
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


def _local(value: datetime, zone: tzinfo) -> datetime:
    """Excel has no time zones: local wall-clock time, as the headers say."""
    if value.tzinfo is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value


def csv_cell(value: Any, kind: str, zone: tzinfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value, zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # a resident's "=HYPERLINK(…)" stays text in Excel
    return value


def csv_chunks(sheet: Sheet, zone: tzinfo, batch: int = 500) -> Iterator[bytes]:
    """The sheet as UTF-8 CSV with a BOM (so Excel reads the Chinese), batch by batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([c.header for c in sheet.columns])
    kinds = [c.kind for c in sheet.columns]
    for n, row in enumerate(sheet.rows, 1):
        writer.writerow([csv_cell(v, k, zone) for v, k in zip(row, kinds, strict=True)])
        if n % batch == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(path: str, sheets: Sequence[Sheet], zone: tzinfo) -> int:
    """Write `sheets` to `path` in constant memory; how many data rows were written."""
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    header = workbook.add_format(
        {"bold": True, "bg_color": "#DDE5F0", "border": 1, "text_wrap": True, "valign": "top"}
    )
    formats = {
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "percent": workbook.add_format({"num_format": "0.0%"}),
        "number": workbook.add_format({"num_format": "0.0##"}),
        "integer": workbook.add_format({"num_format": "0"}),
    }
    total = 0
    for sheet in sheets:
        ws = workbook.add_worksheet(sheet.title[:31])
        for i, column in enumerate(sheet.columns):
            ws.set_column(i, i, column.width)
            ws.write_string(0, i, column.header, header)
        ws.freeze_panes(1, 0)
        r = 0
        for r, row in enumerate(sheet.rows, 1):
            for i, (value, column) in enumerate(zip(row, sheet.columns, strict=True)):
                _write(ws, r, i, value, formats.get(column.kind), zone)
        ws.autofilter(0, 0, max(r, 1), len(sheet.columns) - 1)
        total += r
    workbook.close()
    return total


def _write(ws: Any, r: int, c: int, value: Any, fmt: Any, zone: tzinfo) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        ws.write_datetime(r, c, _local(value, zone), fmt)
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否")
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, fmt)
    else:
        ws.write_string(r, c, str(value))


def xlsx_chunks(
    sheets: Sequence[Sheet], zone: tzinfo, folder: str | None = None
) -> Iterator[bytes]:
    """The workbook, written to a temporary file in constant memory, then read in chunks."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", dir=folder)
    os.close(handle)
    try:
        write_xlsx(path, sheets, zone)
        with open(path, "rb") as produced:
            while chunk := produced.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
