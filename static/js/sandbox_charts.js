// The sandbox's three plotly charts, drawn from a verdict's "charts" object (the
// same JSON a saved experiment keeps, so the experiment page redraws them):
//
// * latency — the distribution of acknowledgement latency per cluster, p50 and
//   p99 marked: durable pays for the journal's multi-zone commit;
// * throughput — acknowledged writes per second over time, the crash and each
//   cluster's failover marked: the gap is the time without a primary;
// * timeline — each data node's role over time around the crash.
//
// No mode bar: its styles are a <style> element, which the site's CSP blocks.
(function () {
  "use strict";

  var COLORS = { durable: "#1a7f37", async: "#8250df", cache: "#bc4c00" };
  var STATE_COLORS = { primary: "#0b5cad", replica: "#8c959f", down: "#cf222e" };

  function dark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function baseLayout(title, extra) {
    var layout = {
      title: { text: title, font: { size: 15 } },
      margin: { t: 40, r: 10, b: 45, l: 55 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: dark() ? "#e6edf3" : "#1b1f24" },
      legend: { orientation: "h", y: -0.25 },
      shapes: [],
      annotations: []
    };
    Object.keys(extra || {}).forEach(function (key) { layout[key] = extra[key]; });
    return layout;
  }

  function vline(layout, x, color, label, dash, y) {
    layout.shapes.push({
      type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
      line: { color: color, width: 2, dash: dash || "dash" }
    });
    layout.annotations.push({
      x: x, xref: "x", y: y === undefined ? 1 : y, yref: "paper", text: label, showarrow: false,
      xanchor: "left",
      yanchor: "bottom", font: { size: 11, color: color }
    });
  }

  function plot(target, traces, layout) {
    if (!target || !window.Plotly) {
      return;
    }
    window.Plotly.react(target, traces, layout, { responsive: true, displayModeBar: false });
  }

  function latency(target, charts) {
    var traces = [];
    var layout = baseLayout("Write acknowledgement latency", {
      barmode: "overlay",
      xaxis: { title: { text: "ms" } },
      yaxis: { title: { text: "writes" } }
    });
    var highest = 0;
    ["durable", "async", "cache"].forEach(function (name, index) {
      var series = charts.clusters && charts.clusters[name];
      if (!series || !series.latency_ms.length) {
        return;
      }
      traces.push({
        type: "histogram", name: name, x: series.latency_ms, opacity: 0.6,
        marker: { color: COLORS[name] }, xbins: { size: 0.1 }
      });
      // Labels stacked so that close percentiles stay readable.
      if (series.p50_ms !== null) {
        vline(layout, series.p50_ms, COLORS[name], name + " p50 " + series.p50_ms + " ms", "dot", 0.95 - index * 0.24);
      }
      if (series.p99_ms !== null) {
        vline(layout, series.p99_ms, COLORS[name], name + " p99 " + series.p99_ms + " ms", "dash", 0.83 - index * 0.24);
        highest = Math.max(highest, series.p99_ms);
      }
    });
    if (highest > 0) {
      // The slowest 1% (writes caught in the failover) would squash the picture.
      layout.xaxis.range = [0, highest * 1.6];
    }
    plot(target, traces, layout);
  }

  function seconds(charts, ms) {
    return Math.round((ms - charts.start_ms) / 10) / 100;
  }

  function throughput(target, charts) {
    var traces = [];
    var layout = baseLayout("Acknowledged writes per second", {
      xaxis: { title: { text: "seconds since the load started" } },
      yaxis: { title: { text: "writes/s" }, rangemode: "tozero" }
    });
    ["durable", "async", "cache"].forEach(function (name) {
      var series = charts.clusters && charts.clusters[name];
      if (!series) {
        return;
      }
      traces.push({
        type: "scatter", mode: "lines", name: name, line: { color: COLORS[name], shape: "hv" },
        x: series.throughput.t_s, y: series.throughput.writes_per_s
      });
    });
    var markers = charts.markers || {};
    if (markers.crash_ms && charts.start_ms) {
      vline(layout, seconds(charts, markers.crash_ms), "#cf222e", "crash", "solid");
    }
    Object.keys(markers.failovers || {}).forEach(function (name) {
      (markers.failovers[name] || []).forEach(function (at) {
        if (at && charts.start_ms) {
          vline(layout, seconds(charts, at), COLORS[name], name + " failed over", "dot");
        }
      });
    });
    plot(target, traces, layout);
  }

  function timeline(target, charts) {
    var rows = charts.timeline || [];
    var origin = charts.markers && charts.markers.crash_ms;
    if (!rows.length || !origin) {
      return;
    }
    var byState = {};
    rows.forEach(function (row) {
      row.segments.forEach(function (segment) {
        var trace = byState[segment.state] = byState[segment.state] || {
          type: "bar", orientation: "h", name: segment.state, x: [], y: [], base: [],
          marker: { color: STATE_COLORS[segment.state] || "#999" },
          hovertemplate: "%{y}: " + segment.state + " for %{x:.2f} s<extra></extra>"
        };
        trace.y.push(row.label + " · " + row.node.slice(0, 6));
        trace.base.push((segment.from_ms - origin) / 1000);
        trace.x.push(Math.max((segment.to_ms - segment.from_ms) / 1000, 0.01));
      });
    });
    var layout = baseLayout("Failover timeline (0 = the crash)", {
      barmode: "overlay",
      xaxis: { title: { text: "seconds from the crash" } },
      yaxis: { automargin: true },
      margin: { t: 40, r: 10, b: 45, l: 10 }
    });
    vline(layout, 0, "#cf222e", "crash", "solid");
    plot(target, Object.keys(byState).map(function (k) { return byState[k]; }), layout);
  }

  function drawAll(charts) {
    if (!charts) {
      return;
    }
    latency(document.getElementById("chart-latency"), charts);
    throughput(document.getElementById("chart-throughput"), charts);
    timeline(document.getElementById("chart-timeline"), charts);
  }

  window.SandboxCharts = { drawAll: drawAll };
})();
