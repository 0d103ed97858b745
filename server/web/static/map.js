/* Minqing's map component (Leaflet + Leaflet.markercluster, both served by the app).

   Embed it (docs/web.md, "Maps"):
     {% from "_map.html" import map_head, map_box, map_scripts %}
     head:    {{ map_head() }}
     body:    {{ map_box(attrs, id="my-map", label="…") }}   attrs = server.web.maps.map_attrs(...)
     scripts: {{ map_scripts() }}  then, in your own deferred script:
              var m = MinqingMap.mount(document.getElementById("my-map"));
              m.onPick(function (lon, lat, crs) { … });   // a tap, in the map's crs
              m.ready.then(function () { … });             // GeoJSON layers drawn
   A box with data-map-auto mounts itself. Everything the map draws is already in its
   coordinate system (`m.crs`: wgs84, gcj02 or bd09 — the tiles'); send a tapped point back
   with that crs. MinqingMap.fromWgs84(lon, lat, crs) converts a WGS84 point (e.g. the
   phone's location) for drawing: a port of geo/crs.py's forward formulas (prcoords),
   checked against it by tests/browser/test_maps.py. */
(function () {
  "use strict";
  var L = window.L;

  // ----------------------------------------------------------- WGS84 -> GCJ-02 / BD-09
  var GCJ_A = 6378245, GCJ_EE = 0.00669342162296594323;
  function nearChina(lon, lat) {  // prcoords' box (geo/crs.py judges by a finer outline)
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }
  function wgsToGcjRaw(lon, lat) {
    var x = lon - 105, y = lat - 35, PI = Math.PI;
    var dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) +
      (2 * Math.sin(x * 6 * PI) + 2 * Math.sin(x * 2 * PI) + 2 * Math.sin(y * PI) +
       4 * Math.sin(y / 3 * PI) + 16 * Math.sin(y / 12 * PI) + 32 * Math.sin(y / 30 * PI)) * 20 / 3;
    var dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) +
      (2 * Math.sin(x * 6 * PI) + 2 * Math.sin(x * 2 * PI) + 2 * Math.sin(x * PI) +
       4 * Math.sin(x / 3 * PI) + 15 * Math.sin(x / 12 * PI) + 30 * Math.sin(x / 30 * PI)) * 20 / 3;
    var radLat = lat * PI / 180;
    var magic = 1 - GCJ_EE * Math.pow(Math.sin(radLat), 2);
    var latArc = (GCJ_A * (1 - GCJ_EE)) / Math.pow(magic, 1.5) * PI / 180;
    var lonArc = GCJ_A * Math.cos(radLat) / Math.sqrt(magic) * PI / 180;
    return [lon + dLon / lonArc, lat + dLat / latArc];
  }
  function gcjToBdRaw(lon, lat) {
    var r = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * Math.PI / 180 * 3000);
    var theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * Math.PI / 180 * 3000);
    return [r * Math.cos(theta) + 0.0065, r * Math.sin(theta) + 0.0060];
  }
  function fromWgs84(lon, lat, crs) {
    if (!crs || crs === "wgs84" || !nearChina(lon, lat)) { return [lon, lat]; }
    var gcj = wgsToGcjRaw(lon, lat);
    return crs === "bd09" ? gcjToBdRaw(gcj[0], gcj[1]) : gcj;
  }

  // --------------------------------------------------------------------------- helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function format(template, n) { return String(template || "{n}").replace("{n}", String(n)); }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); });
  }

  function legendControl(cfg) {
    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      var box = el("div", "mq-legend");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", cfg.text.legend || "Legend");
      if (cfg.legendTitle) { box.appendChild(el("p", "mq-legend-title", cfg.legendTitle)); }
      var list = el("ul");
      (cfg.legend || []).forEach(function (item) {
        var li = el("li");
        var swatch = el("span", "mq-swatch" + (item.pin ? " mq-swatch-pin" : ""));
        swatch.setAttribute("aria-hidden", "true");
        swatch.style.background = item.fill;
        li.appendChild(swatch);
        li.appendChild(document.createTextNode(item.label));
        list.appendChild(li);
      });
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  function popupLink(href, text, extra) {
    var box = el("div", "mq-popup");
    var a = el("a", "", text);
    a.href = href;
    box.appendChild(a);
    if (extra) { box.appendChild(el("p", "", extra)); }
    return box;
  }

  // ----------------------------------------------------------------------------- mount
  function mount(box, options) {
    if (box.minqingMap) { return box.minqingMap; }
    var cfg = JSON.parse(box.getAttribute("data-map") || "{}");
    options = options || {};
    cfg.text = cfg.text || {};
    var tiles = cfg.tiles;
    var picking = !!options.pick || box.hasAttribute("data-map-pick");
    box.hidden = false;
    box.classList.add("mq-map", tiles ? "mq-tiled" : "mq-plain");
    var map = L.map(box, {
      zoomControl: false,
      attributionControl: !!(tiles && tiles.attribution),
      maxZoom: tiles ? tiles.maxZoom : 19,
      minZoom: 3
    });
    L.control.zoom({ position: "topleft", zoomInTitle: cfg.text.zoomIn, zoomOutTitle: cfg.text.zoomOut }).addTo(map);
    if (tiles) {
      [tiles.url].concat(tiles.overlays || []).forEach(function (url, i) {
        L.tileLayer(url, {
          subdomains: tiles.subdomains || "abc",
          maxZoom: tiles.maxZoom,
          attribution: i === 0 ? tiles.attribution : "",
          crossOrigin: false
        }).addTo(map);
      });
    }
    if (cfg.legend) { legendControl(cfg).addTo(map); }
    var handle = {
      map: map, crs: cfg.crs || "wgs84", box: box, grids: null, communities: null, pins: null,
      marker: null, pickHandlers: [],
      onPick: function (fn) { handle.pickHandlers.push(fn); return handle; },
      setPoint: function (lon, lat, zoomTo) {
        var at = L.latLng(lat, lon);
        if (!handle.marker) {
          handle.marker = L.marker(at, {
            icon: L.divIcon({ className: "mq-pick", iconSize: [22, 22] }),
            keyboard: false, interactive: false
          }).addTo(map);
        } else { handle.marker.setLatLng(at); }
        if (zoomTo) { map.setView(at, Math.max(map.getZoom(), zoomTo)); }
        return handle;
      }
    };
    box.minqingMap = handle;
    function noteZoom() {
      var z = map.getZoom();
      box.setAttribute("data-zoom", String(z));
      box.classList.toggle("mq-far", handle.labelZoom !== undefined && z < handle.labelZoom);
    }
    map.on("zoomend", noteZoom);
    if (picking) { box.classList.add("mq-picking"); }
    map.on("click", function (e) {
      var ll = e.latlng;
      handle.pickHandlers.forEach(function (fn) { fn(ll.lng, ll.lat, handle.crs); });
    });

    var loads = [];
    if (cfg.communities) {
      loads.push(getJSON(cfg.communities).then(function (fc) {
        handle.communities = L.geoJSON(fc, {
          interactive: false,
          style: function (f) {
            var fill = f.properties.fill;
            return { color: "#263238", weight: 2.5, fill: !!fill && !cfg.grids, fillColor: fill, fillOpacity: tiles ? 0.55 : 0.85 };
          },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(f.properties.name + (f.properties.score !== undefined && f.properties.score !== null ? " " + f.properties.score : ""),
              { permanent: true, direction: "center", className: "mq-label mq-community-label" });
          }
        });
        return handle.communities;
      }));
    }
    if (cfg.grids) {
      loads.push(getJSON(cfg.grids).then(function (fc) {
        handle.gridCount = fc.features.length;
        handle.grids = L.geoJSON(fc, {
          interactive: !picking,
          style: function (f) {
            var own = f.properties.own;
            return { color: own ? "#b00020" : "#37474f", weight: own ? 3 : 1, fillColor: f.properties.fill || "#f4f6f8",
                     fillOpacity: tiles ? 0.5 : 0.9 };
          },
          onEachFeature: function (f, layer) {
            var p = f.properties;
            layer.bindTooltip(p.name, { permanent: true, direction: "center", className: "mq-label mq-grid-label" });
            if (p.href) {
              var extra = (cfg.text.index || "index") + " " + (p.score === null || p.score === undefined ? "—" : p.score) +
                " · " + (cfg.text.open || "open") + " " + (p.open || 0);
              layer.bindPopup(popupLink(p.href, (p.community ? p.community + " · " : "") + p.name, extra));
            }
          }
        });
        return handle.grids;
      }));
    }
    if (cfg.pins && L.markerClusterGroup) {
      loads.push(getJSON(cfg.pins).then(function (fc) {
        var group = L.markerClusterGroup({
          showCoverageOnHover: false,
          maxClusterRadius: 48,
          animate: false,  // its zoom animations can leave a cluster that never opens
          iconCreateFunction: function (cluster) {
            var n = cluster.getChildCount();
            var late = cluster.getAllChildMarkers().some(function (m) { return m.options.overdue; });
            var size = n < 10 ? 30 : (n < 100 ? 36 : 42);
            return L.divIcon({
              className: "mq-cluster" + (late ? " mq-late" : ""),
              iconSize: [size, size],
              html: "<span aria-hidden=\"true\">" + n + "</span><span class=\"sr-only\">" + format(cfg.text.cases, n) + "</span>"
            });
          }
        });
        fc.features.forEach(function (f) {
          var c = f.geometry.coordinates, p = f.properties;
          var marker = L.marker([c[1], c[0]], {
            icon: L.divIcon({ className: "mq-pin" + (p.overdue ? " mq-late" : ""), iconSize: [16, 16] }),
            title: p.number, alt: p.number, overdue: !!p.overdue, riseOnHover: true
          });
          marker.bindPopup(popupLink(p.href, p.number));
          group.addLayer(marker);
        });
        handle.pins = group;
        handle.pinCount = fc.features.length;
        return group;
      }));
    }
    handle.ready = Promise.all(loads).then(function (layers) {
      layers.forEach(function (layer) { layer.addTo(map); });
      if (handle.communities) { handle.communities.bringToFront(); }
      var focus = cfg.focus;
      var bounds = handle.grids && handle.grids.getLayers().length ? handle.grids.getBounds()
        : (handle.communities && handle.communities.getLayers().length ? handle.communities.getBounds() : null);
      if (focus) {
        map.setView([focus.lat, focus.lon], focus.zoom || 16);
        L.marker([focus.lat, focus.lon], {
          icon: L.divIcon({ className: "mq-pick", iconSize: [22, 22] }),
          title: focus.label, alt: focus.label, keyboard: false
        }).addTo(map);
      } else if (bounds) {
        map.fitBounds(bounds, { padding: [8, 8] });
      } else {
        map.setView([32.4, 119.4], 12);
      }
      // Many grids: their names only once zoomed in (communities' names always).
      handle.labelZoom = (handle.gridCount || 0) > 40 && !focus ? map.getZoom() + 2 : undefined;
      noteZoom();
      box.setAttribute("data-ready", "1");
      return handle;
    }, function (error) {
      box.setAttribute("data-ready", "failed");
      map.setView([32.4, 119.4], 12);
      throw error;
    });
    return handle;
  }

  window.MinqingMap = { mount: mount, fromWgs84: fromWgs84 };

  function auto() {
    if (!L) { return; }
    document.querySelectorAll("[data-map][data-map-auto]").forEach(function (box) { mount(box); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", auto); } else { auto(); }
})();
