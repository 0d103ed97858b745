"""Import communities and grids from GeoJSON, all-or-nothing, idempotent by code.

Each feature is a subdistrict (9-digit code), a community (12) or a grid (15); its
`properties` carry `code`, `name` and, for communities and grids, `population` and
`households` (communities also `kind`: community | village). Every bad feature is
reported with its reason; nothing is written when any is bad unless `skip_invalid`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely import STRtree
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from geo.errors import GeoError
from geo.geojson import ensure_multipolygon, ensure_polygon, parse_feature_collection
from geo.measure import area_m2, projection_for
from server.domain import codes
from server.errors import DomainError
from server.extensions import db
from server.models import Community, Grid, Subdistrict
from server.models.base import SRID
from server.services.uow import UnitOfWork

# Overlap and containment are judged in square metres, so that shared borders digitised
# with a little float noise are not faults.
OVERLAP_TOLERANCE_M2 = 1.0
OUTSIDE_TOLERANCE_SHARE = 0.005


@dataclass
class FeatureProblem:
    index: int | None
    label: str
    code: str
    message: str
    message_zh: str
    location: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "label": self.label,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "location": list(self.location) if self.location else None,
        }


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    problems: list[FeatureProblem] = field(default_factory=list)
    skipped: int = 0
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


class ImportRejected(DomainError):
    def __init__(self, report: ImportReport) -> None:
        n = len(report.problems)
        super().__init__(
            "import_rejected",
            f"{n} feature(s) are invalid; nothing was imported",
            f"{n} 个要素无效，未导入任何数据",
            status=422,
            details=[p.as_dict() for p in report.problems],
        )
        self.report = report


@dataclass
class _Item:
    index: int
    level: str  # subdistrict | community | grid
    code: str
    props: Mapping[str, Any]
    geom: BaseGeometry
    parent: str | None


def _level(code: str) -> str | None:
    if codes.is_subdistrict_code(code):
        return "subdistrict"
    if codes.is_community_code(code):
        return "community"
    if codes.is_grid_code(code):
        return "grid"
    return None


def _nonneg_int(props: Mapping[str, Any], key: str) -> int:
    value = props.get(key, 0)
    if value is None:
        return 0
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or value != int(value)
    ):
        raise ValueError(key)
    return int(value)


def _label(props: Mapping[str, Any], index: int) -> str:
    for key in ("code", "name", "id"):
        if props.get(key):
            return str(props[key])
    return f"#{index}"


def _problem(
    index: int | None,
    label: str,
    code: str,
    en: str,
    zh: str,
    location: tuple[float, float] | None = None,
) -> FeatureProblem:
    return FeatureProblem(index, label, code, en, zh, location)


def _classify(parsed: Any, report: ImportReport) -> list[_Item]:
    items: list[_Item] = []
    seen: dict[str, int] = {}
    for feature in parsed.features:
        props = feature.properties or {}
        label = _label(props, feature.index)
        code = str(props.get("code") or "").strip()
        level = _level(code)
        if level is None:
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "bad_code",
                    "properties.code must be 9 (subdistrict), 12 (community) or 15 (grid) digits",
                    "properties.code 必须是 9 位（街道）、12 位（社区）或 15 位（网格）数字",
                )
            )
            continue
        if code in seen:
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "duplicate_code",
                    f"code {code} also used by feature #{seen[code]}",
                    f"编码 {code} 与第 {seen[code]} 个要素重复",
                )
            )
            continue
        seen[code] = feature.index
        if not str(props.get("name") or "").strip():
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "missing_name",
                    "properties.name is required",
                    "缺少 properties.name",
                )
            )
            continue
        try:
            _nonneg_int(props, "population")
            _nonneg_int(props, "households")
        except ValueError as exc:
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "bad_count",
                    f"properties.{exc.args[0]} must be a whole number ≥ 0",
                    f"properties.{exc.args[0]} 必须是非负整数",
                )
            )
            continue
        prefix = props.get("case_prefix")
        if (
            level == "subdistrict"
            and prefix is not None
            and not (
                isinstance(prefix, str)
                and prefix.isascii()
                and prefix.isalpha()
                and len(prefix) <= 8
            )
        ):
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "bad_case_prefix",
                    "properties.case_prefix must be 1–8 Latin letters (e.g. QJ)",
                    "properties.case_prefix 必须是 1–8 个英文字母（如 QJ）",
                )
            )
            continue
        if level == "community" and props.get("kind", "community") not in ("community", "village"):
            report.problems.append(
                _problem(
                    feature.index,
                    label,
                    "bad_kind",
                    "properties.kind must be community or village",
                    "properties.kind 必须是 community（社区）或 village（村）",
                )
            )
            continue
        try:
            geom = (
                ensure_polygon(feature.geometry)
                if level == "grid"
                else ensure_multipolygon(feature.geometry)
            )
        except GeoError as exc:
            report.problems.append(
                _problem(feature.index, label, exc.code, exc.message, exc.message_zh, exc.location)
            )
            continue
        parent = code[:12] if level == "grid" else code[:9] if level == "community" else None
        items.append(_Item(feature.index, level, code, props, geom, parent))
    return items


def _check_hierarchy(items: list[_Item], report: ImportReport) -> list[_Item]:
    """Parents must exist (in the file or the database); grids sit inside their community
    and do not overlap their siblings."""
    by_code = {i.code: i for i in items}
    bad: set[str] = set()
    known_subdistricts = set(db.session.scalars(select(Subdistrict.code)))
    db_communities = {c.code: c for c in db.session.scalars(select(Community))}

    def fail(
        item: _Item, code: str, en: str, zh: str, loc: tuple[float, float] | None = None
    ) -> None:
        bad.add(item.code)
        report.problems.append(_problem(item.index, item.code, code, en, zh, loc))

    for item in items:
        if (
            item.level == "community"
            and item.parent not in by_code
            and item.parent not in known_subdistricts
        ):
            fail(
                item,
                "unknown_subdistrict",
                f"subdistrict {item.parent} is neither in the file nor in the database",
                f"街道 {item.parent} 既不在文件中也不在数据库中",
            )
        if (
            item.level == "grid"
            and item.parent not in by_code
            and item.parent not in db_communities
        ):
            fail(
                item,
                "unknown_community",
                f"community {item.parent} is neither in the file nor in the database",
                f"社区 {item.parent} 既不在文件中也不在数据库中",
            )

    # Grids by community: the file's grids replace same-code grids in the database.
    grids_by_community: dict[str, dict[str, tuple[BaseGeometry, _Item | None]]] = defaultdict(dict)
    for code, geom in db.session.execute(select(Grid.code, Grid.geom)).all():
        grids_by_community[code[:12]][code] = (to_shape(geom), None)
    for item in items:
        if item.level == "grid" and item.code not in bad:
            grids_by_community[item.code[:12]][item.code] = (item.geom, item)

    for community_code, members in grids_by_community.items():
        file_members = [m for m in members.values() if m[1] is not None]
        if not file_members:
            continue
        container = by_code.get(community_code)
        community_geom = (
            container.geom
            if container
            else (
                to_shape(db_communities[community_code].geom)
                if community_code in db_communities
                else None
            )
        )
        projection = projection_for(file_members[0][0])
        codes_list = sorted(members)
        projected = [projection.project(members[c][0]) for c in codes_list]
        if community_geom is not None:
            projected_community = projection.project(community_geom)
            for c, pg in zip(codes_list, projected, strict=True):
                item = members[c][1]
                if item is None or c in bad:
                    continue
                outside = pg.difference(projected_community).area
                if outside > max(OVERLAP_TOLERANCE_M2, OUTSIDE_TOLERANCE_SHARE * pg.area):
                    loc = pg.difference(projected_community).representative_point()
                    lon_lat = projection.unproject(loc)
                    fail(
                        item,
                        "outside_community",
                        f"{outside:.0f} m² of the grid lies outside community {community_code}",
                        f"网格有 {outside:.0f} 平方米在社区 {community_code} 之外",
                        (round(lon_lat.x, 7), round(lon_lat.y, 7)),
                    )
        tree = STRtree(projected)
        left, right = tree.query(projected, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i >= j:
                continue
            overlap = projected[i].intersection(projected[j])
            if overlap.area <= OVERLAP_TOLERANCE_M2:
                continue
            a, b = codes_list[i], codes_list[j]
            culprit = members[a][1] or members[b][1]
            other = b if culprit is members[a][1] else a
            if culprit is None:
                continue
            at = projection.unproject(overlap.representative_point())
            fail(
                culprit,
                "grids_overlap",
                f"grid {culprit.code} overlaps grid {other} by {overlap.area:.0f} m²",
                f"网格 {culprit.code} 与网格 {other} 重叠 {overlap.area:.0f} 平方米",
                (round(at.x, 7), round(at.y, 7)),
            )
    # A grid whose community is refused is refused too.
    for item in items:
        if item.level == "grid" and item.parent in bad and item.code not in bad:
            fail(
                item,
                "community_invalid",
                f"its community {item.parent} is invalid",
                f"所属社区 {item.parent} 无效",
            )
        if item.level == "community" and item.parent in bad and item.code not in bad:
            fail(
                item,
                "subdistrict_invalid",
                f"its subdistrict {item.parent} is invalid",
                f"所属街道 {item.parent} 无效",
            )
    return [i for i in items if i.code not in bad]


def import_geojson(
    uow: UnitOfWork,
    source: str | Mapping[str, Any],
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate the whole file, then write it in the caller's unit of work (or nothing)."""
    report = ImportReport()
    try:
        parsed = parse_feature_collection(source)
    except GeoError as exc:
        report.problems.append(
            _problem(None, "file", exc.code, exc.message, exc.message_zh, exc.location)
        )
        raise ImportRejected(report) from exc
    for err in parsed.errors:
        report.problems.append(
            _problem(
                err.index,
                err.label,
                err.error.code,
                err.error.message,
                err.error.message_zh,
                err.error.location,
            )
        )
    items = _check_hierarchy(_classify(parsed, report), report)
    if report.problems and not skip_invalid:
        raise ImportRejected(report)
    report.skipped = len(report.problems)
    order = {"subdistrict": 0, "community": 1, "grid": 2}
    for item in sorted(items, key=lambda i: (order[i.level], i.code)):
        _upsert(item, report)
        if progress:
            progress(1)
    uow.session.flush()
    report.written = True  # once the caller's unit of work commits
    return report


