/* The board's 30-day trend, drawn by ECharts (served by the app) from the page's own data. */
(function () {
  "use strict";
  var box = document.getElementById("trend-chart");
  var data = document.getElementById("trend-data");
  if (!box || !data || !window.echarts) { return; }
  var trend = JSON.parse(data.textContent);
  var chart = window.echarts.init(box, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", top: 0 },
    grid: { left: 40, right: 16, top: 40, bottom: 30 },
    xAxis: { type: "category", data: trend.days.map(function (d) { return d.slice(5); }) },
    yAxis: { type: "value", max: 100, min: function (v) { return Math.max(0, Math.floor(v.min / 10) * 10 - 10); } },
    series: trend.series.map(function (s) {
      var byDay = {};
      s.points.forEach(function (p) { byDay[p[0]] = p[1]; });
      return {
        name: s.name, type: "line", connectNulls: false, showSymbol: false,
        data: trend.days.map(function (d) { return byDay[d] === undefined ? null : byDay[d]; })
      };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
