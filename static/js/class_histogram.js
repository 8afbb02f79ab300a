// The class's histogram of acknowledged writes lost per lane, with the class's
// predictions beside it: numbers only, never a name (learners see it too).
// Used by the dashboard, the learner's presence banner and a reopened run.
"use strict";

(function () {
  const LANES = [
    ["durable", "Durable cluster: writes lost"],
    ["cache", "Cache cluster: writes lost"],
    ["predictions", "Predicted cache loss"],
  ];

  // Distinct values when there are few, else ~8 equal ranges.
  function bins(values) {
    if (!values.length) return [];
    const distinct = [...new Set(values)].sort((a, b) => a - b);
    if (distinct.length <= 10) {
      return distinct.map((v) => ({ label: String(v), count: values.filter((x) => x === v).length }));
    }
    const lo = distinct[0];
    const hi = distinct[distinct.length - 1];
    const width = Math.ceil((hi - lo + 1) / 8);
    const out = [];
    for (let start = lo; start <= hi; start += width) {
      const end = start + width - 1;
      out.push({ label: `${start}–${end}`, count: values.filter((x) => x >= start && x <= end).length });
    }
    return out;
  }

  function lane(name, title, values) {
    const figure = document.createElement("figure");
    figure.className = "histogram-lane";
    figure.dataset.lane = name;
    figure.dataset.values = values.join(",");
    const caption = document.createElement("figcaption");
    caption.textContent = values.length ? `${title} (${values.length})` : `${title}: none yet`;
    figure.append(caption);
    const counts = bins(values);
    const most = Math.max(1, ...counts.map((b) => b.count));
    const list = document.createElement("ul");
    for (const bin of counts) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.className = "bin-label";
      label.textContent = bin.label;
      const bar = document.createElement("span");
      bar.className = "bin-bar";
      // CSSOM, not a style attribute: the CSP allows this.
      bar.style.width = `${Math.round((100 * bin.count) / most)}%`;
      const count = document.createElement("span");
      count.className = "bin-count";
      count.textContent = `× ${bin.count}`;
      item.append(label, bar, count);
      list.append(item);
    }
    figure.append(list);
    return figure;
  }

  function render(container, run) {
    container.replaceChildren();
    if (!run) return;
    const histogram = run.histogram || {};
    container.dataset.state = run.state;
    container.dataset.done = String(run.done ?? 0);
    container.dataset.expected = String(run.expected ?? "");
    for (const [name, title] of LANES) container.append(lane(name, title, histogram[name] || []));
  }

  function status(run) {
    if (!run) return "No crash yet.";
    const of = run.expected ? ` of ${run.expected}` : "";
    switch (run.state) {
      case "preparing": return "Starting the write load…";
      case "predicting": return `Predict now: the crash comes in a few seconds (${run.expected} sandboxes).`;
      case "crashing": return `Primaries killed; verdicts in: ${run.done}${of}.`;
      case "done": return `Done: ${run.done}${of} sandboxes gave their verdict.`;
      case "failed": return `The run failed: ${run.error || "see the site's log"}.`;
      default: return "";
    }
  }

  window.classHistogram = { render, status };

  // A reopened run: its data is in a JSON block on the page.
  document.addEventListener("DOMContentLoaded", () => {
    for (const el of document.querySelectorAll(".class-histogram[data-from]")) {
      const data = document.getElementById(el.dataset.from);
      if (data) render(el, JSON.parse(data.textContent));
    }
  });
})();
