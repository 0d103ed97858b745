/* The board's 30-day trend as small multiples (static/small-multiples.js, ECharts served by
   the app) from the page's own data; the table beside it has the figures. */
(function () {
  "use strict";
  var box = document.getElementById("trend-chart");
  var data = document.getElementById("trend-data");
  if (!box || !data || !window.echarts || !window.MinqingCharts) { return; }
  var trend = JSON.parse(data.textContent);
  var series = trend.series.map(function (s) {
    var byDay = {};
    s.points.forEach(function (p) { byDay[p[0]] = p[1]; });
    return { name: s.name, data: trend.days.map(function (d) { return byDay[d] === undefined ? null : byDay[d]; }) };
  });
  window.MinqingCharts.smallMultiples(box, trend.days, series);
})();