def _wkb(geom: BaseGeometry) -> Any:
    return from_shape(geom, srid=SRID)


def _upsert(item: _Item, report: ImportReport) -> None:
    props = item.props
    name = str(props["name"]).strip()
    if item.level == "subdistrict":
        row = db.session.scalar(select(Subdistrict).where(Subdistrict.code == item.code))
        values: dict[str, Any] = {"name": name}
        prefix = str(props.get("case_prefix") or "").strip().upper()
        if prefix:
            values["case_prefix"] = prefix[:8]
        model: Any = Subdistrict
    elif item.level == "community":
        row = db.session.scalar(select(Community).where(Community.code == item.code))
        parent = db.session.scalar(select(Subdistrict).where(Subdistrict.code == item.parent))
        assert parent is not None
        values = {
            "name": name,
            "kind": props.get("kind", "community"),
            "subdistrict_id": parent.id,
            "population": _nonneg_int(props, "population"),
            "households": _nonneg_int(props, "households"),
            "area_m2": round(area_m2(item.geom), 1),
        }
        model = Community
    else:
        row = db.session.scalar(select(Grid).where(Grid.code == item.code))
        community = db.session.scalar(select(Community).where(Community.code == item.parent))
        assert community is not None
        values = {
            "name": name,
            "community_id": community.id,
            "subdistrict_id": community.subdistrict_id,
            "population": _nonneg_int(props, "population"),
            "households": _nonneg_int(props, "households"),
            "area_m2": round(area_m2(item.geom), 1),
        }
        model = Grid
    if row is None:
        db.session.add(model(code=item.code, geom=_wkb(item.geom), **values))
        db.session.flush()
        report.created[item.level] += 1
        return
    changed = any(getattr(row, k) != v for k, v in values.items())
    same_geom = row.geom is not None and to_shape(row.geom).equals_exact(item.geom, 1e-9)
    if changed or not same_geom:
        for k, v in values.items():
            setattr(row, k, v)
        if not same_geom:
            row.geom = _wkb(item.geom)
        report.updated[item.level] += 1
    else:
        report.unchanged[item.level] += 1
