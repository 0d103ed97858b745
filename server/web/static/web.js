/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  // Confirm before a form (or the button that submits it) marked data-confirm is submitted.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  // "Select all" checkbox for bulk actions.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var name = box.getAttribute("data-select-all");
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
      if (!b.disabled) { b.checked = box.checked; }
    });
  });

  // Pickers that search by name: typing in a [data-filter-select] box narrows the options of
  // the select it names (the select still works alone); one match left is chosen.
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-filter-select]")) { return; }
    var select = document.getElementById(box.getAttribute("data-filter-select"));
    if (!select) { return; }
    var needle = box.value.trim().toLowerCase();
    var shown = [];
    Array.prototype.forEach.call(select.options, function (option) {
      var hit = !option.value || !needle || option.text.toLowerCase().indexOf(needle) >= 0;
      option.hidden = !hit;
      if (hit && option.value) { shown.push(option); }
    });
    if (needle && shown.length === 1) { select.value = shown[0].value; }
  });

  // Copy and share buttons (the resident's page): the Clipboard API, else a selected text box;
  // the share button only where the browser can share.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) { return; }
    var text = button.getAttribute("data-copy");
    var status = document.querySelector("[data-copy-status]");
    var said = function () { if (status) { status.textContent = button.getAttribute("data-copied"); } };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(said, function () { window.prompt("", text); });
    } else {
      window.prompt("", text); said();
    }
  });
  var shareBar = document.querySelector("[data-share-url]");
  if (shareBar && navigator.share) {
    var shareButton = shareBar.querySelector("button[data-share]");
    shareButton.hidden = false;
    shareButton.addEventListener("click", function () {
      navigator.share({ title: shareBar.getAttribute("data-share-title"), url: shareBar.getAttribute("data-share-url") })
        .catch(function () { /* the person closed the share sheet */ });
    });
  }

  // ---- keyboard shortcuts (queue and case page): j/k, x, Enter, a, d, /, ?
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  var rows = function () { return Array.prototype.slice.call(document.querySelectorAll("table[data-queue] tbody tr[data-case-id]")); };
  var current = -1;
  function mark(i) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, k) { r.classList.toggle("cursor", k === current); });
    var link = all[current].querySelector("a");
    if (link) { link.focus(); }
  }
  function rowBox() {
    var all = rows();
    return current >= 0 && all[current] ? all[current].querySelector("input[name=case]") : null;
  }
  function bulkSubmit(key) {
    var button = document.querySelector('button[data-shortcut-bulk="' + key + '"]');
    if (!button) { return false; }
    var ticked = document.querySelectorAll("input[name=case]:checked");
    if (!ticked.length) {
      var box = rowBox();
      if (!box || box.disabled) { return false; }
      box.checked = true;
    }
    button.form.requestSubmit(button);
    return true;
  }
  function openAction(names) {
    for (var i = 0; i < names.length; i++) {
      var button = document.querySelector('button[data-action="' + names[i] + '"]');
      if (button) {
        var details = button.closest("details");
        if (details) { details.open = true; }
        return button;
      }
    }
    return null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    var help = document.getElementById("shortcut-help");
    if (key === "?") {
      if (help && help.showModal) { help.showModal(); event.preventDefault(); }
      return;
    }
    if (key === "/") {
      var search = document.querySelector('[data-shortcut="/"]');
      if (search) {
        var wrap = search.closest("details");
        if (wrap) { wrap.open = true; }
        search.focus(); event.preventDefault();
      }
      return;
    }
    var inQueue = rows().length > 0;
    if (inQueue && (key === "j" || key === "k")) {
      mark(current < 0 ? 0 : current + (key === "j" ? 1 : -1)); event.preventDefault(); return;
    }
    if (inQueue && key === "x") {
      var box = rowBox();
      if (box && !box.disabled) { box.checked = !box.checked; }
      event.preventDefault(); return;
    }
    if (!inQueue && (key === "j" || key === "k")) {
      var link = document.querySelector('a[data-shortcut-link="' + key + '"]');
      if (link) { link.click(); event.preventDefault(); }
      return;
    }
    if (key === "a") {
      if (inQueue) { if (bulkSubmit("a")) { event.preventDefault(); } return; }
      var accept = openAction(["accept"]);
      if (accept) { accept.form.requestSubmit(accept); event.preventDefault(); }
      return;
    }
    if (key === "d") {
      if (inQueue) { if (bulkSubmit("d")) { event.preventDefault(); } return; }
      var dispatch = openAction(["dispatch", "accept_dispatch"]);
      if (dispatch) {
        var unit = dispatch.form.querySelector("select[name=unit_id]");
        (unit || dispatch).focus(); event.preventDefault();
      }
    }
  });

  // ---- live counts: poll the ETag'd counts endpoint; update the badges, say when new cases came
  var note = document.getElementById("live-note") || document.querySelector("[data-counts-url]");
  if (note && window.fetch) {
    var url = note.getAttribute("data-counts-url");
    var etag = null;
    var first = null;
    var period = parseInt(note.getAttribute("data-poll-ms") || "5000", 10);
    var poll = function () {
      if (document.hidden) { return; }
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(url, { headers: headers, credentials: "same-origin" }).then(function (response) {
        if (response.status === 304 || !response.ok) { return null; }
        etag = response.headers.get("ETag");
        return response.json();
      }).then(function (data) {
        if (!data) { return; }
        Object.keys(data.views || {}).forEach(function (k) {
          document.querySelectorAll('[data-count="' + k + '"]').forEach(function (el) {
            el.textContent = String(data.views[k]);
          });
        });
        document.querySelectorAll("[data-unread]").forEach(function (el) {
          el.textContent = data.unread ? String(data.unread) : "";
          el.hidden = !data.unread;
        });
        if (first === null) { first = data.marker; return; }
        if (data.marker !== first && note.id === "live-note") { note.hidden = false; }
      }).catch(function () { /* offline for a moment: try again at the next tick */ });
    };
    poll();
    window.setInterval(poll, period);
  }
})();

