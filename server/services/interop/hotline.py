"""12345 hotline work orders (工单): import from XLSX/CSV as cases, and the reply sheet (回复单).

An import reads the sheet, maps its headers (the usual 12345 names, `HEADERS`), checks every
row — required cells, dates, coordinates, the category through the table an admin keeps
(`hotline_categories`), duplicates in the file — and locates all the points at once
(`locate.locate_many`) before anything is written. Then, all-or-nothing unless
`skip_invalid`, each new row becomes a case through `cases.report_case` (source `hotline`,
channel `12345`: same numbering, events and webhooks as any case, but one inbox entry per
dispatcher for the whole file, `hotline_digest`) and a
`hotline_orders` row keeps its external number, unique: a row whose number was imported
before is left alone and reported as such, so re-importing a file changes nothing.

A row's place: its coordinates when present (坐标, or 经度/纬度, in `crs`); otherwise its
address through the geocoder when one is configured (`MINQING_GEOCODER`,
`territory.geocoding`: only a single precise answer inside the importer's subdistrict
counts); otherwise the row becomes an *unlocated* case (待定位) in the importer's
subdistrict, never guessed, for a dispatcher to locate (docs/interop.md). Coordinates that
are given but bad or outside the subdistrict remain the row's problem.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.domain.cases import STATUS_ZH, VERDICT_ZH, Status
from server.domain.roles import Role
from server.errors import DomainError, Forbidden, Invalid
from server.extensions import db
from server.models import Case, Category, HotlineCategory, HotlineOrder, Subdistrict
from server.services.caseloop.case_deadlines import local_zone
from server.services.caseloop.cases import ReportInput, report_case
from server.services.interop import hotline_digest
from server.services.interop.exports import Export, log_export
from server.services.interop.tabular import (
    CSV_MIME,
    XLSX_MIME,
    Column,
    Sheet,
    csv_chunks,
    xlsx_chunks,
)
from server.services.people.principal import Principal
from server.services.territory.geocoding import GeocodeSession
from server.services.territory.locate import Located, locate_many
from server.services.uow import UnitOfWork

CHANNEL = "12345"
SOURCE = "hotline"
MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
CRS_CHOICES = ("wgs84", "gcj02", "bd09")

# Our field → the header names 12345 platforms use for it (compared without spaces or
# brackets' content, case-insensitively). The first matching column wins.
HEADERS: dict[str, tuple[str, ...]] = {
    "order_no": ("工单编号", "工单号", "工单编码", "受理编号", "受理单号", "order_no"),
    "received_at": ("来电时间", "受理时间", "登记时间", "来电日期", "创建时间", "received_at"),
    "title": ("标题", "诉求标题", "工单标题", "title"),
    "description": ("诉求内容", "来电内容", "问题描述", "诉求描述", "工单内容", "description"),
    "address": ("地址", "事发地址", "诉求地址", "发生地址", "事发地点", "address"),
    "caller_name": ("联系人", "来电人", "来电人姓名", "诉求人", "姓名", "caller_name"),
    "caller_phone": ("联系电话", "来电号码", "联系方式", "电话", "手机", "caller_phone"),
    "category": ("诉求类型", "诉求分类", "分类", "问题分类", "事项分类", "类别", "category"),
    "coordinates": ("坐标", "经纬度", "coordinates"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "deadline": ("办理时限", "办结时限", "截止时间", "处理时限", "回复时限", "deadline"),
    "priority": ("紧急程度", "缓急程度", "priority"),
}
REQUIRED = ("order_no", "description", "category")
LABELS = {  # how a field is named in the report when its column is missing
    "order_no": "工单编号",
    "description": "诉求内容",
    "category": "诉求类型",
}
PRIORITY_WORDS = {
    "特急": "urgent",
    "紧急": "urgent",
    "加急": "high",
    "急": "high",
    "较急": "high",
    "一般": "normal",
    "普通": "normal",
    "低": "low",
    "urgent": "urgent",
    "high": "high",
    "normal": "normal",
    "low": "low",
}
LIMITS = {"order_no": 64, "address": 200, "caller_name": 100, "caller_phone": 32}
DESCRIPTION_MAX = 4000
PHONE = re.compile(r"^[0-9+][0-9 ()+-]{2,30}$")
SEGMENTS = re.compile(r"\s*[/>＞|｜\\－—-]+\s*")


# ---------------------------------------------------------------------------------- report


@dataclass
class RowProblem:
    row: int  # the spreadsheet's row number (the header is row 1 when it is first)
    column: str  # the sheet's header (or our field's usual name when the column is missing)
    code: str
    message: str
    message_zh: str
    order_no: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "order_no": self.order_no,
        }


@dataclass
class Imported:
    row: int
    order_no: str
    case_number: str


@dataclass
class ImportReport:
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # our field → the sheet's header
    created: list[Imported] = field(default_factory=list)
    # created without a place (待定位): no coordinates and no precise geocoder answer
    unlocated: list[Imported] = field(default_factory=list)
    geocoded: int = 0  # rows placed by the geocoder (no coordinates in the sheet)
    geocoder_failure: str | None = None  # why the geocoder stopped answering, if it did
    would_unlocate: int = 0  # a dry run: how many new cases would be unlocated
    unchanged: list[Imported] = field(default_factory=list)  # imported before
    problems: list[RowProblem] = field(default_factory=list)
    skipped: int = 0  # invalid rows left out (skip_invalid)
    written: bool = False
    would_create: int = 0  # a dry run: how many rows would become cases

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": self.columns,
            "created": [vars(i) for i in self.created],
            "unlocated": [vars(i) for i in self.unlocated],
            "geocoded": self.geocoded,
            "geocoder_failure": self.geocoder_failure,
            "would_unlocate": self.would_unlocate,
            "unchanged": [vars(i) for i in self.unchanged],
            "problems": [p.as_dict() for p in self.problems],
            "skipped": self.skipped,
            "written": self.written,
            "would_create": self.would_create,
        }


class ImportRejected(DomainError):
    def __init__(self, report: ImportReport) -> None:
        rows = len({p.row for p in report.problems})
        super().__init__(
            "import_rejected",
            f"{rows} row(s) are invalid; nothing was imported",
            f"{rows} 行有误，未导入任何工单",
            status=422,
            details=[p.as_dict() for p in report.problems],
        )
        self.report = report


# ---------------------------------------------------------------------------------- reading


def _norm(header: Any) -> str:
    text = str(header or "").strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # "来电时间(北京时间)" → "来电时间"
    return re.sub(r"[\s:：*＊]", "", text)


def _file_error(en: str, zh: str) -> Invalid:
    return Invalid("bad_file", en, zh, field="file")


def read_table(filename: str, data: bytes) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header row and the data rows (with their sheet row numbers) of an XLSX or CSV."""
    if len(data) > MAX_BYTES:
        raise _file_error(
            f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB",
            f"文件超过 {MAX_BYTES // (1024 * 1024)} MB",
        )
    name = filename.lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise _file_error("an .xlsx or .csv file is expected", "应为 .xlsx 或 .csv 文件")
    for _number, cells in rows:
        if any(_present(c) for c in cells):
            return [str(c or "").strip() for c in cells], rows
    raise _file_error("the file holds no header row", "文件中没有表头行")


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl  # a runtime dependency for this import only

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise _file_error(
            "not a readable .xlsx workbook", "无法读取该 .xlsx 工作簿（文件损坏或格式不符）"
        ) from exc
    sheet = book.worksheets[0]
    return ((i, list(cells)) for i, cells in enumerate(sheet.iter_rows(values_only=True), 1))


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _file_error("the CSV is neither UTF-8 nor GBK", "CSV 文件编码不是 UTF-8 或 GBK")
    if "\x00" in text:
        raise _file_error("the CSV holds NUL characters", "CSV 文件含有 NUL 字符")
    dialect: Any = csv.excel_tab if text.split("\n", 1)[0].count("\t") > 0 else csv.excel
    return ((i, row) for i, row in enumerate(csv.reader(io.StringIO(text), dialect), 1))


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def map_columns(headers: Sequence[str]) -> dict[str, int]:
    """Our field → the index of the sheet's column holding it."""
    found: dict[str, int] = {}
    normalised = [_norm(h) for h in headers]
    for key, names in HEADERS.items():
        for name in names:
            if _norm(name) in normalised:
                found[key] = normalised.index(_norm(name))
                break
    return found


