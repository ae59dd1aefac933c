/* The dashboard's charts: each div[data-chart] is drawn by ECharts from the JSON in the
   <script type="application/json"> whose id it names. The table beside each chart holds the same
   numbers; the chart only illustrates them. A file, for the Content-Security-Policy. */
(function () {
  "use strict";
  if (!window.echarts) { return; }
  var money = new Intl.NumberFormat("zh-CN", { style: "currency", currency: "CNY" });
  var number = new Intl.NumberFormat("zh-CN");

  function option(spec) {
    var format = spec.money ? function (v) { return money.format(v); }
      : spec.percent ? function (v) { return number.format(v) + "%"; }
      : function (v) { return number.format(v); };
    if (spec.kind === "pie") {
      return {
        tooltip: { trigger: "item", valueFormatter: format },
        legend: { type: "scroll", bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: spec.data }]
      };
    }
    return {
      tooltip: { trigger: "axis", valueFormatter: format },
      legend: { type: "scroll", bottom: 0 },
      grid: { containLabel: true, left: 8, right: 40, top: 16, bottom: 40 },
      xAxis: { type: "value", axisLabel: { formatter: format } },
      yAxis: { type: "category", data: spec.categories, inverse: true },
      series: spec.series.map(function (s) {
        return { type: "bar", name: s.name, data: s.data, stack: s.stack };
      })
    };
  }

  var charts = [];
  document.querySelectorAll("div[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var empty = spec.kind === "pie" ? !spec.data.length : !spec.categories.length;
    if (empty) { el.hidden = true; return; }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
}());
