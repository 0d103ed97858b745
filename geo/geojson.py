"""GeoJSON in and out: parse and validate geometries and features into Shapely, with errors
that name the feature, the member and the place of the fault.

Positions are read as (lon, lat) in WGS84 (RFC 7946). A legacy ``crs`` member is accepted only
when it names WGS84 (EPSG:4326, OGC CRS84) or CGCS2000 (EPSG:4490), which differs from WGS84
by a few centimetres, far below what a phone or a hand-drawn grid can resolve. Altitudes are
dropped: the service works in 2D.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from geo.crs import in_china_xy
from geo.errors import GeoError

__all__ = [
    "GEOMETRY_TYPES",
    "FeatureCollectionResult",
    "FeatureError",
    "ParsedFeature",
    "ensure_multipolygon",
    "ensure_polygon",
    "parse_feature_collection",
    "parse_geometry",
    "round_geometry",
    "to_geojson",
    "validate_lonlat",
]

GEOMETRY_TYPES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
POLYGONAL: Final = ("Polygon", "MultiPolygon")

# How many array levels sit above a position, per geometry type.
_DEPTH: Final = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
# What each array level holds, per geometry type and depth above a position.
_LEVELS: Final[dict[tuple[str, int], tuple[str, str]]] = {
    ("MultiPoint", 1): ("an array of positions", "坐标点数组"),
    ("LineString", 1): ("an array of positions", "坐标点数组"),
    ("MultiLineString", 2): ("an array of lines", "线数组"),
    ("MultiLineString", 1): ("a line (an array of positions)", "一条线（坐标点数组）"),
    ("Polygon", 2): ("an array of rings", "环数组"),
    ("Polygon", 1): ("a ring (an array of positions)", "一个环（坐标点数组）"),
    ("MultiPolygon", 3): ("an array of polygons", "多边形数组"),
    ("MultiPolygon", 2): ("a polygon (an array of rings)", "一个多边形（环数组）"),
    ("MultiPolygon", 1): ("a ring (an array of positions)", "一个环（坐标点数组）"),
}
_POSITION: Final = ("a position [lon, lat]", "一个坐标点 [经度, 纬度]")
_DECIMALS: Final = 7
_PROJECTED_HINT: Final = 1000.0  # beyond this a "coordinate" is surely metres, not degrees

_WGS84_CODES: Final = frozenset({"4326", "4490"})
_GEOS_PLACE: Final = re.compile(r"\[\s*(\S+)\s+(\S+)(?:\s+\S+)?\s*\]\s*$")

_Position = tuple[float, float]
G = TypeVar("G", bound=BaseGeometry)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ParsedFeature:
    """One feature that parsed cleanly; ``index`` is its 0-based place in the collection."""

    index: int
    geometry: BaseGeometry
    properties: dict[str, Any]
    feature_id: str | int | None = None


@dataclass(frozen=True)
class FeatureError:
    """Why one feature (or, with ``index`` None, the whole document) was refused."""

    index: int | None
    label: str
    error: GeoError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping for API error bodies."""
        return {"index": self.index, "label": self.label, **self.error.to_dict()}


