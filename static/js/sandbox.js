// The sandbox page: console, topology, journal lane, write load, faults, verdict,
// charts and events, all fed by one SandboxSocket (static/js/sandbox_socket.js).
//
// The page keeps no state the server does not also have: on every (re)connect the
// welcome message carries the sandbox's state, topology, load and last verdict,
// and the events missed meanwhile follow it.
(function () {
  "use strict";

  var root = document.getElementById("sandbox");
  if (!root || !window.SandboxSocket) {
    return;
  }
  var socket = new window.SandboxSocket(root.getAttribute("data-socket"));
  var $ = function (id) { return document.getElementById(id); };
  // Every lane there can be, in the page's order; the middle one runs only when the
  // learner switched it on (shape.async_lane), and its rows are hidden otherwise.
  var CLUSTERS = ["durable", "async", "cache"];
  var JOURNALED = { durable: true, async: true };
  var ZONES = ["az-a", "az-b", "az-c"];
  var MAX_EVENTS = 200;
  var sandbox = null; // the last state the server sent
  var topology = {}; // cluster -> supervisor topology
  var stats = {}; // cluster -> last statistics
  var docs = null;
  var loadRunning = false;
  var pendingFault = null;
  var askedToStart = false;
  var userPending = false; // a create_user sent, its answer not back yet

  // ----------------------------------------------------------------------------------
  // Small DOM helpers (textContent only: nothing from the server becomes markup)
  // ----------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function ms(value) {
    return value === null || value === undefined ? "–" : value + " ms";
  }

  // ----------------------------------------------------------------------------------
  // State
  // ----------------------------------------------------------------------------------

  function shapeFromForm() {
    var form = $("shape-form");
    return {
      shards: parseInt(form.elements.shards.value, 10),
      replicas: parseInt(form.elements.replicas.value, 10),
      delay_ms: parseInt(form.elements.delay_ms.value, 10),
      async_lane: form.elements.async_lane.checked
    };
  }

  function asyncLaneOn() {
    return !!(sandbox && sandbox.shape && sandbox.shape.async_lane);
  }

  function showLanes() {
    var on = asyncLaneOn();
    document.querySelectorAll("[data-lane=async]").forEach(function (node) { node.hidden = !on; });
    root.setAttribute("data-async-lane", on ? "on" : "off");
  }

  function showState(state) {
    sandbox = state;
    var text;
    if (!state) {
      text = "No sandbox yet.";
    } else if (state.state === "queued") {
      text = "Waiting for a free slot: you are number " + (state.queue_position || "?") +
        " in the queue. Your sandbox starts as soon as one frees up.";
    } else if (state.state === "starting") {
      text = "Starting your clusters…";
    } else if (state.state === "running") {
      var shape = state.shape;
      text = "Running: " + shape.shards + " shard" + (shape.shards === 1 ? "" : "s") + ", " +
        shape.replicas + " replica" + (shape.replicas === 1 ? "" : "s") + " per shard, cache replication delay " +
        shape.replication_delay_ms + " ms" + (shape.async_lane ? "; the third lane (async writes) runs too." : ".");
      $("delay-text").textContent = shape.replication_delay_ms;
      $("shape-form").elements.async_lane.checked = !!shape.async_lane;
    } else if (state.state === "parked") {
      // The server resumes it as soon as this page (or any message) asks for it.
      text = "Parked while no page showed it: its processes are stopped and its data is kept. " +
        "It resumes now that you are back (the cache lane from a snapshot taken at parking, " +
        "which a real cache would not have).";
    } else if (state.state === "failed") {
      text = "Your sandbox could not start: " + state.error;
    } else {
      text = "Stopped." + (state.error ? " " + state.error : "");
    }
    $("sandbox-state").textContent = text;
    root.setAttribute("data-state", state ? state.state : "none");
    showLanes();
    if (state && state.topology) {
      topology = state.topology;
      drawTopology();
    }
    if (state && state.load) {
      showLoad(state.load);
    }
    if (state && state.verdict) {
      showVerdict(state.verdict);
    }
    if (state && state.state === "running" && !docs) {
      socket.send({ type: "docs" });
    }
  }

  socket.on("welcome", function (message) {
    if (!message.identity) {
      $("sandbox-state").textContent = "This browser has no session yet: reload the page.";
      return;
    }
    if (message.reset) {
      clear($("events"));
    }
    showState(message.sandbox);
    var active = message.sandbox && ["queued", "starting", "running"].indexOf(message.sandbox.state) >= 0;
    if (!active && !askedToStart) {
      // Opening this page is asking for a sandbox.
      askedToStart = true;
      socket.send(Object.assign({ type: "start" }, shapeFromForm()));
    }
  });

  socket.on("state", function (message) { showState(message.sandbox); });
  socket.on("closed", function () {
    $("sandbox-state").textContent = "Connection lost; reconnecting… (your sandbox keeps running)";
  });

  $("shape-form").addEventListener("submit", function (event) {
    event.preventDefault();
    socket.send(Object.assign({ type: "reconfigure" }, shapeFromForm()));
  });

  $("stop-sandbox").addEventListener("click", function () {
    socket.send({ type: "stop" });
  });

  // ----------------------------------------------------------------------------------
  // Console
  // ----------------------------------------------------------------------------------

  var output = $("console-output");
  var input = $("console-input");
  var history = JSON.parse(localStorage.getItem("sandbox.history") || "[]");
  var historyIndex = history.length;

  function consoleCluster() {
    var checked = document.querySelector("input[name=console-cluster]:checked");
    return checked ? checked.value : "durable";
  }

  function print(text, className) {
    output.appendChild(el("span", className, text));
    output.scrollTop = output.scrollHeight;
  }

  document.querySelectorAll("input[name=console-cluster]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      $("console-prompt").textContent = consoleCluster() + ">";
      input.focus();
    });
  });

  function runLine(line) {
    var cluster = consoleCluster();
    print(cluster + "> " + line + "\n", "console-echo");
    history.push(line);
    history = history.slice(-200);
    historyIndex = history.length;
    localStorage.setItem("sandbox.history", JSON.stringify(history));
    return socket.command(cluster, line).then(function (reply) {
      if (reply.type === "error") {
        print("(refused) " + reply.message + "\n", "console-error");
      } else {
        print(reply.text, reply.error ? "console-error" : "console-reply");
      }
      return reply;
    });
  }

  $("console-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var line = input.value.trim();
    if (!line) {
      return;
    }
    input.value = "";
    showHelp("");
    runLine(line);
  });

  function commandNames() {
    return docs ? Object.keys(docs) : [];
  }

  function matchDoc(line) {
    if (!docs) {
      return null;
    }
    var words = line.trim().split(/\s+/);
    var two = (words[0] + " " + (words[1] || "")).toUpperCase();
    if (words.length > 1 && docs[two]) {
      return { name: two, doc: docs[two] };
    }
    var one = words[0].toUpperCase();
    return docs[one] ? { name: one, doc: docs[one] } : null;
  }

  function showHelp(line) {
    var help = $("console-help");
    var found = line ? matchDoc(line) : null;
    if (!found) {
      help.textContent = "Type a command (↑/↓ for history, Tab to complete).";
      return;
    }
    help.textContent = found.name + " " + found.doc.syntax + " — " + found.doc.summary +
      (found.doc.since ? " (since " + found.doc.since + ")" : "");
  }

  input.addEventListener("input", function () { showHelp(input.value); });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowUp" && historyIndex > 0) {
      historyIndex -= 1;
      input.value = history[historyIndex];
      event.preventDefault();
    } else if (event.key === "ArrowDown") {
      historyIndex = Math.min(history.length, historyIndex + 1);
      input.value = history[historyIndex] || "";
      event.preventDefault();
    } else if (event.key === "Tab" && input.value.trim() && input.value.indexOf(" ") < 0) {
      var prefix = input.value.trim().toUpperCase();
      var matches = commandNames().filter(function (name) {
        return name.indexOf(prefix) === 0 && name.indexOf(" ") < 0;
      });
      if (matches.length) {
        event.preventDefault();
        input.value = matches.length === 1 ? matches[0] + " " : commonPrefix(matches);
        showHelp(input.value);
        if (matches.length > 1) {
          $("console-help").textContent = matches.slice(0, 12).join("  ") + (matches.length > 12 ? " …" : "");
        }
      }
    }
  });

  function commonPrefix(words) {
    var first = words[0];
    var length = first.length;
    words.forEach(function (word) {
      while (word.slice(0, length) !== first.slice(0, length)) {
        length -= 1;
      }
    });
    return first.slice(0, length);
  }

  socket.on("docs", function (message) {
    docs = message.commands;
    var list = $("command-names");
    clear(list);
    Object.keys(docs).forEach(function (name) {
      var option = el("option");
      option.value = name;
      list.appendChild(option);
    });
  });

  socket.on("error", function (message) {
    if (message.id) {
      return; // a console command's refusal: printed by runLine
    }
    if (userPending) { // the users form's refusal: shown beside it
      userPending = false;
      $("user-status").textContent = message.message;
      return;
    }
    $("fault-status").textContent = message.message;
  });

  // ----------------------------------------------------------------------------------
  // Users: an access string on the durable cluster (the site makes the password)
  // ----------------------------------------------------------------------------------

  $("user-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = $("user-form");
    userPending = true;
    $("user-status").textContent = "Creating " + form.elements.name.value + "…";
    socket.send({ type: "create_user", name: form.elements.name.value, access: form.elements.access.value });
  });

  socket.on("user", function (message) {
    userPending = false;
    $("user-status").textContent = "Created " + message.name + " on " + message.nodes + " node" +
      (message.nodes === 1 ? "" : "s") + (message.pending ? " (" + message.pending + " more when they start)" : "") +
      ": " + message.access;
    var list = $("user-list");
    clear(list);
    message.users.forEach(function (name) { list.appendChild(el("li", null, name)); });
  });

  // ----------------------------------------------------------------------------------
  // Topology: zones as columns, shards as rows (and the journal, in durable mode)
  // ----------------------------------------------------------------------------------

  function nodeCard(proc, cluster) {
    var card = el("div", "node node-" + proc.status + " role-" + proc.role);
    card.setAttribute("data-node", proc.id);
    card.setAttribute("data-role", proc.role);
    card.setAttribute("data-status", proc.status);
    var title = proc.kind === "journal" ? "journal" : proc.role;
    card.appendChild(el("strong", null, title));
    card.appendChild(el("span", "node-status", proc.status));
    var info = (stats[cluster] || {});
    var extra = "";
    if (proc.kind === "journal") {
      var journal = info.journals && info.journals[proc.zone];
      if (journal) {
        extra = journal.role + ", commit " + journal.commit;
      }
    } else {
      var node = info.nodes && info.nodes[proc.id];
      if (node) {
        extra = JOURNALED[cluster]
          ? "applied " + node.position + (node.lag_entries ? ", lag " + node.lag_entries + " (" + node.lag_ms + " ms)" : "")
          : "offset " + node.position;
      }
    }
    card.appendChild(el("span", "node-extra", extra));
    card.title = proc.id;
    return card;
  }

  function drawTopology() {
    var container = $("topology");
    clear(container);
    CLUSTERS.forEach(function (cluster) {
      var topo = topology[cluster];
      if (!topo) {
        return;
      }
      var table = el("table", "topology-table");
      table.setAttribute("data-cluster", cluster);
      table.appendChild(el("caption", null, cluster + " cluster (epoch " + topo.epoch + ")"));
      var head = el("tr");
      head.appendChild(el("th", null, ""));
      ZONES.forEach(function (zone) { head.appendChild(el("th", null, zone)); });
      var thead = el("thead");
      thead.appendChild(head);
      table.appendChild(thead);
      var body = el("tbody");
      var rows = [];
      if (topo.processes.some(function (p) { return p.kind === "journal"; })) {
        rows.push({ label: "journal", match: function (p) { return p.kind === "journal"; } });
      }
      for (var shard = 0; shard < topo.shards; shard += 1) {
        (function (s) {
          rows.push({ label: "shard " + s, match: function (p) { return p.kind === "data" && p.shard === s; } });
        })(shard);
      }
      rows.forEach(function (row) {
        var tr = el("tr");
        tr.appendChild(el("th", null, row.label));
        ZONES.forEach(function (zone) {
          var td = el("td");
          topo.processes.filter(function (p) { return p.zone === zone && row.match(p); }).forEach(function (p) {
            td.appendChild(nodeCard(p, cluster));
          });
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      table.appendChild(body);
      var wrap = el("div", "table-scroll");
      wrap.appendChild(table);
      container.appendChild(wrap);
    });
  }

  socket.on("topology", function (message) {
    topology = message.clusters;
    drawTopology();
  });

  // ----------------------------------------------------------------------------------
  // Statistics and the journal lane
  // ----------------------------------------------------------------------------------

  function laneRow(label, value, note, className) {
    var row = el("li", "lane-row" + (className ? " " + className : ""));
    row.appendChild(el("span", "lane-label", label));
    row.appendChild(el("span", "lane-value", value));
    row.appendChild(el("span", "lane-behind", note));
    return row;
  }

  function drawLane() {
    var container = $("lane");
    clear(container);
    CLUSTERS.forEach(function (cluster) {
      var lane = stats[cluster] && stats[cluster].lane;
      if (!lane) {
        return;
      }
      var block = el("div", "lane-cluster");
      block.setAttribute("data-cluster", cluster);
      block.appendChild(el("h3", null, cluster));
      var procs = topology[cluster] ? topology[cluster].processes : [];
      if (cluster === "async") {
        block.appendChild(bufferRows(stats[cluster].nodes || {}));
      }
      Object.keys(lane.shards).forEach(function (shard) {
        var info = lane.shards[shard];
        var list = el("ul", "lane-rows");
        var shardLabel = Object.keys(lane.shards).length > 1 ? "shard " + shard + ": " : "";
        list.appendChild(laneRow(
          shardLabel + (cluster === "durable" ? "acknowledged = committed" : "acknowledged (primary)"),
          info.acknowledged >= 0 ? "write #" + info.acknowledged : "–", ""));
        Object.keys(info.replicas).forEach(function (node) {
          var replica = info.replicas[node];
          var proc = procs.filter(function (p) { return p.id === node; })[0];
          var missing = replica.missing;
          var note = missing === null ? "" : missing > 0
            ? missing + (cluster === "durable" ? " not applied yet (safe in the journal)"
              : cluster === "async" ? " not applied yet (in the journal, or in the buffer at risk)" : " acknowledged writes at risk")
            : "up to date";
          list.appendChild(laneRow(
            shardLabel + "replica " + (proc ? proc.zone : node.slice(0, 6)) + " applied",
            replica.applied >= 0 ? "write #" + replica.applied : "–", note,
            missing > 0 && cluster === "cache" ? "at-risk" : ""));
        });
        block.appendChild(list);
      });
      container.appendChild(block);
    });
  }

  // The async primary's durability buffer: how old its oldest write not yet in the
  // journal is, how many wait, and the limit past which it refuses writes.
  function bufferRows(nodes) {
    var list = el("ul", "lane-rows buffer-rows");
    Object.keys(nodes).forEach(function (id) {
      var buffer = nodes[id].buffer;
      if (!buffer) {
        return;
      }
      var full = buffer.limit_ms > 0 && buffer.age_ms >= buffer.limit_ms;
      var row = laneRow(
        (Object.keys(nodes).length > 2 ? "shard " + nodes[id].shard + ": " : "") + "durability buffer",
        buffer.age_ms + " ms old", buffer.writes + " acknowledged writes not in the journal yet" +
          (full ? " — over the " + buffer.limit_ms + " ms limit: writes are refused" : " (limit " + buffer.limit_ms + " ms)"),
        full ? "at-risk buffer-full" : (buffer.writes > 0 ? "buffer-waiting" : ""));
      row.setAttribute("data-buffer-age", buffer.age_ms);
      row.setAttribute("data-buffer-writes", buffer.writes);
      list.appendChild(row);
    });
    return list;
  }

  socket.on("stats", function (message) {
    stats = message.clusters;
    drawTopology();
    drawLane();
    if (message.load) {
      showLoad(message.load);
    }
  });

  // ----------------------------------------------------------------------------------
  // Write load
  // ----------------------------------------------------------------------------------

  function showLoad(load) {
    loadRunning = load.running;
    $("load-start").disabled = load.running;
    $("load-stop").disabled = !load.running;
    CLUSTERS.forEach(function (cluster) {
      var row = document.querySelector("#load-body tr[data-cluster=" + cluster + "]");
      var figures = load.clusters[cluster];
      if (!row || !figures) {
        return;
      }
      var cells = row.querySelectorAll("td");
      cells[0].textContent = figures.acknowledged;
      cells[1].textContent = figures.errors;
      cells[2].textContent = figures.rejected || 0;
      cells[3].textContent = ms(figures.p50_ms);
      cells[4].textContent = ms(figures.p99_ms);
    });
  }

  socket.on("load", function (message) { showLoad(message.load); });

  $("load-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    socket.send({
      type: "load_start",
      rate: parseInt(form.elements.rate.value, 10),
      mix: {
        set: parseInt(form.elements.set.value, 10) || 0,
        incr: parseInt(form.elements.incr.value, 10) || 0,
        zadd: parseInt(form.elements.zadd.value, 10) || 0,
        xadd: parseInt(form.elements.xadd.value, 10) || 0
      }
    });
  });

  $("load-stop").addEventListener("click", function () { socket.send({ type: "load_stop" }); });

  // ----------------------------------------------------------------------------------
  // Faults (with the prediction prompt before a crash under load)
  // ----------------------------------------------------------------------------------

  function faultMessage(action) {
    var form = $("fault-form");
    var message = { type: "fault", action: action, target: form.elements.target.value,
                    shard: parseInt(form.elements.shard.value, 10) };
    if (action === "kill_zone" || action === "kill_journal") {
      message.zone = form.elements.zone.value;
    }
    if (action === "pause" || action === "slow_log") {
      message.seconds = parseInt(form.elements.seconds.value, 10);
    }
    if (action === "slow_log") {
      message.target = "async";
    }
    if (action === "kill_journal") {
      message.target = "durable";
    }
    return message;
  }

  function sendFault(message) {
    $("fault-status").textContent = "Injecting " + message.action.replace(/_/g, " ") + "…";
    socket.send(message);
  }

  document.querySelectorAll("[data-fault]").forEach(function (button) {
    button.addEventListener("click", function () {
      var message = faultMessage(button.getAttribute("data-fault"));
      var crash = message.action === "kill_primary" || message.action === "kill_zone";
      if (crash && loadRunning && message.target !== "durable") {
        pendingFault = message;
        $("prediction-async-field").hidden = !(asyncLaneOn() && (message.target === "both" || message.target === "async"));
        $("prediction-form").hidden = false;
        $("prediction").focus();
        return;
      }
      sendFault(message);
    });
  });

  $("prediction-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (pendingFault) {
      if (pendingFault.target !== "async") {
        pendingFault.prediction = parseInt($("prediction").value, 10) || 0;
      }
      if (!$("prediction-async-field").hidden) {
        pendingFault.prediction_async = parseInt($("prediction-async").value, 10) || 0;
      }
      sendFault(pendingFault);
    }
    pendingFault = null;
    $("prediction-form").hidden = true;
  });

  $("crash-without-prediction").addEventListener("click", function () {
    if (pendingFault) {
      sendFault(pendingFault);
    }
    pendingFault = null;
    $("prediction-form").hidden = true;
  });

  socket.on("fault", function (message) {
    var names = Object.keys(message.nodes).map(function (cluster) {
      return cluster + ": " + (message.nodes[cluster].length ? message.nodes[cluster].map(function (n) { return n.slice(0, 8); }).join(", ") : "nothing");
    });
    $("fault-status").textContent = message.action.replace(/_/g, " ") + " — " + names.join("; ") +
      (message.problems.length ? " (" + message.problems.join("; ") + ")" : "") +
      ((message.action === "kill_primary" || message.action === "kill_zone") ? ". Waiting for the failover…" : "");
  });

  // ----------------------------------------------------------------------------------
  // Verdict, charts, experiments
  // ----------------------------------------------------------------------------------

  function showVerdict(verdict) {
    var clusters = verdict.clusters;
    CLUSTERS.forEach(function (cluster) {
      var row = document.querySelector("#verdict-body tr[data-cluster=" + cluster + "]");
      var result = clusters[cluster];
      if (!row || !result) {
        return;
      }
      while (row.children.length > 1) {
        row.removeChild(row.lastChild);
      }
      var held = result.buffer_at_crash;
      [result.acknowledged, result.kept, result.lost, ms(result.failover_ms), ms(result.outage_ms),
        ms(result.loss_window_ms), held ? "≤ " + held.bound + " writes (" + held.age_ms + " ms old)" : "–"
      ].forEach(function (value, index) {
        var cell = el("td", index === 2 ? (result.lost ? "lost-some" : "lost-none") : null, value);
        row.appendChild(cell);
      });
      row.setAttribute("data-lost", result.lost);
      row.setAttribute("data-acknowledged", result.acknowledged);
      if (held) {
        row.setAttribute("data-buffer-bound", held.bound);
      }
    });
    var parts = CLUSTERS.filter(function (c) { return clusters[c]; }).map(function (c) {
      return c + " lost " + clusters[c].lost + " of " + clusters[c].acknowledged;
    });
    var summary = parts.join("; ") + " acknowledged writes.";
    summary = summary.charAt(0).toUpperCase() + summary.slice(1);
    if (verdict.prediction !== null && verdict.prediction !== undefined) {
      summary += " You predicted " + verdict.prediction + ".";
    }
    if (verdict.prediction_async !== null && verdict.prediction_async !== undefined) {
      summary += " For async you predicted " + verdict.prediction_async + ".";
    }
    $("verdict-summary").textContent = summary;
    $("verdict-summary").className = "";
    var list = $("lost-list");
    clear(list);
    CLUSTERS.filter(function (c) { return clusters[c]; }).forEach(function (cluster) {
      (clusters[cluster].lost_keys || []).forEach(function (key) {
        list.appendChild(el("li", null, cluster + ": " + key));
      });
    });
    if (window.SandboxCharts) {
      window.SandboxCharts.drawAll(verdict.charts);
    }
  }

  socket.on("verdict", function (message) {
    showVerdict(message.verdict);
    $("fault-status").textContent = "Verdict ready.";
    addExperiment(message.verdict);
  });

  function addExperiment(verdict) {
    if (!verdict.experiment_id) {
      return;
    }
    var table = $("experiment-list");
    var empty = $("experiment-list-empty");
    if (empty) {
      empty.remove();
    }
    var row = el("tr");
    var link = el("a", null, "just now");
    link.href = "/sandbox/experiments/" + verdict.experiment_id + "/";
    var first = el("td");
    first.appendChild(link);
    row.appendChild(first);
    var shape = verdict.shape;
    [verdict.fault + " (" + verdict.target + ")",
      shape.shards + " shards, " + shape.replicas + " replicas, " + shape.replication_delay_ms + " ms",
      verdict.load_rate ? verdict.load_rate + "/s" : "none",
      verdict.prediction === null ? "–" : verdict.prediction,
      verdict.clusters.durable.lost + " of " + verdict.clusters.durable.acknowledged,
      verdict.clusters.async ? verdict.clusters.async.lost + " of " + verdict.clusters.async.acknowledged : "–",
      verdict.clusters.cache.lost + " of " + verdict.clusters.cache.acknowledged].forEach(function (text) {
      row.appendChild(el("td", null, text));
    });
    table.querySelector("tbody").insertBefore(row, table.querySelector("tbody").firstChild);
  }

  // ----------------------------------------------------------------------------------
  // Events
  // ----------------------------------------------------------------------------------

  function describe(event) {
    var parts = [];
    if (event.cluster) {
      parts.push(event.cluster);
    }
    parts.push(event.event.replace(/_/g, " "));
    if (event.node) {
      // Data nodes have 40-hex ids (shortened); journals and the snapshotter have names.
      var node = String(event.node);
      if (/^[0-9a-f]{40}$/.test(node)) {
        node = node.slice(0, 8);
      }
      parts.push(node + (event.zone ? " (" + event.zone + ")" : ""));
    }
    if (event.term !== undefined) {
      parts.push("term " + event.term);
    }
    if (event.shard !== undefined && event.shard !== null && !event.node) {
      parts.push("shard " + event.shard);
    }
    if (event.duration_ms !== undefined) {
      parts.push("in " + event.duration_ms + " ms");
    }
    if (event.durable_lost !== undefined) {
      parts.push(CLUSTERS.filter(function (c) { return event[c + "_lost"] !== undefined; }).map(function (c) {
        return c + " lost " + event[c + "_lost"];
      }).join(", "));
    }
    if (event.error) {
      parts.push(event.error);
    }
    if (event.reason) {
      parts.push(event.reason);
    }
    return parts.join(" · ");
  }

  socket.on("event", function (event) {
    var list = $("events");
    var item = el("li", "event event-" + event.event);
    item.setAttribute("data-seq", event.seq);
    var time = new Date(event.ts);
    item.appendChild(el("time", null, time.toLocaleTimeString()));
    item.appendChild(document.createTextNode(" #" + event.seq + " " + describe(event)));
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_EVENTS) {
      list.removeChild(list.lastChild);
    }
  });

  socket.connect();
  window.sandboxPage = { socket: socket, runLine: runLine };
})();