/* A refused form comes back filled in (server/web/forms.py show_refused): put back what was
   typed, open its <details>, and show the error under its field, named by the field's label. */
(function () {
  "use strict";
  var blob = document.getElementById("form-state");
  if (!blob) { return; }
  var state;
  try { state = JSON.parse(blob.textContent); } catch (e) { return; }
  function pathOf(url) { var a = document.createElement("a"); a.href = url; return a.pathname; }
  var forms = Array.prototype.filter.call(document.querySelectorAll("form[method=post]"), function (f) {
    return pathOf(f.getAttribute("action") || location.href) === state.action;
  });
  if (!forms.length) { return; }
  var form = forms.filter(function (f) { return state.field && f.elements[state.field]; })[0] || forms[0];
  var byName = {};
  state.values.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
  Array.prototype.forEach.call(form.elements, function (el) {
    var name = el.name, type = (el.type || "").toLowerCase();
    if (!name || ["hidden", "password", "file", "submit", "button"].indexOf(type) >= 0) { return; }
    var sent = byName[name] || [];
    if (type === "checkbox" || type === "radio") { el.checked = sent.indexOf(el.value) >= 0; return; }
    if (el.multiple && el.options) {
      Array.prototype.forEach.call(el.options, function (o) { o.selected = sent.indexOf(o.value) >= 0; });
      return;
    }
    if (sent.length) { el.value = sent.shift(); }
  });
  var details = form.closest("details");
  if (details) { details.open = true; }
  function labelOf(el) {
    var label = el.id && document.querySelector('label[for="' + el.id + '"]');
    var text = label ? label.textContent : (el.closest("fieldset") && el.closest("fieldset").querySelector("legend") || {}).textContent;
    return (text || "").replace(/[*＊]/g, "").replace(/\s+/g, " ").trim();
  }
  function note(el, text, cls) {
    var p = document.createElement("p");
    p.className = cls;
    p.id = "err-" + Math.random().toString(36).slice(2, 8);
    p.textContent = text;
    var box = el.closest(".field") || el.parentNode;
    box.appendChild(p);
    var described = el.getAttribute("aria-describedby");
    el.setAttribute("aria-describedby", (described ? described + " " : "") + p.id);
    return p;
  }
  var target = state.field ? form.querySelector('[name="' + state.field + '"]:not([type=hidden])') : null;
  if (target) {
    var label = labelOf(target);
    note(target, (label ? label + (document.documentElement.lang === "en" ? ": " : "：") : "") + state.reason, "field-error");
    target.setAttribute("aria-invalid", "true");
    target.focus({ preventScroll: false });
  } else {
    var p = document.createElement("p");
    p.className = "field-error";
    p.textContent = state.reason;
    form.insertBefore(p, form.firstChild);
  }
  if (state.files_dropped || (target && target.type === "file")) {
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      if (!input.parentNode.querySelector(".kept")) { note(input, state.again, "field-error again"); }
    });
  }
})();

/* A POST form submits once: its buttons are disabled while the answer is on its way (the
   server's one-time key catches what gets past this). */
(function () {
  "use strict";
  function buttons(form) { return form.querySelectorAll("button[type=submit], button:not([type])"); }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") { return; }
    setTimeout(function () {
      buttons(form).forEach(function (b) { b.disabled = true; });
      setTimeout(function () { buttons(form).forEach(function (b) { b.disabled = false; }); }, 8000);
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form button[disabled]").forEach(function (b) {
      if (!b.hasAttribute("data-keep-disabled")) { b.disabled = false; }
    });
  });
})();
