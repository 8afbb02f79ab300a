// The presence socket of a learner in a class (templates/teach/_live_presence.html):
// says which page is open and sends a heartbeat, so the instructor's dashboard
// shows who is where; shows what the instructor sends the class: the "go to this
// page" banner, and during a class crash the prediction prompt and the class's
// anonymous histogram.
"use strict";

(function () {
  const banner = document.getElementById("class-banner");
  if (!banner || !window.WebSocket) return;
  const HEARTBEAT_MS = 20000;
  const runBox = document.getElementById("class-run");
  const prompt = document.getElementById("class-run-prompt");
  const runStatus = runBox.querySelector(".class-run-status");
  const histogram = runBox.querySelector(".class-histogram");
  let ws = null;
  let heartbeat = null;
  let retry = 1000;
  let promptRun = null;
  let countdown = null;

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function showNudge(message) {
    if (message.path === window.location.pathname) return; // already there
    const p = document.createElement("p");
    p.className = "nudge";
    p.dataset.path = message.path;
    p.append("Your instructor asks the class to open ");
    const a = document.createElement("a");
    a.href = message.path; // always a path of this site (checked by the server)
    a.textContent = message.title;
    p.append(a, ". ");
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "link-button nudge-dismiss";
    dismiss.textContent = "Dismiss";
    p.append(dismiss);
    banner.replaceChildren(p);
  }

  function showPrompt(message) {
    promptRun = message.run;
    runBox.hidden = false;
    prompt.hidden = false;
    runStatus.textContent = "Your instructor is about to crash every sandbox of the class, yours too.";
    let left = Math.round(message.seconds);
    const tick = prompt.querySelector(".class-run-countdown");
    clearInterval(countdown);
    tick.textContent = `${left} s left`;
    countdown = setInterval(() => {
      left -= 1;
      tick.textContent = left > 0 ? `${left} s left` : "";
      if (left <= 0) { clearInterval(countdown); prompt.hidden = true; }
    }, 1000);
    prompt.querySelector("input").focus();
  }

  function showRun(run) {
    runBox.hidden = false;
    if (run.state !== "predicting") prompt.hidden = true;
    runStatus.textContent = window.classHistogram.status(run);
    window.classHistogram.render(histogram, run);
  }

  const handlers = {
    nudge: showNudge,
    class_run_prompt: showPrompt,
    class_run: (m) => showRun(m.run),
    prediction_saved: (m) => {
      prompt.hidden = true;
      runStatus.textContent = `Your prediction: ${m.value} writes lost by the cache. Watch the histogram.`;
    },
    error: (m) => { runStatus.textContent = m.message || m.code; },
    pong: () => {},
  };

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + window.location.host + banner.dataset.socket);
    ws.addEventListener("open", () => {
      retry = 1000;
      send({ type: "here", path: window.location.pathname });
      heartbeat = setInterval(() => send({ type: "ping" }), HEARTBEAT_MS);
    });
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const handler = handlers[message.type];
      if (handler) handler(message);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(heartbeat);
      // 4401/4403: not signed in or in no class any more; do not knock again.
      if (event.code === 4401 || event.code === 4403) return;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  prompt.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = parseInt(prompt.querySelector("input").value, 10);
    if (promptRun !== null && Number.isInteger(value) && value >= 0) send({ type: "predict", run: promptRun, value });
  });
  banner.addEventListener("click", (event) => {
    if (event.target.classList.contains("nudge-dismiss")) banner.replaceChildren();
  });
  connect();
})();
