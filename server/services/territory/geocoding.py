"""Addresses → points through an outside geocoder (地理编码), never guessed.

`MINQING_GEOCODER` chooses the provider: `none` (the default: nothing leaves the server and
every address without coordinates stays unlocated), `amap` (高德 Web 服务 地理编码,
`GET /v3/geocode/geo?key=&address=&city=&output=JSON`, answers in GCJ-02) or `tianditu`
(天地图 地理编码, `GET /geocoder?ds={"keyWord": …}&tk=`, answers in CGCS2000, which is WGS84
to within centimetres). Every answer is converted to WGS84 here.

A candidate places a case on its own only when it is *precise* (a house number, a point of
interest, a crossing: `PRECISE_LEVELS`) and the only one the provider gave; anything
coarser (a road, a district) or ambiguous is shown to a dispatcher as a candidate and the
case stays unlocated (待定位). A failure (timeout, refused connection, an error answer,
unreadable JSON) never raises to the request: the case stays unlocated and the reason is
logged. Requests are bounded by `MINQING_GEOCODER_TIMEOUT_SECONDS` (connect and each read)
and the answer by `MAX_ANSWER_BYTES`.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from geo.crs import gcj02_to_wgs84

log = logging.getLogger(__name__)

DEFAULT_URLS = {
    "amap": "https://restapi.amap.com/v3/geocode/geo",
    "tianditu": "https://api.tianditu.gov.cn/geocoder",
}
# levels precise enough to place a case without a person looking (the providers' words)
PRECISE_LEVELS = {
    "amap": {"门牌号", "单元号", "兴趣点", "道路交叉路口"},
    "tianditu": {"门址", "兴趣点"},
}
TIANDITU_MIN_SCORE = 80
MAX_ANSWER_BYTES = 256 * 1024
MAX_ADDRESS = 200


@dataclass(frozen=True)
class Candidate:
    """One place the geocoder offers for an address, in WGS84."""

    lon: float
    lat: float
    label: str  # the provider's formatted address (or the address asked)
    level: str  # the provider's precision word (门牌号, 兴趣点, 道路, …)
    precise: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "label": self.label,
            "level": self.level,
            "precise": self.precise,
        }


class GeocoderUnavailable(Exception):
    """The geocoder could not answer (off, unreachable, slow, an error answer)."""


def settings() -> dict[str, Any]:
    return dict(current_app.config.get("GEOCODER") or {"provider": "none"})


def enabled() -> bool:
    return bool(settings().get("provider", "none") != "none")


def candidates(address: str) -> list[Candidate]:
    """What the configured provider offers for `address` (maybe nothing); raises
    `GeocoderUnavailable` when it is off or fails."""
    conf = settings()
    provider = conf.get("provider", "none")
    address = " ".join(address.split())[:MAX_ADDRESS]
    if provider == "none":
        raise GeocoderUnavailable("no geocoder is configured (MINQING_GEOCODER=none)")
    if not address:
        return []
    if provider == "amap":
        return _amap(conf, address)
    if provider == "tianditu":
        return _tianditu(conf, address)
    raise GeocoderUnavailable(f"unknown geocoder {provider!r}")


def _get_json(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        # the operator's own setting, not user input: no address check (cf. outbound.py)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except (OSError, urllib.error.URLError, ValueError) as exc:  # timeouts are OSErrors
        raise GeocoderUnavailable(f"geocoder request failed: {exc}") from exc
    if len(raw) > MAX_ANSWER_BYTES:
        raise GeocoderUnavailable("geocoder answer too large")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GeocoderUnavailable("geocoder answer is not JSON") from exc


def _amap(conf: dict[str, Any], address: str) -> list[Candidate]:
    params = {"key": conf["key"], "address": address, "output": "JSON"}
    if conf.get("city"):
        params["city"] = conf["city"]
    url = (conf.get("url") or DEFAULT_URLS["amap"]) + "?" + urllib.parse.urlencode(params)
    answer = _get_json(url, conf.get("timeout", 5.0))
    # status "1" with an empty `geocodes` when nothing matched; "0" an error (key, quota…)
    if not isinstance(answer, dict) or str(answer.get("status")) != "1":
        info = answer.get("info") if isinstance(answer, dict) else None
        raise GeocoderUnavailable(f"amap refused: {info or answer!r}"[:200])
    found = []
    for item in answer.get("geocodes") or []:
        try:
            glon, glat = (float(v) for v in str(item["location"]).split(","))
        except (KeyError, TypeError, ValueError):
            continue
        lon, lat = gcj02_to_wgs84(glon, glat)  # 高德 answers in GCJ-02
        level = str(item.get("level") or "")
        found.append(
            Candidate(
                lon,
                lat,
                str(item.get("formatted_address") or address),
                level,
                level in PRECISE_LEVELS["amap"],
            )
        )
    return found


def _tianditu(conf: dict[str, Any], address: str) -> list[Candidate]:
    city = conf.get("city")
    keyword = address if not city or address.startswith(city) else f"{city}{address}"
    params = {"ds": json.dumps({"keyWord": keyword}, ensure_ascii=False), "tk": conf["key"]}
    url = (conf.get("url") or DEFAULT_URLS["tianditu"]) + "?" + urllib.parse.urlencode(params)
    answer = _get_json(url, conf.get("timeout", 5.0))
    # status: "0" found, "1" nothing found, "404" (or anything else) an error
    status = str(answer.get("status")) if isinstance(answer, dict) else None
    if status == "1":
        return []
    if status != "0":
        msg = answer.get("msg") if isinstance(answer, dict) else None
        raise GeocoderUnavailable(f"tianditu refused: {msg or answer!r}"[:200])
    where = answer.get("location")
    if not isinstance(where, dict):
        return []
    try:
        lon, lat = float(where["lon"]), float(where["lat"])  # CGCS2000 ≈ WGS84
    except (KeyError, TypeError, ValueError):
        return []
    level = str(where.get("level") or "")
    try:
        score = float(where.get("score", 100))
    except (TypeError, ValueError):
        score = 0.0
    precise = level in PRECISE_LEVELS["tianditu"] and score >= TIANDITU_MIN_SCORE
    return [Candidate(lon, lat, str(where.get("keyWord") or keyword), level, precise)]


@dataclass
class GeocodeSession:
    """Geocoding for one import or request: each address asked once, and after the first
    failure nothing more is asked (a provider that is down must not cost a timeout per
    row); what was not placed stays unlocated."""

    cache: dict[str, Candidate | None] = field(default_factory=dict)
    failure: str | None = None
    asked: int = 0

    def place(self, address: str | None) -> Candidate | None:
        """The one precise candidate for `address`, or None (unlocated)."""
        key = " ".join((address or "").split())
        if not key or self.failure is not None or not enabled():
            return None
        if key in self.cache:
            return self.cache[key]
        self.asked += 1
        try:
            found = candidates(key)
        except GeocoderUnavailable as exc:
            self.failure = str(exc)
            log.warning("geocoder unavailable: %s", exc)
            return None
        precise = [c for c in found if c.precise]
        chosen = precise[0] if len(found) == 1 and len(precise) == 1 else None
        self.cache[key] = chosen
        return chosen
