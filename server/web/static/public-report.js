/* The report form's place picker: the phone's location, or a tap on the grid map.
   Drawn as SVG from our own GeoJSON (no tiles, works on an intranet). Without this script
   the form still works: the coordinates can be typed in. */
(function () {
  "use strict";
  var script = document.currentScript;
  var text = function (name) { return script.getAttribute("data-" + name) || ""; };
  var lon = document.getElementById("f-lon");
  var lat = document.getElementById("f-lat");
  var crs = document.getElementById("f-crs");
  var status = document.getElementById("place-status");
  var button = document.getElementById("use-location");
  var mapBox = document.getElementById("report-map");
  var SVG = "http://www.w3.org/2000/svg";
  var pin = null;
  var project = null;

  function choose(x, y, message) {
    lon.value = x.toFixed(7);
    lat.value = y.toFixed(7);
    crs.value = "wgs84";
    status.textContent = message;
    showPin();
  }

  function showPin() {
    if (!project || !lon.value || !lat.value) { return; }
    var p = project.forward(parseFloat(lon.value), parseFloat(lat.value));
    if (!pin) {
      pin = document.createElementNS(SVG, "circle");
      pin.setAttribute("class", "pin");
      project.svg.appendChild(pin);
    }
    pin.setAttribute("r", String(project.view[2] / 50));
    pin.setAttribute("cx", p[0]);
    pin.setAttribute("cy", p[1]);
  }

  if (navigator.geolocation) {
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = text("locating");
      navigator.geolocation.getCurrentPosition(function (pos) {
        // Browsers report WGS84.
        choose(pos.coords.longitude, pos.coords.latitude, text("located"));
      }, function () {
        status.textContent = text("failed");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function rings(geometry) {
    if (geometry.type === "Polygon") { return geometry.coordinates; }
    if (geometry.type === "MultiPolygon") {
      return geometry.coordinates.reduce(function (all, poly) { return all.concat(poly); }, []);
    }
    return [];
  }

  function draw(fc) {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    fc.features.forEach(function (f) {
      rings(f.geometry).forEach(function (ring) {
        ring.forEach(function (c) {
          minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
          minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
        });
      });
    });
    if (!isFinite(minX)) { return; }
    var kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    var size = 1000;
    var scale = size / Math.max((maxX - minX) * kx, maxY - minY);
    var width = (maxX - minX) * kx * scale, height = (maxY - minY) * scale;
    var svg = document.createElementNS(SVG, "svg");
    var full = [0, 0, width, height];
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", text("map-label"));
    project = {
      svg: svg, size: size, view: full,
      forward: function (x, y) { return [(x - minX) * kx * scale, (maxY - y) * scale]; },
      inverse: function (px, py) { return [minX + px / (kx * scale), maxY - py / scale]; }
    };
    fc.features.forEach(function (f) {
      var path = document.createElementNS(SVG, "path");
      var d = rings(f.geometry).map(function (ring) {
        return "M" + ring.map(function (c) {
          var p = project.forward(c[0], c[1]);
          return p[0].toFixed(1) + "," + p[1].toFixed(1);
        }).join("L") + "Z";
      }).join("");
      path.setAttribute("d", d);
      var title = document.createElementNS(SVG, "title");
      title.textContent = f.properties.community + " · " + f.properties.name;
      path.appendChild(title);
      svg.appendChild(path);
    });
    var reset = document.getElementById("map-reset");
    function show(view) {
      project.view = view;
      svg.setAttribute("viewBox", view.map(function (n) { return n.toFixed(1); }).join(" "));
      reset.hidden = view === full;
      showPin();
    }
    reset.addEventListener("click", function () { show(full); });
    // Many small grids on a phone: the first tap zooms in, the second picks the place.
    var zoomFirst = fc.features.length > 30;
    svg.addEventListener("click", function (event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      var local = point.matrixTransform(svg.getScreenCTM().inverse());
      if (zoomFirst && project.view === full) {
        var w = width / 4, h = height / 4;
        var x = Math.min(Math.max(local.x - w / 2, 0), width - w);
        var y = Math.min(Math.max(local.y - h / 2, 0), height - h);
        show([x, y, w, h]);
        status.textContent = text("zoomed");
        return;
      }
      var ll = project.inverse(local.x, local.y);
      choose(ll[0], ll[1], text("picked"));
    });
    mapBox.appendChild(svg);
    show(full);
    mapBox.hidden = false;
    document.getElementById("map-hint").hidden = false;
    showPin();
  }

  // One tap sends one report: the button rests while the page is sent.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var button = event.target.querySelector("button[type=submit]");
    if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
  });
  window.addEventListener("pageshow", function () {  // back from the next page
    document.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });

  if (window.fetch && mapBox) {
    fetch(mapBox.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) { if (fc) { draw(fc); } })
      .catch(function () { /* the typed coordinates still work */ });
  }
})();
