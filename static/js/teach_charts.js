// The class experiments page's two plotly charts, drawn from the JSON the page
// embeds (#class-experiment-charts, built by teach.analysis.experiment_charts):
//
// * prediction — each experiment's predicted against actual acknowledged writes
//   lost by the cache cluster, with the line where a prediction is exact;
// * losses — a histogram of acknowledged writes lost per experiment, one series
//   per lane: durable should sit at 0, cache spreads out.
//
// The table under the charts holds the same numbers for screen readers and for a
// browser without JavaScript. No mode bar: its styles are a <style> element, which
// the site's CSP blocks.
(function () {
  "use strict";

  var COLORS = { durable: "#1a7f37", cache: "#bc4c00" };

  function dark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function layout(title, extra) {
    var base = {
      title: { text: title, font: { size: 15 } },
      margin: { t: 40, r: 10, b: 50, l: 55 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: dark() ? "#e6edf3" : "#1b1f24" },
      legend: { orientation: "h", y: -0.25 }
    };
    Object.keys(extra).forEach(function (key) { base[key] = extra[key]; });
    return base;
  }

  function plot(target, traces, spec) {
    if (!target || !window.Plotly) {
      return;
    }
    window.Plotly.react(target, traces, spec, { responsive: true, displayModeBar: false });
  }

  function prediction(target, points) {
    var top = 1;
    points.forEach(function (p) { top = Math.max(top, p.predicted, p.actual); });
    plot(target, [
      {
        type: "scatter", mode: "markers", name: "experiments",
        x: points.map(function (p) { return p.predicted; }),
        y: points.map(function (p) { return p.actual; }),
        text: points.map(function (p) { return p.learner; }),
        hovertemplate: "%{text}: predicted %{x}, lost %{y}<extra></extra>",
        marker: { color: COLORS.cache, size: 9, opacity: 0.8 }
      },
      {
        type: "scatter", mode: "lines", name: "exact prediction",
        x: [0, top], y: [0, top], hoverinfo: "skip",
        line: { color: "#8c959f", dash: "dot" }
      }
    ], layout("Cache loss: predicted vs actual", {
      xaxis: { title: { text: "predicted writes lost" }, rangemode: "tozero" },
      yaxis: { title: { text: "acknowledged writes lost" }, rangemode: "tozero" }
    }));
  }

  function losses(target, lanes) {
    var traces = ["durable", "cache"].map(function (lane) {
      return {
        type: "histogram", name: lane, x: lanes[lane] || [], opacity: 0.75, bingroup: "losses",
        marker: { color: COLORS[lane] }
      };
    });
    plot(target, traces, layout("Acknowledged writes lost, per lane", {
      barmode: "overlay",
      xaxis: { title: { text: "writes lost in one experiment" }, rangemode: "tozero" },
      yaxis: { title: { text: "experiments" } }
    }));
  }

  function draw() {
    var source = document.getElementById("class-experiment-charts");
    if (!source) {
      return;
    }
    var charts = JSON.parse(source.textContent);
    prediction(document.getElementById("chart-prediction"), charts.scatter || []);
    losses(document.getElementById("chart-losses"), charts.losses || {});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
