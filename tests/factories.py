"""Hand-built geometry and GeoJSON for tests (squares near Yangzhou, in WGS84)."""

from __future__ import annotations

from typing import Any

LON0, LAT0 = 119.43, 32.39
STEP = 0.005  # about 470 m east-west, 555 m north-south here


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }


def feature(code: str, name: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"code": code, "name": name, **props},
    }


def build_world_geojson() -> tuple[dict[str, Any], dict[str, str]]:
    """Subdistrict SD: community A = grids A1 | A2, community B = grid B1.
    Subdistrict SD2 (3 km east): community C = grid C1."""
    sd, sd2 = "321002901", "321002902"
    a, b, c = sd + "001", sd + "002", sd2 + "001"
    codes = {
        "SD": sd,
        "SD2": sd2,
        "A": a,
        "B": b,
        "C": c,
        "A1": a + "001",
        "A2": a + "002",
        "B1": b + "001",
        "C1": c + "001",
    }
    x, y, s = LON0, LAT0, STEP
    ox = x + 0.03
    features = [
        feature(sd, "测试街道", square(x, y, x + 3 * s, y + s)),
        feature(sd2, "另一街道", square(ox, y, ox + s, y + s)),
        feature(
            a,
            "甲社区",
            square(x, y, x + 2 * s, y + s),
            kind="community",
            population=2000,
            households=700,
        ),
        feature(
            b,
            "乙村",
            square(x + 2 * s, y, x + 3 * s, y + s),
            kind="village",
            population=800,
            households=300,
        ),
        feature(c, "丙社区", square(ox, y, ox + s, y + s), population=500, households=200),
        feature(
            codes["A1"],
            "甲社区第1网格",
            square(x, y, x + s, y + s),
            population=1200,
            households=400,
        ),
        feature(
            codes["A2"],
            "甲社区第2网格",
            square(x + s, y, x + 2 * s, y + s),
            population=800,
            households=300,
        ),
        feature(
            codes["B1"],
            "乙村第1网格",
            square(x + 2 * s, y, x + 3 * s, y + s),
            population=800,
            households=300,
        ),
        feature(
            codes["C1"],
            "丙社区第1网格",
            square(ox, y, ox + s, y + s),
            population=500,
            households=200,
        ),
    ]
    return {"type": "FeatureCollection", "features": features}, codes
