/* KPI charts with ECharts (served by the app). Without ECharts the tables remain. */
(function () {
  "use strict";
  function start() {
    var source = document.getElementById("kpi-data");
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    if (typeof window.echarts === "undefined") {
      document.querySelectorAll(".chart, .chart-multiples").forEach(function (el) { el.hidden = true; });
      document.querySelectorAll(".chart-fallback").forEach(function (el) { el.hidden = false; });
      return;
    }
    var rates = document.getElementById("chart-rates");
    if (rates && data.rows.length && window.MinqingCharts) {
      // one small chart per rate, the lowest groups first (small-multiples.js)
      window.MinqingCharts.rankedBars(rates, data.rows, data.rates, data.labels,
        { limit: 10, lowest: rates.getAttribute("data-lowest"), highest: rates.getAttribute("data-highest"),
          higherIsWorse: ["rework_rate"] });
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
