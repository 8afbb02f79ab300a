// Progress page: draws the quiz-score chart from the JSON block #score-data with the
// plotly bundle served by the site itself (no CDN, works offline). The same numbers
// are in the table under the chart, for screen readers and if scripts are off.
(function () {
  "use strict";

  var target = document.getElementById("score-chart");
  var source = document.getElementById("score-data");
  if (!target || !source || !window.Plotly) {
    return;
  }
  var chart = JSON.parse(source.textContent);
  var traces = chart.series.map(function (series) {
    return {
      type: "scatter",
      mode: "lines+markers",
      name: series.name,
      x: series.x,
      y: series.y,
      hovertemplate: "%{y}%<extra>%{fullData.name}</extra>"
    };
  });
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var layout = {
    margin: { t: 10, r: 10, b: 40, l: 50 },
    xaxis: { type: "date" },
    yaxis: { range: [0, 105], ticksuffix: "%", title: { text: "Score" } },
    legend: { orientation: "h", y: -0.2 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: dark ? "#e6edf3" : "#1b1f24" }
  };
  // No mode bar: its colours are a per-chart <style> element, which the site's
  // Content-Security-Policy (style-src 'self') blocks, and a chart of a few scores
  // needs no zoom or export.
  window.Plotly.newPlot(target, traces, layout, { responsive: true, displayModeBar: false });
})();
