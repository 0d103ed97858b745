"""A local stand-in for the geocoders' HTTP APIs (127.0.0.1 only), checking their documented
request format and answering in their documented shapes.

- 高德 Web 服务 地理编码: `GET /v3/geocode/geo?key=…&address=…[&city=…]&output=JSON` →
  `{"status": "1", "info": "OK", "infocode": "10000", "count": "N", "geocodes": [{
  "formatted_address", "province", "city", "district", "location": "lon,lat" (GCJ-02),
  "level"}]}`; a wrong key → `{"status": "0", "info": "INVALID_USER_KEY", "infocode":
  "10001"}`.
- 天地图 地理编码: `GET /geocoder?ds={"keyWord": "…"}&tk=…` → `{"status": "0", "msg": "ok",
  "location": {"lon", "lat", "level", "score", "keyWord"}}` (CGCS2000 ≈ WGS84); nothing found
  → `{"status": "1", "msg": "无结果"}`.

A request that breaks the format is answered 400 and recorded in `mistakes` (tests assert it
stays empty). `places` maps an address to its answers as (WGS84 lon, lat, level): the stand-in
converts them to GCJ-02 for 高德, so a client that forgets to convert back lands ~500 m off.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from geo.crs import wgs84_to_gcj02


class GeocoderStandIn:
    def __init__(self, provider: str, key: str = "test-key", city: str | None = None) -> None:
        self.provider = provider
        self.key = key
        self.city = city
        self.places: dict[str, list[tuple[float, float, str]]] = {}
        self.requests: list[dict[str, list[str]]] = []
        self.mistakes: list[str] = []
        self.delay = 0.0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stand_in.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        path = "/v3/geocode/geo" if self.provider == "amap" else "/geocoder"
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def settings(self, timeout: float = 5.0) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "key": self.key,
            "url": self.url,
            "city": self.city,
            "timeout": timeout,
        }

    def __enter__(self) -> GeocoderStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def asked(self) -> list[str]:
        """The addresses asked, in order."""
        if self.provider == "amap":
            return [q["address"][0] for q in self.requests if "address" in q]
        return [json.loads(q["ds"][0])["keyWord"] for q in self.requests if "ds" in q]

    # ------------------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self.requests.append(query)
        if self.delay:
            time.sleep(self.delay)
        try:
            body = (
                self._amap(parts.path, query)
                if self.provider == "amap"
                else self._tianditu(parts.path, query)
            )
        except _Mistake as exc:
            self.mistakes.append(str(exc))
            self._send(request, 400, {"error": str(exc)})
            return
        self._send(request, 200, body)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json;charset=UTF-8")
            request.send_header("Content-Length", str(len(raw)))
            request.end_headers()
            request.wfile.write(raw)
        except OSError:  # the client gave up (a timeout test)
            pass

    def _amap(self, path: str, q: dict[str, list[str]]) -> dict[str, Any]:
        if path != "/v3/geocode/geo":
            raise _Mistake(f"amap: path {path}")
        for name in ("key", "address"):
            if len(q.get(name, [])) != 1 or not q[name][0]:
                raise _Mistake(f"amap: {name} missing")
        if q.get("output", ["JSON"])[0].upper() != "JSON":
            raise _Mistake("amap: output must be JSON")
        if self.city is not None and q.get("city") != [self.city]:
            raise _Mistake(f"amap: city {q.get('city')}")
        if q["key"][0] != self.key:
            return {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
        found = self.places.get(q["address"][0], [])
        geocodes = []
        for lon, lat, level in found:
            glon, glat = wgs84_to_gcj02(lon, lat)
            geocodes.append(
                {
                    "formatted_address": f"江苏省扬州市{q['address'][0]}",
                    "country": "中国",
                    "province": "江苏省",
                    "city": "扬州市",
                    "district": "广陵区",
                    "location": f"{glon:.6f},{glat:.6f}",
                    "level": level,
                }
            )
        return {
            "status": "1",
            "info": "OK",
            "infocode": "10000",
            "count": str(len(geocodes)),
            "geocodes": geocodes,
        }

    def _tianditu(self, path: str, q: dict[str, list[str]]) -> dict[str, Any]:
        if path != "/geocoder":
            raise _Mistake(f"tianditu: path {path}")
        if q.get("tk") != [self.key]:
            raise _Mistake("tianditu: tk missing or wrong")
        try:
            ds = json.loads(q["ds"][0])
            keyword = ds["keyWord"]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise _Mistake(f"tianditu: ds {q.get('ds')}") from exc
        if self.city is not None and not keyword.startswith(self.city):
            raise _Mistake(f"tianditu: keyWord without the city: {keyword}")
        address = keyword[len(self.city) :] if self.city else keyword
        found = self.places.get(address, [])
        if not found:
            return {"status": "1", "msg": "无结果", "searchVersion": "6.4.9V"}
        lon, lat, level = found[0]
        return {
            "status": "0",
            "msg": "ok",
            "searchVersion": "6.4.9V",
            "location": {
                "lon": f"{lon:.6f}",
                "lat": f"{lat:.6f}",
                "level": level,
                "score": 100,
                "keyWord": keyword,
            },
        }


class _Mistake(Exception):
    pass