@dataclass(frozen=True)
class FeatureCollectionResult:
    """Every feature that parsed and one error per feature that did not."""

    features: list[ParsedFeature] = field(default_factory=list)
    errors: list[FeatureError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.errors


# --------------------------------------------------------------------------- public API


def parse_geometry(
    obj: Mapping[str, Any] | str | bytes,
    *,
    allowed: Collection[str] = POLYGONAL,
) -> BaseGeometry:
    """A validated Shapely geometry from a GeoJSON geometry object or its JSON text.

    Raises :class:`GeoError` naming the first fault found.
    """
    doc = _load(obj)
    return _geometry(doc, allowed, "")


def parse_feature_collection(
    obj: Mapping[str, Any] | str | bytes,
    *,
    allowed: Collection[str] = POLYGONAL,
) -> FeatureCollectionResult:
    """Parse a FeatureCollection (or a single Feature), collecting one error per bad feature.

    A fault in the document itself (not JSON, wrong top-level type, a foreign ``crs``) is
    reported once with ``index`` None and label ``"document"``, and no feature is parsed.
    """
    try:
        doc = _load(obj)
        _check_crs(doc, "")
        features = _top_level_features(doc)
    except GeoError as exc:
        return FeatureCollectionResult(errors=[FeatureError(None, "document", exc)])

    result = FeatureCollectionResult()
    single = doc.get("type") == "Feature"
    for index, feature in enumerate(features):
        prefix = "" if single else f"features[{index}]"
        label = _label(feature, index)
        try:
            result.features.append(_feature(feature, index, allowed, prefix))
        except GeoError as exc:
            result.errors.append(FeatureError(index, label, exc))
    return result


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry mapping: lists not tuples, 7 decimals (about 1 cm), 2D.

    Polygon rings follow the RFC 7946 right-hand rule (exterior counter-clockwise).
    """
    oriented = shapely.orient_polygons(geom) if not geom.is_empty else geom
    mapping: dict[str, Any] = _listify(dict(oriented.__geo_interface__))
    return mapping


def round_geometry(geom: G, decimals: int = _DECIMALS) -> G:
    """The geometry with each coordinate rounded exactly as :func:`to_geojson` rounds it."""

    def rounded(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.array([[round(float(x), decimals), round(float(y), decimals)] for x, y in xy])

    result: G = shapely.transform(geom, rounded) if not geom.is_empty else geom
    return result


def ensure_polygon(geom: BaseGeometry) -> Polygon:
    """The geometry as a Polygon; a MultiPolygon of exactly one part becomes that part."""
    if isinstance(geom, Polygon):
        return geom
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        part: Polygon = geom.geoms[0]
        return part
    found = found_zh = geom.geom_type
    if isinstance(geom, MultiPolygon):
        found = f"MultiPolygon of {len(geom.geoms)} parts"
        found_zh = f"含 {len(geom.geoms)} 个部分的 MultiPolygon"
    raise GeoError(
        "wrong_type",
        f"Expected a single Polygon, found a {found}.",
        f"需要单个多边形（Polygon），实际为{found_zh}。",
    )


def ensure_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The geometry as a MultiPolygon; a Polygon becomes a MultiPolygon of one part."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    raise GeoError(
        "wrong_type",
        f"Expected a Polygon or MultiPolygon, found a {geom.geom_type}.",
        f"需要多边形（Polygon 或 MultiPolygon），实际为 {geom.geom_type}。",
    )


def validate_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    """A single (lon, lat) checked like a GeoJSON position: numeric, in range, not swapped."""
    x = _number(lon, "lon")
    y = _number(lat, "lat")
    _check_positions([(x, y)], [""])
    return x, y


# --------------------------------------------------------------------------- documents


def _load(obj: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    doc: Any = obj
    if isinstance(obj, str | bytes | bytearray):
        try:
            doc = json.loads(obj)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                where = f" (line {exc.lineno}, column {exc.colno})"
                where_zh = f"（第 {exc.lineno} 行第 {exc.colno} 列）"
                detail = exc.msg
            else:
                where = where_zh = ""
                detail = str(exc)
            raise GeoError(
                "invalid_json",
                f"Not valid JSON: {detail}{where}.",
                f"不是有效的 JSON{where_zh}：{detail}。",
            ) from None
    if not isinstance(doc, Mapping):
        raise GeoError(
            "wrong_type",
            f"Expected a GeoJSON object, found {_json_kind(doc)}.",
            f"需要 GeoJSON 对象，实际为{_json_kind_zh(doc)}。",
        )
    return doc


def _top_level_features(doc: Mapping[str, Any]) -> list[Any]:
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise GeoError(
                "wrong_type",
                "A FeatureCollection needs a 'features' array.",
                "FeatureCollection 需要 'features' 数组。",
                path="features",
            )
        return features
    if kind == "Feature":
        return [doc]
    if kind in GEOMETRY_TYPES:
        raise GeoError(
            "wrong_type",
            f"Found a bare {kind} geometry; expected a FeatureCollection or a Feature "
            "(wrap the geometry in a Feature).",
            f"这是一个裸的 {kind} 几何；需要 FeatureCollection 或 Feature"
            "（请把几何放进 Feature）。",
            path="type",
        )
    raise GeoError(
        "wrong_type",
        f"Expected a FeatureCollection or a Feature, found type {kind!r}.",
        f"需要 FeatureCollection 或 Feature，实际类型为 {kind!r}。",
        path="type",
    )


def _label(feature: Any, index: int) -> str:
    if isinstance(feature, Mapping):
        props = feature.get("properties")
        if isinstance(props, Mapping):
            for key in ("code", "name", "id"):
                value = props.get(key)
                if value is not None and str(value).strip():
                    return str(value)
        fid = feature.get("id")
        if fid is not None and str(fid).strip():
            return str(fid)
    return f"#{index}"


def _feature(feature: Any, index: int, allowed: Collection[str], prefix: str) -> ParsedFeature:
    def here(member: str) -> str:
        return f"{prefix}.{member}" if prefix else member

    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        if isinstance(feature, Mapping):
            found, found_zh = f"type {feature.get('type')!r}", f"类型 {feature.get('type')!r}"
        else:
            found, found_zh = _kind(feature)
        raise GeoError(
            "wrong_type",
            f"Expected a Feature, found {found}.",
            f"需要 Feature，实际为{found_zh}。",
            path=prefix or None,
        )
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise GeoError(
            "wrong_type",
            f"Feature properties must be an object, found {_json_kind(props)}.",
            f"要素的 properties 必须是对象，实际为{_json_kind_zh(props)}。",
            path=here("properties"),
        )
    _check_crs(feature, prefix)
    geometry = feature.get("geometry")
    if geometry is None:
        raise GeoError(
            "missing_geometry",
            "The feature has no geometry.",
            "该要素没有几何图形（geometry）。",
            path=here("geometry"),
        )
    geom = _geometry(geometry, allowed, here("geometry"))
    fid = feature.get("id")
    return ParsedFeature(
        index=index,
        geometry=geom,
        properties=dict(props),
        feature_id=fid if isinstance(fid, str | int) and not isinstance(fid, bool) else None,
    )


def _check_crs(doc: Mapping[str, Any], prefix: str) -> None:
    if "crs" not in doc or doc["crs"] is None:
        return
    crs = doc["crs"]
    name: Any = None
    if isinstance(crs, Mapping) and isinstance(crs.get("properties"), Mapping):
        name = crs["properties"].get("name", crs["properties"].get("code"))
    if name is not None and _is_wgs84(str(name)):
        return
    shown = name if name is not None else crs
    raise GeoError(
        "wrong_crs",
        f"Coordinates must be WGS84 longitude/latitude (EPSG:4326); the 'crs' member names "
        f"{shown!r}. Reproject the data to EPSG:4326 and drop the 'crs' member.",
        f"坐标必须是 WGS84 经纬度（EPSG:4326）；'crs' 成员指定的是 {shown!r}。"
        "请将数据转换为 EPSG:4326 并删除 'crs' 成员。",
        path=f"{prefix}.crs" if prefix else "crs",
    )


def _is_wgs84(name: str) -> bool:
    text = name.strip().lower()
    # EPSG:4326, urn:ogc:def:crs:EPSG::4326, http://www.opengis.net/def/crs/EPSG/0/4326,
    # urn:ogc:def:crs:OGC:1.3:CRS84, and the same for EPSG:4490 (CGCS2000).
    code = re.split(r"[:/]", text)[-1]
    if code == "crs84":
        return "ogc" in text or text == "crs84"
    return code in _WGS84_CODES and (text == code or "epsg" in text)


# --------------------------------------------------------------------------- geometries


def _geometry(doc: Any, allowed: Collection[str], path: str) -> BaseGeometry:
    def here(member: str) -> str:
        return f"{path}.{member}" if path else member

    if not isinstance(doc, Mapping):
        raise GeoError(
            "wrong_type",
            f"Expected a GeoJSON geometry object, found {_json_kind(doc)}.",
            f"需要 GeoJSON 几何对象，实际为{_json_kind_zh(doc)}。",
            path=path or None,
        )
    kind = doc.get("type")
    wanted, wanted_zh = _either(allowed, "or"), _either(allowed, "或")
    if kind not in GEOMETRY_TYPES:
        feature = kind in ("Feature", "FeatureCollection")
        raise GeoError(
            "wrong_type",
            f"Expected a geometry of type {wanted}, found type {kind!r}"
            + (" (a feature, not a geometry)." if feature else "."),
            f"需要类型为 {wanted_zh} 的几何，实际类型为 {kind!r}"
            + ("（这是要素，不是几何）。" if feature else "。"),
            path=here("type"),
        )
    if kind not in allowed:
        raise GeoError(
            "wrong_type",
            f"Geometry type {kind} is not accepted here; expected {wanted}.",
            f"此处不接受几何类型 {kind}；需要 {wanted_zh}。",
            path=here("type"),
        )
    _check_crs(doc, path)

    if kind == "GeometryCollection":
        members = doc.get("geometries")
        if not isinstance(members, list) or not members:
            raise GeoError(
                "empty",
                "The GeometryCollection has no geometries.",
                "GeometryCollection 中没有几何。",
                path=here("geometries"),
            )
        inner = [k for k in allowed if k != "GeometryCollection"]
        parts = [_geometry(g, inner, here(f"geometries[{i}]")) for i, g in enumerate(members)]
        return GeometryCollection(parts)

    if "coordinates" not in doc or doc["coordinates"] is None:
        raise GeoError(
            "empty",
            f"The {kind} has no coordinates.",
            f"{kind} 没有坐标（coordinates）。",
            path=here("coordinates"),
        )
    positions: list[_Position] = []
    paths: list[str] = []
    nested = _read(doc["coordinates"], _DEPTH[kind], kind, here("coordinates"), positions, paths)
    _check_positions(positions, paths)
    return _build(kind, nested, here("coordinates"))


def _read(
    value: Any,
    depth: int,
    kind: str,
    path: str,
    positions: list[_Position],
    paths: list[str],
) -> Any:
    """Check the nesting and the numbers; nested lists of (lon, lat) tuples."""
    if depth == 0:
        if not isinstance(value, list | tuple) or any(isinstance(v, list | tuple) for v in value):
            _bad_nesting(kind, 0, path, value)
        if len(value) < 2:
            raise GeoError(
                "bad_nesting",
                f"A position needs at least two numbers [lon, lat], found {len(value)}.",
                f"一个坐标点至少需要两个数 [经度, 纬度]，实际为 {len(value)} 个。",
                path=path,
            )
        lon = _number(value[0], f"{path}[0]")
        lat = _number(value[1], f"{path}[1]")
        for i, extra in enumerate(value[2:], start=2):
            _number(extra, f"{path}[{i}]")
        positions.append((lon, lat))
        paths.append(path)
        return (lon, lat)
    if not isinstance(value, list | tuple) or (value and all(_is_number(v) for v in value)):
        # The second case is one level too shallow, e.g. a position where a ring belongs.
        _bad_nesting(kind, depth, path, value)
    return [
        _read(item, depth - 1, kind, f"{path}[{i}]", positions, paths)
        for i, item in enumerate(value)
    ]


def _bad_nesting(kind: str, depth: int, path: str, value: Any) -> NoReturn:
    want_en, want_zh = _LEVELS.get((kind, depth), _POSITION)
    found_en, found_zh = _kind(value)
    raise GeoError(
        "bad_nesting",
        f"Wrong nesting of {kind} coordinates: expected {want_en} here, found {found_en}.",
        f"{kind} 坐标的嵌套层级不对：此处应为{want_zh}，实际为{found_zh}。",
        path=path,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, path: str) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):
        raise GeoError(
            "not_a_number",
            f"A coordinate must be a finite number, found {_json_kind(value)} {value!r}.",
            f"坐标必须是有限数值，实际为{_json_kind_zh(value)} {value!r}。",
            path=path or None,
        )
    return float(value)


def _check_positions(positions: Sequence[_Position], paths: Sequence[str]) -> None:
    if not positions:
        return
    xy = np.asarray(positions, dtype=float)
    x, y = xy[:, 0], xy[:, 1]
    in_range = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    swapped_in_range = bool(np.all((np.abs(x) <= 90) & (np.abs(y) <= 180)))
    if not bool(np.all(in_range)):
        i = int(np.argmin(in_range))
        where = (float(x[i]), float(y[i]))
        if swapped_in_range:
            raise _swapped(where, paths[i])
        hint_en = hint_zh = ""
        if max(abs(where[0]), abs(where[1])) > _PROJECTED_HINT:
            hint_en = " These look like projected metres; convert them to WGS84 lon/lat."
            hint_zh = "这些像是投影坐标（米）；请转换为 WGS84 经纬度。"
        raise GeoError(
            "out_of_range",
            f"Position ({where[0]}, {where[1]}) is not a longitude/latitude: longitude must be "
            f"within [-180, 180] and latitude within [-90, 90].{hint_en}",
            f"坐标 ({where[0]}, {where[1]}) 不是有效的经纬度：经度须在 [-180, 180]、"
            f"纬度须在 [-90, 90] 范围内。{hint_zh}",
            location=where,
            path=paths[i] or None,
        )
    # A service for China: data that lands nowhere in China as given but wholly inside it
    # when each pair is read the other way round was written [lat, lon].
    if swapped_in_range and not bool(np.any(in_china_xy(x, y))) and bool(np.all(in_china_xy(y, x))):
        raise _swapped((float(x[0]), float(y[0])), paths[0])


def _swapped(where: _Position, path: str) -> GeoError:
    return GeoError(
        "swapped_lonlat",
        f"Position ({where[0]}, {where[1]}) looks like [lat, lon]; GeoJSON positions are "
        f"[lon, lat], e.g. [{where[1]}, {where[0]}].",
        f"坐标 ({where[0]}, {where[1]}) 疑似写成了 [纬度, 经度]；GeoJSON 的顺序是 "
        f"[经度, 纬度]，例如 [{where[1]}, {where[0]}]。",
        location=where,
        path=path or None,
    )


def _build(kind: str, nested: Any, path: str) -> BaseGeometry:
    if kind == "Point":
        return Point(nested)
    if kind == "MultiPoint":
        _require_items(nested, kind, path)
        return MultiPoint(nested)
    if kind == "LineString":
        _check_line(nested, path, "The line", "线")
        return LineString(nested)
    if kind == "MultiLineString":
        _require_items(nested, kind, path)
        for i, line in enumerate(nested):
            _check_line(line, f"{path}[{i}]", f"Line {i}", f"第 {i} 条线")
        return MultiLineString(nested)
    if kind == "Polygon":
        polygon = _polygon(nested, path, None)
        _check_valid(polygon, path, None)
        return polygon
    _require_items(nested, kind, path)
    parts = [_polygon(rings, f"{path}[{i}]", i) for i, rings in enumerate(nested)]
    for i, part in enumerate(parts):
        _check_valid(part, f"{path}[{i}]", i)
    multi = MultiPolygon(parts)
    _check_parts_apart(multi, parts, path)
    return multi


def _require_items(items: list[Any], kind: str, path: str) -> None:
    if not items:
        raise GeoError("empty", f"The {kind} is empty.", f"{kind} 为空（没有坐标）。", path=path)


def _check_line(line: list[_Position], path: str, name: str, name_zh: str) -> None:
    if not line:
        raise GeoError("empty", f"{name} is empty.", f"{name_zh}为空。", path=path)
    if len(line) < 2:
        raise GeoError(
            "too_few_points",
            f"{name} has {len(line)} position; a line needs at least 2.",
            f"{name_zh}只有 {len(line)} 个点；线至少需要 2 个点。",
            location=line[0],
            path=path,
        )


def _ring_names(part: int | None, ring: int) -> tuple[str, str]:
    en = "the exterior ring" if ring == 0 else f"hole {ring}"
    zh = "外环" if ring == 0 else f"第 {ring} 个内环（洞）"
    if part is not None:
        en += f" of polygon {part}"
        zh = f"第 {part} 个多边形的{zh}"
    return en, zh


def _polygon(rings: list[list[_Position]], path: str, part: int | None) -> Polygon:
    if not rings:
        en, zh = (
            ("The polygon", "多边形")
            if part is None
            else (f"Polygon {part}", f"第 {part} 个多边形")
        )
        raise GeoError("empty", f"{en} has no rings.", f"{zh}没有任何环。", path=path)
    for r, ring in enumerate(rings):
        en, zh = _ring_names(part, r)
        ring_path = f"{path}[{r}]"
        if not ring:
            raise GeoError("empty", f"{en.capitalize()} is empty.", f"{zh}为空。", path=ring_path)
        if len(ring) < 4:
            raise GeoError(
                "too_few_points",
                f"{en.capitalize()} has {len(ring)} positions; a ring needs at least 4 "
                "(three corners and the first repeated at the end).",
                f"{zh}只有 {len(ring)} 个点；环至少需要 4 个点（三个顶点，且首点在末尾重复）。",
                location=ring[0],
                path=ring_path,
            )
        if ring[0] != ring[-1]:
            raise GeoError(
                "unclosed_ring",
                f"{en.capitalize()} is not closed: it starts at {list(ring[0])} but ends at "
                f"{list(ring[-1])}; repeat the first position at the end.",
                f"{zh}未闭合：起点为 {list(ring[0])}，终点为 {list(ring[-1])}；"
                "请在末尾重复第一个点。",
                location=ring[-1],
                path=ring_path,
            )
    return Polygon(rings[0], rings[1:])


# GEOS's validity reasons, in our vocabulary: (code, English, Chinese).
_REASONS: Final = {
    "Self-intersection": (
        "self_intersection",
        "boundary crosses itself",
        "边界自相交",
    ),
    "Ring Self-intersection": (
        "invalid_geometry",
        "a ring touches itself (a pinched ring; split it into two polygons)",
        "环与自身相接（请拆分为两个多边形）",
    ),
    "Hole lies outside shell": (
        "invalid_geometry",
        "a hole lies outside the exterior ring",
        "内环（洞）位于外环之外",
    ),
    "Holes are nested": ("invalid_geometry", "a hole lies inside another hole", "内环嵌套"),
    "Interior is disconnected": (
        "invalid_geometry",
        "holes cut the polygon into pieces",
        "内环把多边形切成了几块",
    ),
    "Nested shells": (
        "invalid_geometry",
        "one polygon lies inside another",
        "一个多边形位于另一个之内",
    ),
    "Too few points in geometry component": (
        "too_few_points",
        "a ring has fewer than three distinct corners",
        "环的不同顶点少于三个",
    ),
    "Duplicate Rings": ("invalid_geometry", "two rings are the same", "存在重复的环"),
}


def _check_valid(geom: BaseGeometry, path: str, part: int | None) -> None:
    reason = shapely.is_valid_reason(geom)
    if reason is None or reason == "Valid Geometry":
        return
    label, location = _split_reason(str(reason))
    code, en, zh = _REASONS.get(label, ("invalid_geometry", label, label))
    subject_en = "The polygon" if part is None else f"Polygon {part}"
    subject_zh = "多边形" if part is None else f"第 {part} 个多边形"
    where_en = where_zh = ""
    if location is not None:
        where_en = f" near ({location[0]:.7f}, {location[1]:.7f})"
        where_zh = f"，位置约 ({location[0]:.7f}, {location[1]:.7f})"
    raise GeoError(
        code,
        f"{subject_en} is invalid: {en}{where_en}.",
        f"{subject_zh}无效：{zh}{where_zh}。",
        location=location,
        path=path,
    )


def _split_reason(reason: str) -> tuple[str, _Position | None]:
    match = _GEOS_PLACE.search(reason)
    if match is None:
        return reason.strip(), None
    try:
        location = (float(match.group(1)), float(match.group(2)))
    except ValueError:
        return reason.strip(), None
    return reason[: match.start()].strip(), location


def _check_parts_apart(multi: MultiPolygon, parts: list[Polygon], path: str) -> None:
    if multi.is_valid:
        return
    tree = shapely.STRtree(parts)
    pairs = tree.query(parts, predicate="intersects")
    for i, j in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        if i >= j:
            continue
        overlap = parts[i].intersection(parts[j])
        if overlap.area > 0 or not isinstance(overlap, Point | MultiPoint):
            spot = overlap.representative_point()
            location = (float(spot.x), float(spot.y))
            raise GeoError(
                "invalid_geometry",
                f"Polygons {i} and {j} of the MultiPolygon overlap or share an edge near "
                f"({location[0]:.7f}, {location[1]:.7f}); merge them or make them disjoint.",
                f"MultiPolygon 的第 {i} 和第 {j} 个多边形重叠或共边，位置约 "
                f"({location[0]:.7f}, {location[1]:.7f})；请合并或分开。",
                location=location,
                path=f"{path}[{j}]",
            )
    _check_valid(multi, path, None)


# --------------------------------------------------------------------------- output


def _listify(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(_is_number(v) for v in value):
            return [round(float(v), _DECIMALS) for v in value[:2]]
        return [_listify(v) for v in value]
    return value


def _kind(value: Any) -> tuple[str, str]:
    """What a JSON value is, in English and Chinese."""
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return "a boolean", "布尔值"
    if _is_number(value):
        return "a number", "数值"
    if isinstance(value, str):
        return "a string", "字符串"
    if isinstance(value, list | tuple):
        if value and all(_is_number(v) for v in value):
            return "a position (an array of numbers)", "一个坐标点（数值数组）"
        return "an array", "数组"
    if isinstance(value, Mapping):
        return "an object", "对象"
    return type(value).__name__, type(value).__name__


def _json_kind(value: Any) -> str:
    return _kind(value)[0]


def _json_kind_zh(value: Any) -> str:
    return _kind(value)[1]


def _either(names: Collection[str], word: str) -> str:
    items = list(names)
    if not items:
        return "nothing" if word == "or" else "无"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {word} " + items[-1]
