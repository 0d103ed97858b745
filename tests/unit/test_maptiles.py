"""The maps' base-layer settings (server/maptiles.py, server/config.py) and the whole-geometry
conversion for GCJ-02/BD-09 tiles (geo/crs.py)."""

from __future__ import annotations

import pytest
from shapely.geometry import MultiPolygon, Polygon

from geo.crs import from_wgs84, geometry_from_wgs84
from server.config import ConfigError, load_config
from server.maptiles import csp_img_sources, display_crs, tile_layer


def test_no_tiles_draws_in_wgs84_and_allows_no_host() -> None:
    config = load_config({})
    assert tile_layer(config) is None
    assert display_crs(config) == "wgs84"
    assert csp_img_sources(config) == ""


def test_xyz_template_with_subdomains_and_crs() -> None:
    config = load_config(
        {
            "MINQING_MAP_TILE_URL": "https://t{s}.tiles.example:8443/{z}/{x}/{y}.png",
            "MINQING_MAP_TILE_SUBDOMAINS": "12",
            "MINQING_MAP_TILE_CRS": "GCJ02",
            "MINQING_MAP_TILE_MAX_ZOOM": "17",
        }
    )
    layer = tile_layer(config)
    assert layer is not None
    assert (layer.crs, layer.max_zoom, layer.subdomains) == ("gcj02", 17, "12")
    assert csp_img_sources(config) == " https://t1.tiles.example:8443 https://t2.tiles.example:8443"
    assert display_crs(config) == "gcj02"
    plain = load_config({"MINQING_MAP_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png"})
    assert csp_img_sources(plain) == " http://127.0.0.1:9"


def test_tianditu_key_gives_vector_map_and_labels() -> None:
    layer = tile_layer(load_config({"MINQING_MAP_TIANDITU_KEY": "abc"}))
    assert layer is not None and layer.crs == "wgs84"
    assert "LAYER=vec" in layer.url and "tk=abc" in layer.url
    assert len(layer.overlays) == 1 and "LAYER=cva" in layer.overlays[0]
    assert layer.hosts() == [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    # an explicit URL wins over the key
    both = {
        "MINQING_MAP_TIANDITU_KEY": "abc",
        "MINQING_MAP_TILE_URL": "https://x.example/{z}/{x}/{y}",
    }
    assert tile_layer(load_config(both)).url.startswith("https://x.example/")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MINQING_MAP_TILE_URL", "ftp://tiles.example/{z}/{x}/{y}"),
        ("MINQING_MAP_TILE_URL", "https://tiles.example/tile.png"),
        ("MINQING_MAP_TILE_URL", "https://{host}/{z}/{x}/{y}"),
        ("MINQING_MAP_TILE_CRS", "mercator"),
        ("MINQING_MAP_TILE_MAX_ZOOM", "0"),
    ],
)
def test_bad_tile_settings_are_refused_at_start(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({name: value})


def test_geometry_from_wgs84_moves_every_vertex() -> None:
    square = Polygon(
        [(119.43, 32.39), (119.44, 32.39), (119.44, 32.40), (119.43, 32.40)],
        [[(119.433, 32.393), (119.436, 32.393), (119.436, 32.396)]],
    )
    shape = MultiPolygon([square])
    assert geometry_from_wgs84(shape, "wgs84") is shape
    for crs in ("gcj02", "bd09"):
        moved = geometry_from_wgs84(shape, crs)
        assert moved.geom_type == "MultiPolygon"
        got = list(moved.geoms[0].exterior.coords) + list(moved.geoms[0].interiors[0].coords)
        want = [
            from_wgs84(x, y, crs)
            for x, y in list(square.exterior.coords) + list(square.interiors[0].coords)
        ]
        assert got == pytest.approx(want, abs=1e-12)
    # outside China nothing moves
    paris = Polygon([(2.3, 48.8), (2.4, 48.8), (2.4, 48.9)])
    assert geometry_from_wgs84(paris, "gcj02").equals_exact(paris, 0)