# ---------------------------------------------------------------------------------- checks


@dataclass
class _Row:
    row: int
    order_no: str
    category_id: int | None = None
    category_code: str | None = None
    category_text: str | None = None
    description: str = ""
    address: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    received_at: datetime | None = None
    deadline_at: datetime | None = None
    priority: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str | None = None  # of lon/lat: the file's, or wgs84 when the geocoder placed it
    located: Located | None = None
    unlocated: bool = False  # no coordinates: the geocoder is asked, else 待定位
    bad: bool = False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an order number Excel took for a number
    return str(value).strip()


def parse_datetime(value: Any) -> datetime | None:
    """A sheet's date or time: an Excel date cell, or text like 2026-12-03 09:30[:00],
    2026/12/3 9:30, 2026年12月3日 9时30分; local time."""
    zone = local_zone()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(), zone)
    text = str(value).strip()
    text = re.sub(r"[年月]", "-", text).replace("日", " ")
    text = re.sub(r"[时点]", ":", text).replace("分", "").replace("秒", "")
    text = re.sub(r"\s+", " ", text.replace("/", "-").replace("T", " ")).strip().rstrip(":")
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        if not 2000 <= parsed.year <= 2100:
            raise ValueError(text)
        return parsed.replace(tzinfo=zone)
    raise ValueError(text)


