/* KPI charts with ECharts (served by the app). Without ECharts the tables remain. */
(function () {
  "use strict";
  function start() {
    var source = document.getElementById("kpi-data");
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    if (typeof window.echarts === "undefined") {
      document.querySelectorAll(".chart").forEach(function (el) { el.hidden = true; });
      document.querySelectorAll(".chart-fallback").forEach(function (el) { el.hidden = false; });
      return;
    }
    var rates = document.getElementById("chart-rates");
    if (rates && data.rows.length) {
      var chart = window.echarts.init(rates);
      chart.setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        grid: { left: 48, right: 16, bottom: 64, containLabel: true },
        xAxis: { type: "category", data: data.rows.map(function (r) { return r.name; }),
                 axisLabel: { interval: 0, rotate: data.rows.length > 6 ? 30 : 0 } },
        yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
        series: data.rates.map(function (k) {
          return { name: data.labels[k], type: "bar",
                   data: data.rows.map(function (r) { return r.rates[k]; }) };
        })
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var trend = document.getElementById("chart-trend");
    if (trend && data.trend.series.length) {
      var line = window.echarts.init(trend);
      line.setOption({
        tooltip: { trigger: "axis" },
        legend: { type: "scroll" },
        grid: { left: 40, right: 16, bottom: 40, containLabel: true },
        xAxis: { type: "category", data: data.trend.days },
        yAxis: { type: "value", min: function (v) { return Math.max(0, Math.floor(v.min - 5)); }, max: 100 },
        series: data.trend.series.map(function (s) {
          return { name: s.name, type: "line", connectNulls: false, data: s.data };
        })
      });
      window.addEventListener("resize", function () { line.resize(); });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
