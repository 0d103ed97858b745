/* The admin's grid picker: a tap on the map names the grid there (/api/v1/locate) and adds it,
   ticked, to the form's list (or ticks it where it is listed already). Saving stays the form's
   own POST; nothing is sent before it. */
(function () {
  "use strict";
  var box = document.getElementById("grid-map");
  var form = document.getElementById("grid-picker");
  if (!box || !form || !window.MinqingMap) { return; }
  var picked = document.getElementById("map-picked");
  var status = document.getElementById("map-pick-status");
  var text = document.getElementById("map-pick-text").dataset;
  var map = window.MinqingMap.mount(box, { pick: true });

  function say(message) { status.textContent = message; }

  function listed(code) {
    var boxes = form.querySelectorAll("input[type=checkbox][name=grid]");
    for (var i = 0; i < boxes.length; i += 1) {
      if (boxes[i].value === code) { return boxes[i]; }
    }
    return null;
  }

  function add(grid, community) {
    var label = community + " · " + grid.name;
    var existing = listed(grid.code);
    if (existing) {
      existing.checked = true;
      existing.focus();
      say(text.held + label);
      return;
    }
    var row = document.createElement("div");
    var input = document.createElement("input");
    input.type = "checkbox";
    input.name = "grid";
    input.value = grid.code;
    input.id = "map-" + grid.code;
    input.checked = true;
    var name = document.createElement("label");
    name.htmlFor = input.id;
    name.textContent = label;
    var code = document.createElement("code");
    code.className = "muted";
    code.textContent = grid.code;
    row.append(input, " ", name, " ", code);
    picked.appendChild(row);
    picked.hidden = false;
    say(text.picked + label);
  }

  map.onPick(function (lon, lat, crs) {
    var url = form.dataset.locateUrl + "?lon=" + encodeURIComponent(lon) + "&lat=" +
      encodeURIComponent(lat) + "&crs=" + encodeURIComponent(crs);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404 || r.status === 422) { return null; }
        if (!r.ok) { throw new Error("locate " + r.status); }
        return r.json();
      })
      .then(function (found) {
        if (!found || !found.grid) { say(text.none); return; }
        add(found.grid, (found.community && found.community.name) || "");
      })
      .catch(function () { say(text.failed); });
  });
})();
