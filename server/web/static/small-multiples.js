/* Trends as small multiples: one small line chart per area (community), all on the same
   scale, the lowest latest score first — instead of 20 lines on one chart. Used by the
   public board (public-board.js) and the KPI page (console-charts.js); ECharts is served by
   the app. The page's table beside the charts carries the same figures.

   MinqingCharts.smallMultiples(container, days, series, {latest: "最新"})
     days   — ["2026-11-01", …] (x axis)
     series — [{name, data: [score|null per day]}]  */
(function () {
  "use strict";
  function latest(data) {
    for (var i = data.length - 1; i >= 0; i -= 1) { if (data[i] !== null && data[i] !== undefined) { return data[i]; } }
    return null;
  }
  function smallMultiples(container, days, series, options) {
    options = options || {};
    var echarts = window.echarts;
    if (!echarts || !container) { return []; }
    var values = [];
    series.forEach(function (s) { s.data.forEach(function (v) { if (v !== null && v !== undefined) { values.push(v); } }); });
    var low = values.length ? Math.max(0, Math.floor(Math.min.apply(null, values) / 10) * 10 - 10) : 0;
    var ordered = series.slice().sort(function (a, b) {
      var x = latest(a.data), y = latest(b.data);
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      return x - y;
    });
    var labels = days.map(function (d) { return d.length > 5 ? d.slice(5) : d; });
    container.textContent = "";
    container.classList.add("multiples");
    var charts = [];
    ordered.forEach(function (s) {
      var figure = document.createElement("figure");
      figure.className = "multiple";
      var caption = document.createElement("figcaption");
      var last = latest(s.data);
      caption.textContent = s.name + " · " + (last === null ? "—" : last);
      var box = document.createElement("div");
      box.className = "spark";
      figure.appendChild(caption);
      figure.appendChild(box);
      container.appendChild(figure);
      var chart = echarts.init(box, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        grid: { left: 30, right: 8, top: 8, bottom: 20 },
        xAxis: { type: "category", data: labels, boundaryGap: false,
                 axisLabel: { interval: Math.max(0, labels.length - 2), fontSize: 10, color: "#333" } },
        yAxis: { type: "value", min: low, max: 100, splitNumber: 2, axisLabel: { fontSize: 10, color: "#333" } },
        series: [{ name: s.name, type: "line", data: s.data, connectNulls: false, showSymbol: false,
                   lineStyle: { width: 2, color: "#0b57a4" }, areaStyle: { color: "#0b57a4", opacity: 0.08 } }]
      });
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    container.setAttribute("data-multiples", String(charts.length));
    return charts;
  }
  /* One small horizontal bar chart per rate, its groups sorted worst first (lowest; highest
     for the keys in options.higherIsWorse) and cut to the `limit` worst (top-N: those that
     need attention) — instead of 20 groups × 5 bars.
     rows — [{name, rates: {key: percent|null}}]; keys — the rates; labels — key -> title */
  function rankedBars(container, rows, keys, labels, options) {
    options = options || {};
    var echarts = window.echarts;
    if (!echarts || !container) { return []; }
    var limit = options.limit || 10;
    container.textContent = "";
    container.classList.add("multiples", "multiples-wide");
    var charts = [];
    keys.forEach(function (key) {
      var worseHigh = (options.higherIsWorse || []).indexOf(key) >= 0;  // e.g. 返工率
      var ranked = rows.filter(function (r) { return r.rates[key] !== null && r.rates[key] !== undefined; })
        .sort(function (a, b) { return worseHigh ? b.rates[key] - a.rates[key] : a.rates[key] - b.rates[key]; });
      var shown = ranked.slice(0, limit);
      var figure = document.createElement("figure");
      figure.className = "multiple";
      var caption = document.createElement("figcaption");
      var cut = worseHigh ? (options.highest || "highest {n}") : (options.lowest || "lowest {n}");
      caption.textContent = labels[key] + (ranked.length > limit ? " · " + String(cut).replace("{n}", String(limit)) : "");
      var box = document.createElement("div");
      box.className = "spark";
      box.style.height = String(40 + Math.max(shown.length, 1) * 22) + "px";
      figure.appendChild(caption);
      figure.appendChild(box);
      container.appendChild(figure);
      var chart = echarts.init(box, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 8, right: 40, top: 4, bottom: 20, containLabel: true },
        xAxis: { type: "value", min: 0, max: 100, splitNumber: 2, axisLabel: { formatter: "{value}%", fontSize: 10, color: "#333" } },
        yAxis: { type: "category", inverse: true, data: shown.map(function (r) { return r.name; }),
                 axisLabel: { fontSize: 11, color: "#333", width: 90, overflow: "truncate" } },
        series: [{ name: labels[key], type: "bar", data: shown.map(function (r) { return r.rates[key]; }),
                   itemStyle: { color: "#0b57a4" }, label: { show: true, position: "right", formatter: "{c}%", color: "#333", fontSize: 10 } }]
      });
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    container.setAttribute("data-multiples", String(charts.length));
    return charts;
  }
  window.MinqingCharts = { smallMultiples: smallMultiples, rankedBars: rankedBars };
})();
