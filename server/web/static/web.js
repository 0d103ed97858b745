/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  // Confirm before a form marked data-confirm is submitted.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  // "Select all" checkbox for bulk actions.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var name = box.getAttribute("data-select-all");
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
      b.checked = box.checked;
    });
  });
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
