// Lesson pages: the "Run" button under each redis command block, and the lab checks.
//
// Run sends the block's commands (the button's data-command, one per line) to the
// learner's sandbox through the page's one SandboxSocket, starting the sandbox
// first if it does not run yet, and prints redis-cli-style replies under the
// block. /sandbox/session/ is asked first: it gives a guest a session token and
// says whether this server serves websockets at all; where it does not (the same
// site under a WSGI server), Run copies the commands to the clipboard instead.
//
// Lab steps (<section class="labs" data-lesson="slug">) are checked against the
// sandbox's real state with "Check my sandbox" and again after every Run.
(function () {
  "use strict";

  var socket = null;
  var state = null; // the sandbox's last state
  var identity = null; // whether this browser has an owner (signed in or guest token)
  var unavailable = false; // no websocket could ever be opened
  var waiters = []; // callbacks waiting for a running sandbox
  var labs = document.querySelector("section.labs[data-lesson]");

  function say(button, text) {
    var status = button.parentElement && button.parentElement.querySelector(".run-status");
    if (status) {
      status.textContent = text;
    }
  }

  // ----------------------------------------------------------------------------------
  // Clipboard fallback
  // ----------------------------------------------------------------------------------

  function copyWithSelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    area.remove();
    return copied;
  }

  function copyCommands(commands) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(commands).then(
        function () { return true; },
        function () { return copyWithSelection(commands); }
      );
    }
    return Promise.resolve(copyWithSelection(commands));
  }

  // ----------------------------------------------------------------------------------
  // The sandbox connection (opened on the first Run or check, or at once with labs)
  // ----------------------------------------------------------------------------------

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // Asks the server for this browser's sandbox identity (a guest gets a session
  // token) and whether it serves websockets at all; then opens the socket.
  function connect() {
    if (socket || unavailable) {
      return;
    }
    if (!window.SandboxSocket || !window.fetch) {
      unavailable = true;
      return;
    }
    socket = new window.SandboxSocket("/ws/sandbox/");
    socket.on("welcome", function (message) {
      identity = message.identity;
      state = message.sandbox;
      flush();
    });
    socket.on("state", function (message) {
      state = message.sandbox;
      flush();
    });
    socket.on("checks", showChecks);
    fetch("/sandbox/session/", {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin"
    }).then(function (response) {
      return response.ok ? response.json() : { websocket: false };
    }).then(function (answer) {
      if (answer.websocket) {
        socket.connect();
      } else {
        unavailable = true;
        flush();
      }
    }, function () {
      unavailable = true;
      flush();
    });
  }

  function running() {
    return state && state.state === "running";
  }

  function flush() {
    var ready = waiters;
    waiters = [];
    ready.forEach(function (waiter) {
      if (!waiter()) {
        waiters.push(waiter);
      }
    });
  }

  // Calls back(status) once the sandbox runs ("running"), or cannot ("unavailable",
  // "failed"); progress(text) tells the learner what is happening meanwhile.
  function whenRunning(back, progress) {
    var asked = false;
    connect();
    waiters.push(function () {
      if (unavailable) {
        back("unavailable");
        return true;
      }
      if (identity === null) {
        return false; // not welcomed yet
      }
      if (identity === false) {
        back("unavailable");
        return true;
      }
      if (running()) {
        back("running");
        return true;
      }
      if (state && state.state === "failed") {
        back("failed");
        return true;
      }
      if (!asked && !(state && (state.state === "queued" || state.state === "starting"))) {
        asked = true;
        socket.send({ type: "start" });
      }
      if (state && state.state === "queued") {
        progress("Waiting for a free sandbox slot: number " + (state.queue_position || "?") + " in the queue…");
      } else {
        progress("Starting your sandbox…");
      }
      return false;
    });
    flush();
  }

  // ----------------------------------------------------------------------------------
  // Run
  // ----------------------------------------------------------------------------------

  function outputFor(button) {
    var block = button.closest(".run-block");
    var output = block.querySelector("pre.run-output");
    if (!output) {
      output = document.createElement("pre");
      output.className = "run-output";
      output.setAttribute("role", "log");
      block.appendChild(output);
    }
    return output;
  }

  function runInSandbox(button, lines) {
    var output = outputFor(button);
    // A block may run on the cache cluster (its "# runs on: cache" note, quizzes/run_blocks.py).
    var cluster = button.getAttribute("data-cluster") || "durable";
    output.textContent = "";
    var chain = Promise.resolve();
    lines.forEach(function (line) {
      chain = chain.then(function () {
        return socket.command(cluster, line).then(function (reply) {
          output.textContent += cluster + "> " + line + "\n" +
            (reply.type === "error" ? "(refused) " + reply.message + "\n" : reply.text);
        });
      });
    });
    return chain.then(function () {
      say(button, "Ran " + lines.length + " command" + (lines.length === 1 ? "" : "s") + " in your " + cluster + " cluster.");
      checkLabs();
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.run-command");
    if (!button) {
      return;
    }
    var commands = button.getAttribute("data-command") || "";
    var lines = commands.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
    whenRunning(function (status) {
      if (status === "running") {
        runInSandbox(button, lines);
        return;
      }
      if (status === "failed") {
        say(button, "Your sandbox could not start: " + (state && state.error) + " Open the sandbox page to retry.");
        return;
      }
      copyCommands(commands).then(function (copied) {
        say(
          button,
          copied
            ? "Copied " + lines.length + " command" + (lines.length === 1 ? "" : "s") +
              " to the clipboard: paste into redis-cli. The sandbox is not reachable from this page."
            : "Could not reach the clipboard: select the commands above and copy them."
        );
      });
    }, function (text) { say(button, text); });
  });

  // ----------------------------------------------------------------------------------
  // Lab checks
  // ----------------------------------------------------------------------------------

  function checkLabs() {
    if (!labs || !socket || !running()) {
      return;
    }
    socket.send({ type: "check", lesson: labs.getAttribute("data-lesson") });
  }

  function showChecks(message) {
    if (!labs || message.lesson !== labs.getAttribute("data-lesson")) {
      return;
    }
    message.results.forEach(function (result) {
      var item = document.getElementById("lab-" + result.id);
      if (!item) {
        return;
      }
      item.classList.toggle("lab-passed", result.passed);
      item.classList.toggle("lab-failed", !result.passed);
      item.setAttribute("data-passed", result.passed ? "true" : "false");
      var line = item.querySelector(".lab-result");
      if (line) {
        line.textContent = (result.passed ? "Done: " : "Not yet: ") + result.detail;
      }
      var hint = item.querySelector("details");
      if (hint && !result.passed) {
        hint.open = true;
      }
    });
  }

  if (labs) {
    var checkButton = labs.querySelector("button.check-labs");
    if (checkButton) {
      checkButton.addEventListener("click", function () {
        var status = labs.querySelector(".labs-status");
        whenRunning(function (result) {
          if (result === "running") {
            status.textContent = "";
            checkLabs();
          } else {
            status.textContent = "Your sandbox is not reachable from this page; open the sandbox page.";
          }
        }, function (text) { status.textContent = text; });
      });
    }
  }
})();
