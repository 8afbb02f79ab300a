// The live part of an instructor's class page (templates/teach/_live_dashboard.html):
// a websocket to /ws/teach/<class>/ that receives the class's summary at once and
// then at most twice a second; buttons for Prepare class, Crash everyone and Send
// the class to a page. Everything is drawn from the summary alone.
"use strict";

(function () {
  const root = document.getElementById("live");
  if (!root || !window.WebSocket) return;
  const statusLine = document.getElementById("live-status");
  const rosterBody = document.querySelector("#live-roster tbody");
  const itemsBody = document.querySelector("#live-items tbody");
  const progress = document.getElementById("prepare-progress");
  const runBox = document.getElementById("dashboard-run");
  const runStatus = runBox.querySelector(".class-run-status");
  const histogram = runBox.querySelector(".class-histogram");
  const nudgeForm = document.getElementById("nudge-form");
  const nudgeStatus = document.getElementById("nudge-status");
  let ws = null;
  let retry = 1000;
  let lastRun = null;

  function cell(row, text, header) {
    const el = document.createElement(header ? "th" : "td");
    if (header) el.scope = "row";
    el.textContent = text;
    row.append(el);
    return el;
  }

  function percent(share) {
    return share === null || share === undefined ? "—" : `${Math.round(100 * share)}%`;
  }

  function drawRoster(rows) {
    rosterBody.replaceChildren();
    for (const learner of rows) {
      const tr = document.createElement("tr");
      tr.dataset.user = learner.user_id;
      tr.dataset.present = learner.present ? "yes" : "no";
      tr.dataset.sandbox = learner.sandbox;
      cell(tr, learner.name, true);
      cell(tr, learner.present ? learner.page : "not on the site");
      cell(tr, learner.sandbox);
      const read = learner.modules.reduce((n, m) => n + m.lessons_read, 0);
      const total = learner.modules.reduce((n, m) => n + m.lessons_total, 0);
      cell(tr, `${read} of ${total}`).dataset.col = "lessons";
      const answered = learner.modules.reduce((n, m) => n + m.answered, 0);
      const right = learner.modules.reduce((n, m) => n + m.correct, 0);
      cell(tr, answered ? `${right} of ${answered}` : "—").dataset.col = "answers";
      cell(tr, String(learner.experiments)).dataset.col = "experiments";
      rosterBody.append(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(tr, "Nobody has joined yet: share the join code.");
      td.colSpan = 6;
      rosterBody.append(tr);
    }
  }

  function drawItems(items) {
    itemsBody.replaceChildren();
    if (!items) return;
    const questions = Object.entries(items.questions || {});
    const hardest = new Map((items.hardest || []).map((q, i) => [q.slug, { ...q, rank: i }]));
    questions.sort((a, b) => (a[1].share_correct ?? 2) - (b[1].share_correct ?? 2) || a[0].localeCompare(b[0]));
    for (const [slug, stats] of questions) {
      const tr = document.createElement("tr");
      tr.dataset.question = slug;
      const info = hardest.get(slug);
      const th = cell(tr, "", true);
      if (info && info.url) {
        const a = document.createElement("a");
        a.href = info.url;
        a.textContent = info.prompt || slug;
        th.append(a);
      } else {
        th.textContent = slug;
      }
      cell(tr, String(stats.attempts)).dataset.col = "attempts";
      cell(tr, percent(stats.share_correct)).dataset.col = "share";
      itemsBody.append(tr);
    }
    if (!questions.length) {
      const tr = document.createElement("tr");
      cell(tr, "No answers yet.").colSpan = 3;
      itemsBody.append(tr);
    }
  }

  function drawRun(run) {
    runStatus.textContent = window.classHistogram.status(run);
    window.classHistogram.render(histogram, run);
    if (run && lastRun && lastRun.state !== "done" && run.state === "done") addRunLink(run);
    lastRun = run;
  }

  function addRunLink(run) {
    const list = document.getElementById("run-list");
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = root.dataset.runUrl.replace(/\/0\/$/, `/${run.id}/`);
    a.textContent = `Class crash just now — ${run.done} sandboxes`;
    li.append(a);
    list.prepend(li);
  }

  function drawSummary(summary) {
    root.dataset.updated = String(Date.now());
    document.getElementById("present-count").textContent = String(summary.present);
    document.getElementById("member-count").textContent = String(summary.roster.length);
    const boxes = summary.sandboxes;
    progress.textContent = `${boxes.ready} of ${boxes.total} ready` + (boxes.waiting ? `, ${boxes.waiting} starting or queued` : "");
    progress.dataset.ready = String(boxes.ready);
    progress.dataset.total = String(boxes.total);
    drawRoster(summary.roster);
    drawItems(summary.items);
    drawRun(summary.run);
  }

  const handlers = {
    summary: drawSummary,
    prepared: (m) => { statusLine.textContent = `Prepare class: ${m.queued} of ${m.total} sandboxes asked to start.`; },
    crash_started: (m) => { statusLine.textContent = "Crash everyone has started."; drawRun(m.run); },
    nudged: (m) => { nudgeStatus.textContent = `Sent: ${m.title}.`; },
    error: (m) => { statusLine.textContent = m.message || m.code; },
  };

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + window.location.host + root.dataset.socket);
    ws.addEventListener("open", () => { retry = 1000; statusLine.textContent = "Live."; root.dataset.live = "yes"; });
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const handler = handlers[message.type];
      if (handler) handler(message);
    });
    ws.addEventListener("close", (event) => {
      root.dataset.live = "no";
      if (event.code === 4403) { statusLine.textContent = "You do not teach this class."; return; }
      statusLine.textContent = "Reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  document.getElementById("prepare-class").addEventListener("click", () => send({ type: "prepare" }));
  document.getElementById("crash-everyone").addEventListener("click", () => send({ type: "crash" }));
  nudgeForm.addEventListener("submit", (event) => {
    // Without the socket the form posts as usual.
    if (send({ type: "nudge", target: nudgeForm.elements.target.value })) event.preventDefault();
  });
  connect();
})();
