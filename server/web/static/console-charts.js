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
    if (trend && data.trend.series.length && window.MinqingCharts) {
      // one small chart per community, lowest latest score first (small-multiples.js)
      window.MinqingCharts.smallMultiples(trend, data.trend.days, data.trend.series);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
