"""Navigation links: WGS84 in geo:, GCJ-02 for 高德/腾讯, BD-09 for 百度."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from server.domain.navigation import navigation_links

LON, LAT = 119.4363, 32.3932  # 扬州


def test_each_app_gets_its_own_coordinates() -> None:
    links = {link.key: link for link in navigation_links(LON, LAT, "幸福路 12 号")}
    assert links["geo"].url.startswith("geo:32.393200,119.436300?q=")
    glon, glat = wgs84_to_gcj02(LON, LAT)
    amap = parse_qs(urlsplit(links["amap"].url).query)
    assert amap["position"] == [f"{glon:.6f},{glat:.6f}"]
    assert amap["name"] == ["幸福路 12 号"]
    blon, blat = wgs84_to_bd09(LON, LAT)
    baidu = parse_qs(urlsplit(links["baidu"].url).query)
    assert baidu["location"] == [f"{blat:.6f},{blon:.6f}"]
    tencent = parse_qs(urlsplit(links["tencent"].url).query)
    assert tencent["marker"] == [f"coord:{glat:.6f},{glon:.6f};title:幸福路 12 号"]
    # the offsets are real: GCJ-02 is a few hundred metres off WGS84 in China
    assert abs(glon - LON) > 1e-4 and abs(blon - glon) > 1e-4
