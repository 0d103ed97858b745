/* The collector view's location work: fill the place of a log or report from the phone,
   and during a patrol send the track in batches (JSON, CSRF header) — the pages still work
   without it (coordinates typed in; a patrol without a track). */
(function () {
  "use strict";
  var script = document.currentScript;
  var text = function (name) { return script.getAttribute("data-" + name) || ""; };
  var csrf = text("csrf");
  var geo = navigator.geolocation;

  // One tap sends one form (a log or a report is not filed twice by a double tap).
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var button = event.target.querySelector("button[type=submit]");
    if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
  });
  window.addEventListener("pageshow", function () {  // back from the next page
    document.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
  });

  // --- the place of a log or report -------------------------------------------------
  var form = document.querySelector("form[data-autolocate]");
  if (form && geo) {
    var lon = form.querySelector("[name=lon]");
    var lat = form.querySelector("[name=lat]");
    var status = document.getElementById("place-status");
    var locate = function () {
      status.textContent = text("locating");
      geo.getCurrentPosition(function (pos) {
        lon.value = pos.coords.longitude.toFixed(7);
        lat.value = pos.coords.latitude.toFixed(7);
        status.textContent = text("located");
      }, function () { status.textContent = text("failed"); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
    };
    form.querySelectorAll("[data-locate]").forEach(function (b) { b.addEventListener("click", locate); });
    if (!lon.value || !lat.value) { locate(); }
  }

  // --- the track of the patrol under way ---------------------------------------------
  var patrol = document.getElementById("patrol");
  if (!patrol || !geo || !window.fetch) { return; }
  var url = patrol.getAttribute("data-points-url");
  var shown = document.getElementById("track-status");
  var pending = [];
  var sending = false;
  var BATCH_MS = 20000;

  function send() {
    if (sending || !pending.length) { return Promise.resolve(); }
    sending = true;
    var batch = pending.slice(0, 500);
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ points: batch })
    }).then(function (r) {
      if (r.status === 401) { shown.textContent = text("expired"); throw new Error("401"); }
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (body) {
      pending = pending.slice(batch.length);
      shown.textContent = text("sent") + body.points;
    }).catch(function (error) {
      if (error.message !== "401") { shown.textContent = text("offline"); }
    }).then(function () { sending = false; });
  }

  var fixes = 0;
  geo.watchPosition(function (pos) {
    fixes += 1;
    pending.push([pos.coords.longitude, pos.coords.latitude, pos.timestamp / 1000, pos.coords.accuracy]);
  }, function () {
    if (!fixes) { shown.textContent = text("nofix"); }  // one lost fix in a walk is normal
  },
  { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
  window.setInterval(send, BATCH_MS);

  // Before ending, send what is left so the figures see the whole track.
  var end = document.getElementById("end-patrol");
  if (end) {
    end.addEventListener("submit", function (event) {
      if (end.getAttribute("data-flushed")) { return; }
      event.preventDefault();
      // Ask here (web.js asks later in the same event, after the form's own listeners).
      var message = end.getAttribute("data-confirm");
      if (message && !window.confirm(message)) { return; }
      end.removeAttribute("data-confirm");
      send().then(function () {
        end.setAttribute("data-flushed", "1");
        end.submit();
      });
    });
  }
})();
