/* The report form's place picker: the phone's location, or a tap on the map (static/map.js:
   our own outlines, over the configured tiles if any). Each chosen place is named —
   community and grid — by /api/v1/locate, and a place outside the sub-district is refused
   here, before the form is sent. Without this script (or without the map) the form still
   works: the coordinates can be typed in, and the server refuses a place outside. */
(function () {
  "use strict";
  var script = document.currentScript;
  var text = function (name) { return script.getAttribute("data-" + name) || ""; };
  var form = document.getElementById("report-form");
  var lon = document.getElementById("f-lon");
  var lat = document.getElementById("f-lat");
  var crs = document.getElementById("f-crs");
  var status = document.getElementById("place-status");
  var button = document.getElementById("use-location");
  var mapBox = document.getElementById("report-map");
  var handle = null;
  // the last place checked: its key and verdict ("in", "outside", or a pending promise)
  var checked = { key: null, verdict: null, promise: null };

  function key() { return [lon.value.trim(), lat.value.trim(), crs.value].join(","); }

  function say(message, bad) {
    status.textContent = message;
    status.classList.toggle("error", !!bad);
    status.setAttribute("role", bad ? "alert" : "status");
  }

  function check() {
    var k = key();
    if (!lon.value.trim() || !lat.value.trim()) { return Promise.resolve(null); }
    if (checked.key === k && checked.promise) { return checked.promise; }
    say(text("checking"));
    var url = text("locate-url") + "?lon=" + encodeURIComponent(lon.value.trim()) +
      "&lat=" + encodeURIComponent(lat.value.trim()) + "&crs=" + encodeURIComponent(crs.value || "wgs84");
    checked.key = k;
    checked.verdict = null;
    checked.promise = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.ok) {
          return r.json().then(function (place) {
            if (checked.key !== k) { return null; }
            checked.verdict = "in";
            say(text("in") + place.community.name + " · " + place.grid.name);
            status.setAttribute("data-grid", place.grid.code);
            return "in";
          });
        }
        if (checked.key !== k) { return null; }
        if (r.status === 404 || r.status === 422) {
          checked.verdict = "outside";
          status.removeAttribute("data-grid");
          say(text("outside"), true);
          return "outside";
        }
        throw new Error("locate " + r.status);
      })
      .catch(function () {
        if (checked.key === k) { checked.key = null; checked.promise = null; }
        say(text("unchecked"), true);
        return null;
      });
    return checked.promise;
  }

  function choose(x, y, system, message, zoom) {
    lon.value = x.toFixed(7);
    lat.value = y.toFixed(7);
    crs.value = system;
    say(message);
    var shown = null;
    if (handle) {
      shown = system === "wgs84" && handle.crs !== "wgs84"
        ? window.MinqingMap.fromWgs84(x, y, handle.crs) : [x, y];
      handle.setPoint(shown[0], shown[1]);
    }
    check().then(function (verdict) {
      // a place inside: zoom in on it, so that a second tap can refine it
      if (verdict === "in" && shown && zoom) { handle.setPoint(shown[0], shown[1], zoom); }
    });
  }

  if (navigator.geolocation && button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      say(text("locating"));
      navigator.geolocation.getCurrentPosition(function (pos) {
        // Browsers report WGS84; the map may draw in GCJ-02/BD-09 (MinqingMap.fromWgs84).
        choose(pos.coords.longitude, pos.coords.latitude, "wgs84", text("located"), 17);
      }, function () {
        say(text("failed"), true);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  // Typed coordinates are checked when they change.
  [lon, lat].forEach(function (input) {
    input.addEventListener("change", function () { crs.value = crs.value || "wgs84"; check(); });
  });

  // A place outside the sub-district (or not yet checked) is not sent.
  form.addEventListener("submit", function (event) {
    if (!lon.value.trim() || !lat.value.trim()) { return; }  // the server names what is missing
    if (checked.key === key() && checked.verdict === "in") { return; }
    event.preventDefault();
    if (checked.key === key() && checked.verdict === "outside") {
      say(text("outside"), true);
      if (mapBox) { mapBox.scrollIntoView({ block: "center" }); }
      return;
    }
    check().then(function (verdict) {
      if (verdict === "in") {
        var send = form.querySelector("button[type=submit]");
        if (send) { send.disabled = true; }
        form.submit();
      }
    });
  });

  // One tap sends one report: the button rests while the page is sent.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var send = event.target.querySelector("button[type=submit]");
    if (send) { window.setTimeout(function () { send.disabled = true; }, 0); }
  });
  window.addEventListener("pageshow", function () {  // back from the next page
    document.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });

  if (mapBox && window.MinqingMap && window.L) {
    handle = window.MinqingMap.mount(mapBox, { pick: true });
    document.getElementById("map-hint").hidden = false;
    handle.onPick(function (x, y, system) {
      // a tap picks the place (in the map's crs) and zooms in, so a second tap can refine it
      choose(x, y, system, text("picked"), 16);
    });
    handle.ready.then(function () {
      if (lon.value && lat.value) {  // the form came back with a place: show it
        var system = crs.value || "wgs84";
        var x = parseFloat(lon.value), y = parseFloat(lat.value);
        var shown = system === "wgs84" ? window.MinqingMap.fromWgs84(x, y, handle.crs) : [x, y];
        if (system === "wgs84" || system === handle.crs) { handle.setPoint(shown[0], shown[1], 16); }
      }
    }).catch(function () { /* typed coordinates still work */ });
  }
})();