def parse_coordinates(value: Any) -> tuple[float, float]:
    """`lon,lat` (also with ， ; or a space): longitude first, as map platforms write it."""
    parts = [p for p in re.split(r"[,，;；\s]+", str(value).strip()) if p]
    if len(parts) != 2:
        raise ValueError(value)
    lon, lat = float(parts[0]), float(parts[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(value)
    return lon, lat


def category_table() -> dict[str, tuple[int, str]]:
    """Category text → (category id, code): the admin's table, then our own codes and names."""
    table: dict[str, tuple[int, str]] = {}
    for c in db.session.scalars(select(Category).where(Category.active.is_(True))):
        for text in (c.code, c.name_zh, c.name_en):
            if text:
                table.setdefault(_norm(text), (c.id, c.code))
    rows = db.session.execute(
        select(HotlineCategory.text, Category.id, Category.code)
        .join(Category, Category.id == HotlineCategory.category_id)
        .where(Category.active.is_(True))
    ).all()
    for text, cid, code in rows:  # the admin's mapping wins over a same-named category
        table[_norm(text)] = (cid, code)
    return table


def _map_category(text: str, table: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """The whole text first, then its levels from the most specific ("城市管理/市容/垃圾")."""
    if _norm(text) in table:
        return table[_norm(text)]
    for part in reversed(SEGMENTS.split(text)):
        if _norm(part) in table:
            return table[_norm(part)]
    return None


class _Checker:
    def __init__(self, headers: list[str], columns: dict[str, int], report: ImportReport):
        self.headers = headers
        self.columns = columns
        self.report = report
        self.categories = category_table()

    def header(self, key: str) -> str:
        index = self.columns.get(key)
        return self.headers[index] if index is not None else LABELS.get(key, key)

    def cell(self, cells: list[Any], key: str) -> Any:
        index = self.columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    def problem(self, item: _Row, key: str, code: str, en: str, zh: str) -> None:
        item.bad = True
        self.report.problems.append(
            RowProblem(item.row, self.header(key), code, en, zh, item.order_no or None)
        )

    def check(self, number: int, cells: list[Any]) -> _Row:
        item = _Row(row=number, order_no=_text(self.cell(cells, "order_no")))
        for key in REQUIRED:
            if not _text(self.cell(cells, key)):
                self.problem(
                    item,
                    key,
                    "required",
                    f"{self.header(key)}: required",
                    f"{self.header(key)} 不能为空",
                )
        for key, limit in LIMITS.items():
            if len(_text(self.cell(cells, key))) > limit:
                self.problem(
                    item,
                    key,
                    "too_long",
                    f"{self.header(key)}: at most {limit} characters",
                    f"{self.header(key)} 不能超过 {limit} 个字",
                )
        title = _text(self.cell(cells, "title"))
        body = _text(self.cell(cells, "description"))
        item.description = f"【{title}】{body}" if title and title not in body else body
        if len(item.description) > DESCRIPTION_MAX:
            self.problem(
                item,
                "description",
                "too_long",
                f"{self.header('description')}: at most {DESCRIPTION_MAX} characters",
                f"{self.header('description')} 不能超过 {DESCRIPTION_MAX} 个字",
            )
        item.address = _text(self.cell(cells, "address")) or None
        item.caller_name = _text(self.cell(cells, "caller_name")) or None
        item.caller_phone = _text(self.cell(cells, "caller_phone")) or None
        if item.caller_phone and not PHONE.match(item.caller_phone):
            self.problem(
                item,
                "caller_phone",
                "invalid_phone",
                f"{self.header('caller_phone')}: not a phone number",
                f"{self.header('caller_phone')} 不是有效的电话号码",
            )
        for key, attr in (("received_at", "received_at"), ("deadline", "deadline_at")):
            try:
                setattr(item, attr, parse_datetime(self.cell(cells, key)))
            except ValueError:
                self.problem(
                    item,
                    key,
                    "bad_datetime",
                    f"{self.header(key)}: not a date and time (e.g. 2026-12-03 09:30)",
                    f"{self.header(key)} 不是有效的日期时间（如 2026-12-03 09:30）",
                )
        priority = _text(self.cell(cells, "priority"))
        if priority:
            item.priority = PRIORITY_WORDS.get(priority.lower())
            if item.priority is None:
                self.problem(
                    item,
                    "priority",
                    "invalid_value",
                    f"{self.header('priority')}: one of 特急, 紧急, 加急, 一般, 低",
                    f"{self.header('priority')} 应为 特急、紧急、加急、一般、低 之一",
                )
        text = _text(self.cell(cells, "category"))
        if text:
            item.category_text = text
            mapped = _map_category(text, self.categories)
            if mapped is None:
                self.problem(
                    item,
                    "category",
                    "unknown_category",
                    f"{self.header('category')}: {text!r} maps to none of our categories "
                    "(add it with `minqing cases categories set`)",
                    f"{self.header('category')}「{text}」未对应任何事项分类"
                    "（请管理员在分类对照表中添加）",
                )
            else:
                item.category_id, item.category_code = mapped
        self._coordinates(item, cells)
        return item

    def _coordinates(self, item: _Row, cells: list[Any]) -> None:
        pair = _text(self.cell(cells, "coordinates"))
        lon, lat = _text(self.cell(cells, "lon")), _text(self.cell(cells, "lat"))
        key = "coordinates" if pair or "coordinates" in self.columns else "lon"
        try:
            if pair:
                item.lon, item.lat = parse_coordinates(pair)
            elif lon or lat:
                item.lon, item.lat = parse_coordinates(f"{lon},{lat}")
        except ValueError:
            self.problem(
                item,
                key,
                "bad_coordinates",
                f"{self.header(key)}: longitude,latitude in degrees (e.g. 119.4357,32.3878)",
                f"{self.header(key)} 应为“经度,纬度”（如 119.4357,32.3878）",
            )
            return
        if item.lon is None:
            item.unlocated = True  # the geocoder may place it; else it is imported 待定位


# ---------------------------------------------------------------------------------- import


def _may_import(principal: Principal) -> None:
    if principal.role not in (Role.ADMIN, Role.DISPATCHER):
        raise Forbidden(
            "Only admins and dispatchers import 12345 work orders",
            "仅管理员和调度员可导入 12345 工单",
        )


def import_orders(
    uow: UnitOfWork,
    principal: Principal,
    filename: str,
    data: bytes,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    crs: str = "wgs84",
    progress: Callable[[int], Any] | None = None,
) -> ImportReport:
    """Check every row, then (unless `dry_run`) create the new ones as cases.

    Raises `ImportRejected` (422, the report in `details`) when a row is bad and not
    `skip_invalid`; nothing is written then. A work order imported before is `unchanged`."""
    _may_import(principal)
    if crs not in CRS_CHOICES:
        raise Invalid(
            "invalid_value",
            f"crs: one of {', '.join(CRS_CHOICES)}",
            "crs 应为 wgs84、gcj02 或 bd09",
            field="crs",
        )
    headers, rows = read_table(filename, data)
    columns = map_columns(headers)
    report = ImportReport(columns={k: headers[i] for k, i in columns.items()})
    missing = [k for k in REQUIRED if k not in columns]
    if missing:
        for key in missing:
            report.problems.append(
                RowProblem(
                    1,
                    LABELS[key],
                    "missing_column",
                    f"no column for {LABELS[key]} (one of: {', '.join(HEADERS[key][:-1])})",
                    f"缺少“{LABELS[key]}”列（可用表头：{'、'.join(HEADERS[key][:-1])}）",
                )
            )
        raise ImportRejected(report)  # no row can be read without them, even skipping
    checker = _Checker(headers, columns, report)
    items: list[_Row] = []
    seen: dict[str, int] = {}
    for number, cells in rows:
        if not any(_present(c) for c in cells):
            continue
        if len(items) >= MAX_ROWS:
            raise _file_error(
                f"more than {MAX_ROWS} rows: split the file", f"超过 {MAX_ROWS} 行，请拆分文件"
            )
        item = checker.check(number, list(cells))
        if item.order_no:
            if item.order_no in seen:
                first = seen[item.order_no]
                checker.problem(
                    item,
                    "order_no",
                    "duplicate_in_file",
                    f"{checker.header('order_no')} {item.order_no} is also on row {first}",
                    f"{checker.header('order_no')} {item.order_no} 与第 {first} 行重复",
                )
            else:
                seen[item.order_no] = number
        items.append(item)
    report.rows = len(items)
    before = _imported_before([i.order_no for i in items if i.order_no])
    fresh = []
    for item in items:
        if item.order_no in before and seen.get(item.order_no) == item.row:
            # imported before: left alone, whatever the row says now
            report.unchanged.append(Imported(item.row, item.order_no, before[item.order_no]))
            continue
        fresh.append(item)
    again = {i.row for i in report.unchanged}
    report.problems = [p for p in report.problems if p.row not in again]
    for item in fresh:
        if item.lon is not None:
            item.crs = crs
    _geocode(fresh, report)
    _locate(fresh, checker, principal)
    unlocated_in = _home_for_unlocated(fresh, checker, principal)
    valid = [i for i in fresh if not i.bad]
    report.problems.sort(key=lambda p: p.row)
    if report.problems and not skip_invalid:
        raise ImportRejected(report)
    report.skipped = len({p.row for p in report.problems})
    if dry_run:
        report.would_create = len(valid)
        report.would_unlocate = sum(1 for i in valid if i.located is None)
        return report
    landed: list[tuple[int, bool]] = []
    for n, item in enumerate(valid, 1):
        placed = item.located is not None
        result = report_case(
            uow,
            principal,
            ReportInput(
                category=item.category_code or "",
                description=item.description,
                lon=item.lon or 0.0,
                lat=item.lat or 0.0,
                crs=item.crs or crs,
                priority=item.priority,
                source=SOURCE,
                reporter_name=item.caller_name,
                reporter_phone=item.caller_phone,
                address=item.address,
            ),
            channel=CHANNEL,
            unlocated_in=None if placed else unlocated_in,
            inbox=False,  # the dispatchers hear of the file once, below
        )
        landed.append((result.case.subdistrict_id, placed))
        uow.session.add(
            HotlineOrder(
                order_no=item.order_no,
                case_id=result.case.id,
                subdistrict_id=result.case.subdistrict_id,
                received_at=item.received_at,
                deadline_at=item.deadline_at,
                category_text=item.category_text,
                source_file=filename[-200:],
                row_number=item.row,
                imported_by_id=principal.user_id or None,
                imported_at=uow.now,
            )
        )
        report.created.append(Imported(item.row, item.order_no, result.case.number))
        if not placed:
            report.unlocated.append(Imported(item.row, item.order_no, result.case.number))
        if progress is not None:
            progress(1)
        if n % 200 == 0:
            uow.session.flush()
    uow.session.flush()
    hotline_digest.tell_dispatchers(uow, principal, filename, hotline_digest.tally(landed))
    report.written = bool(report.created)
    return report


def _imported_before(order_nos: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(order_nos), 500):
        chunk = order_nos[start : start + 500]
        rows = db.session.execute(
            select(HotlineOrder.order_no, Case.number)
            .join(Case, Case.id == HotlineOrder.case_id)
            .where(HotlineOrder.order_no.in_(chunk))
        ).all()
        found.update({o: n for o, n in rows})
    return found


def _unlocated_subdistrict(principal: Principal) -> Subdistrict | None:
    """Where an unlocated row's case goes: the importer's subdistrict (a city admin's only
    one when there is a single subdistrict; None when there are several)."""
    if principal.subdistrict_id is not None:
        return db.session.get(Subdistrict, principal.subdistrict_id)
    found = db.session.scalars(select(Subdistrict).limit(2)).all()
    return found[0] if len(found) == 1 else None


def _geocode(items: list[_Row], report: ImportReport) -> None:
    """Rows without coordinates: their address through the geocoder (each address once);
    a precise single answer gives the row WGS84 coordinates, checked by `_locate` like the
    sheet's (but an answer outside the subdistrict leaves the row unlocated instead)."""
    waiting = [i for i in items if i.unlocated and not i.bad]
    if not waiting:
        return
    session = GeocodeSession()
    for item in waiting:
        found = session.place(item.address)
        if found is not None:
            item.lon, item.lat, item.crs = found.lon, found.lat, "wgs84"
    report.geocoder_failure = session.failure


def _home_for_unlocated(
    items: list[_Row], checker: _Checker, principal: Principal
) -> Subdistrict | None:
    """The subdistrict the rows left without a place go to; without one (a city admin, several
    subdistricts) such rows are problems."""
    left = [i for i in items if i.unlocated and i.located is None and not i.bad]
    if not left:
        return None
    subdistrict = _unlocated_subdistrict(principal)
    if subdistrict is None:
        for item in left:
            checker.problem(
                item,
                "coordinates" if "coordinates" in checker.columns else "lon",
                "not_located",
                "no coordinates and the address could not be placed; an unlocated case "
                "needs a subdistrict: import as a subdistrict's dispatcher or admin",
                "缺少坐标且地址无法定位；待定位事项须归属某个街道：请以街道调度员或管理员身份导入",
            )
    return subdistrict


def _locate(items: list[_Row], checker: _Checker, principal: Principal) -> None:
    """Every point at once through the grid index; a point in no grid, or in another
    subdistrict than the importer's, is the row's problem (a geocoded point there leaves
    the row unlocated instead)."""
    placed = [i for i in items if i.lon is not None and i.lat is not None]
    answers = locate_many([(i.lon or 0.0, i.lat or 0.0, i.crs or "wgs84") for i in placed])
    for item, answer in zip(placed, answers, strict=True):
        key = "coordinates" if "coordinates" in checker.columns else "lon"
        outside = isinstance(answer, DomainError) or not principal.may_see_subdistrict(
            answer.subdistrict_id
        )
        if item.unlocated:  # placed by the geocoder
            if outside:
                item.lon = item.lat = None  # an answer elsewhere is no place: 待定位
            else:
                item.located = answer  # type: ignore[assignment]
                checker.report.geocoded += 1
            continue
        if isinstance(answer, DomainError):
            checker.problem(
                item,
                key,
                "outside_subdistrict",
                f"{checker.header(key)}: the point lies in none of our grids ({answer.message})",
                f"{checker.header(key)}：该位置不在任何网格内（{answer.message_zh}）",
            )
        elif not principal.may_see_subdistrict(answer.subdistrict_id):
            checker.problem(
                item,
                key,
                "outside_subdistrict",
                f"{checker.header(key)}: the point is outside your subdistrict",
                f"{checker.header(key)}：该位置不在您所在的街道",
            )
        else:
            item.located = answer


# ---------------------------------------------------------------------------------- categories


def set_category(uow: UnitOfWork, principal: Principal, text: str, code: str) -> HotlineCategory:
    """Map a 12345 category text to one of our categories (the admin's table)."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins keep the category table", "仅管理员可维护分类对照表")
    text = text.strip()
    if not text or len(text) > 100:
        raise Invalid(
            "validation_error",
            "text: 1–100 characters",
            "12345 分类名称须为 1–100 个字",
            field="text",
        )
    category = uow.session.scalar(select(Category).where(Category.code == code.strip()))
    if category is None:
        raise Invalid(
            "unknown_category",
            f"unknown category {code!r}",
            f"未知的事项分类 {code}",
            field="category",
        )
    entry = uow.session.get(HotlineCategory, text)
    if entry is None:
        entry = HotlineCategory(text=text, category_id=category.id, updated_at=uow.now)
        uow.session.add(entry)
    else:
        entry.category_id = category.id
        entry.updated_at = uow.now
    uow.session.flush()
    return entry


def remove_category(uow: UnitOfWork, principal: Principal, text: str) -> bool:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only admins keep the category table", "仅管理员可维护分类对照表")
    entry = uow.session.get(HotlineCategory, text.strip())
    if entry is None:
        return False
    uow.session.delete(entry)
    uow.session.flush()
    return True


def list_categories() -> list[tuple[str, str, str]]:
    """(12345 text, our code, our Chinese name), sorted by text."""
    rows = db.session.execute(
        select(HotlineCategory.text, Category.code, Category.name_zh)
        .join(Category, Category.id == HotlineCategory.category_id)
        .order_by(HotlineCategory.text)
    ).all()
    return [(t, c, n) for t, c, n in rows]


# ---------------------------------------------------------------------------------- reply sheet

REPLY_COLUMNS = (
    Column("工单编号 Order no.", 20),
    Column("来电时间 Received", 17, "datetime"),
    Column("诉求类型 Category (12345)", 14),
    Column("本系统编号 Case number", 18),
    Column("状态 Status", 12),
    Column("是否办结 Finished", 9),
    Column("办理单位 Handling unit", 16),
    Column("办理结果 Result", 40),
    Column("导入时间 Imported", 17, "datetime"),
    Column("受理时间 Accepted", 17, "datetime"),
    Column("派遣时间 Dispatched", 17, "datetime"),
    Column("办结时间 Handled", 17, "datetime"),
    Column("结案时间 Closed", 17, "datetime"),
    Column("12345 时限 Platform deadline", 17, "datetime"),
    Column("是否超期 Overdue", 9),
    Column("群众评价 Rating", 10),
)
# Finished for the platform: the result was verified (or the case closed, rejected, merged);
# a unit's "done" still awaiting verification (handled) is not finished yet.
FINISHED = (Status.AWAITING_RATING, Status.CLOSED, Status.REJECTED, Status.MERGED)
PAGE = 500


@dataclass(frozen=True)
class ReplyFilter:
    imported_from: datetime | None = None
    imported_to: datetime | None = None
    finished_only: bool = False


def reply_rows(principal: Principal, f: ReplyFilter) -> Iterator[list[Any]]:
    """The work orders of the caller's subdistrict with what became of them, in order of
    import, a page at a time. Only admins and dispatchers (the ones who import)."""
    _may_import(principal)
    last = 0
    while True:
        stmt = (
            select(HotlineOrder, Case)
            .join(Case, Case.id == HotlineOrder.case_id)
            .where(HotlineOrder.id > last)
            .options(selectinload(Case.unit))
            .order_by(HotlineOrder.id)
            .limit(PAGE)
        )
        if principal.subdistrict_id is not None:
            stmt = stmt.where(HotlineOrder.subdistrict_id == principal.subdistrict_id)
        if f.imported_from is not None:
            stmt = stmt.where(HotlineOrder.imported_at >= f.imported_from)
        if f.imported_to is not None:
            stmt = stmt.where(HotlineOrder.imported_at < f.imported_to)
        if f.finished_only:
            stmt = stmt.where(Case.status.in_([s.value for s in FINISHED]))
        page = db.session.execute(stmt).all()
        if not page:
            return
        for order, case in page:
            yield reply_row(order, case)
        last = page[-1][0].id
        db.session.expunge_all()


def reply_row(order: HotlineOrder, case: Case) -> list[Any]:
    status = Status(case.status)
    finished = status in FINISHED
    return [
        order.order_no,
        order.received_at,
        order.category_text,
        case.number,
        STATUS_ZH[status],
        finished,
        case.unit.name if case.unit is not None else None,
        _result_text(case),
        order.imported_at,
        case.accepted_at,
        case.first_dispatched_at or case.dispatched_at,
        case.handled_at,
        case.closed_at,
        order.deadline_at,
        case.overdue,
        VERDICT_ZH.get(case.rating) if case.rating else None,
    ]


def _result_text(case: Case) -> str | None:
    if case.status == Status.MERGED.value:
        return "已并入其他事项办理 / merged into another case"
    if case.status == Status.REJECTED.value:
        return "不予受理 / not accepted"
    return case.result or None


def reply_sheet(principal: Principal, f: ReplyFilter) -> Sheet:
    return Sheet("12345回复单", REPLY_COLUMNS, reply_rows(principal, f))


def export_replies(uow: UnitOfWork, principal: Principal, fmt: str, f: ReplyFilter) -> Export:
    """The reply sheet as a file to stream, the export logged (who, when, which filters)."""
    _may_import(principal)
    log_export(
        uow,
        principal,
        "hotline_replies",
        fmt,
        {
            "imported_from": f.imported_from,
            "imported_to": f.imported_to,
            "finished": f.finished_only,
        },
    )
    zone = local_zone()
    stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
    sheet = reply_sheet(principal, f)
    if fmt == "csv":
        return Export(f"minqing-12345-replies-{stamp}.csv", CSV_MIME, csv_chunks(sheet, zone))
    return Export(f"minqing-12345-replies-{stamp}.xlsx", XLSX_MIME, xlsx_chunks([sheet], zone))
