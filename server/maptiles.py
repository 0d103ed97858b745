"""The map's base layer: which tile service, in which coordinate system.

Read from the app's config (server/config.py reads the environment): an XYZ URL template
(`MINQING_MAP_TILE_URL`, with `{z}`, `{x}`, `{y}` and optionally `{s}` for the
sub-domains), or 天地图 (Tianditu) WMTS when only `MINQING_MAP_TIANDITU_KEY` is set. The
tiles' coordinate system (`MINQING_MAP_TILE_CRS`: wgs84, gcj02 or bd09) decides how our WGS84
geometry is converted before it is drawn over them (server/web/maps.py). The Content-Security-
Policy allows exactly the tile hosts named here (server/headers.py). Pure: no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TILE_CRS = ("wgs84", "gcj02", "bd09")
# 天地图 WMTS in Web Mercator (TILEMATRIXSET=w), as KVP GetTile requests: vector map plus its
# label overlay. CGCS2000, which is WGS84 to within centimetres: no conversion.
TIANDITU_BASE = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu"


@dataclass(frozen=True)
class TileLayer:
    url: str
    subdomains: str = ""
    crs: str = "wgs84"
    attribution: str = ""
    max_zoom: int = 18
    overlays: tuple[str, ...] = ()

    def hosts(self) -> list[str]:
        """`scheme://host[:port]` of every URL this layer may request, sub-domains expanded."""
        out: list[str] = []
        for template in (self.url, *self.overlays):
            for sub in self.subdomains or [""]:
                origin = _origin(template.replace("{s}", sub))
                if origin and origin not in out:
                    out.append(origin)
        return out

    def for_browser(self) -> dict[str, Any]:
        """Options for the map component (static/map.js)."""
        return {
            "url": self.url,
            "subdomains": self.subdomains,
            "crs": self.crs,
            "attribution": self.attribution,
            "maxZoom": self.max_zoom,
            "overlays": list(self.overlays),
        }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def tile_layer(config: Mapping[str, Any]) -> TileLayer | None:
    """The configured base layer, or None: the map then draws our outlines on a plain ground."""
    url = config.get("MAP_TILE_URL")
    crs = config.get("MAP_TILE_CRS") or "wgs84"
    max_zoom = int(config.get("MAP_TILE_MAX_ZOOM") or 18)
    attribution = config.get("MAP_TILE_ATTRIBUTION") or ""
    if url:
        subdomains = config.get("MAP_TILE_SUBDOMAINS") or ("abc" if "{s}" in url else "")
        return TileLayer(url, subdomains, crs, attribution, max_zoom)
    key = config.get("MAP_TIANDITU_KEY")
    if key:
        base, labels = (
            TIANDITU_BASE.replace("{layer}", layer).replace("{key}", key)
            for layer in ("vec", "cva")
        )
        return TileLayer(
            base,
            TIANDITU_SUBDOMAINS,
            "wgs84",
            attribution or TIANDITU_ATTRIBUTION,
            min(max_zoom, 18),
            (labels,),
        )
    return None


def display_crs(config: Mapping[str, Any]) -> str:
    """The coordinate system the map draws in: the tiles', WGS84 without tiles."""
    layer = tile_layer(config)
    return layer.crs if layer else "wgs84"


def csp_img_sources(config: Mapping[str, Any]) -> str:
    """' origin1 origin2' for the CSP's img-src: exactly the tile hosts, or ''."""
    layer = tile_layer(config)
    return "".join(f" {host}" for host in layer.hosts()) if layer else ""
