"""Links that open a place in a navigation app: the standard geo: URI (RFC 5870, WGS84) and
the URL schemes of the common Chinese map apps. 高德 and 腾讯 expect GCJ-02 coordinates and
百度 BD-09 by default, so the point is converted for them (our geometry is WGS84)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02

APP_NAME = "minqing"


@dataclass(frozen=True)
class NavLink:
    key: str
    name_zh: str
    name_en: str
    url: str


def navigation_links(lon: float, lat: float, label: str) -> list[NavLink]:
    """geo:, 高德 (uri.amap.com), 百度 (api.map.baidu.com/marker), 腾讯 (apis.map.qq.com)."""
    glon, glat = wgs84_to_gcj02(lon, lat)
    blon, blat = wgs84_to_bd09(lon, lat)
    return [
        NavLink(
            "geo",
            "系统地图",
            "Maps app",
            f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(label)})",
        ),
        NavLink(
            "amap",
            "高德地图",
            "Amap",
            "https://uri.amap.com/marker?"
            + urlencode({"position": f"{glon:.6f},{glat:.6f}", "name": label, "src": APP_NAME}),
        ),
        NavLink(
            "baidu",
            "百度地图",
            "Baidu Maps",
            "https://api.map.baidu.com/marker?"
            + urlencode(
                {
                    "location": f"{blat:.6f},{blon:.6f}",
                    "title": label,
                    "content": label,
                    "output": "html",
                    "src": APP_NAME,
                }
            ),
        ),
        NavLink(
            "tencent",
            "腾讯地图",
            "Tencent Maps",
            "https://apis.map.qq.com/uri/v1/marker?"
            + urlencode(
                {"marker": f"coord:{glat:.6f},{glon:.6f};title:{label}", "referer": APP_NAME}
            ),
        ),
    ]
