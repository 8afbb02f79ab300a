// The page's one websocket to the learner's sandbox, shared by the sandbox page and
// the lesson pages' Run buttons.
//
// * Reconnects after a drop with exponential backoff (0.5 s doubling to 10 s, with
//   jitter) and says hello with the last event number it saw and the log it came
//   from, so the server replays exactly what was missed (or says "reset").
// * Messages sent while disconnected wait in a short queue and go out after the
//   next welcome; requests with an id (console commands) resolve a promise with
//   their reply or error.
// * A ping every 25 s keeps proxies from closing an idle socket; the server does
//   not count it as the learner's activity.
(function () {
  "use strict";

  var KEEPALIVE_MS = 25000;
  var MAX_BACKOFF_MS = 10000;
  var TOO_MANY_SOCKETS = 4429; // sandbox.consumers.CLOSE_TOO_MANY
  var MAX_QUEUED = 50;

  function SandboxSocket(path) {
    this.path = path || "/ws/sandbox/";
    this.handlers = {};
    this.queue = [];
    this.pending = {};
    this.nextId = 1;
    this.backoff = 500;
    this.ws = null;
    this.welcomed = false;
    this.everOpened = false;
    this.failures = 0;
    // Kept for the page's lifetime only: a new page has drawn nothing yet and is
    // sent the recent events; a reconnect of this page asks for what it missed.
    this.log = null;
    this.seq = 0;
  }

  SandboxSocket.prototype.on = function (type, handler) {
    (this.handlers[type] = this.handlers[type] || []).push(handler);
    return this;
  };

  SandboxSocket.prototype.emit = function (type, message) {
    (this.handlers[type] || []).forEach(function (handler) { handler(message); });
    (this.handlers["*"] || []).forEach(function (handler) { handler(message); });
  };

  SandboxSocket.prototype.connect = function () {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + this.path);
    } catch (error) {
      this.scheduleReconnect();
      return this;
    }
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = function () {
      self.everOpened = true;
      self.failures = 0;
      self.backoff = 500;
      var hello = { type: "hello" };
      if (self.log) {
        hello.last_seq = self.seq;
        hello.log = self.log;
      }
      ws.send(JSON.stringify(hello));
      self.emit("open", {});
    };
    ws.onmessage = function (frame) {
      var message;
      try {
        message = JSON.parse(frame.data);
      } catch (error) {
        return;
      }
      self.receive(message);
    };
    ws.onclose = function (event) {
      self.ws = null;
      if (event && event.code === TOO_MANY_SOCKETS) {
        // The server said why (an "error" message); trying again at once cannot help.
        self.backoff = MAX_BACKOFF_MS * 3;
      }
      self.welcomed = false;
      // Commands in flight will never be answered on this connection.
      Object.keys(self.pending).forEach(function (id) {
        self.pending[id]({ type: "error", id: Number(id), code: "disconnected",
                           message: "The connection dropped before the reply; run it again." });
      });
      self.pending = {};
      self.failures += 1;
      self.emit("closed", { everOpened: self.everOpened, failures: self.failures });
      self.scheduleReconnect();
    };
    if (!this.keepalive) {
      this.keepalive = window.setInterval(function () {
        if (self.welcomed) {
          self.ws.send(JSON.stringify({ type: "ping" }));
        }
      }, KEEPALIVE_MS);
    }
    return this;
  };

  SandboxSocket.prototype.scheduleReconnect = function () {
    var self = this;
    var delay = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    window.setTimeout(function () { self.connect(); }, delay);
  };

  SandboxSocket.prototype.receive = function (message) {
    if (message.type === "welcome") {
      this.welcomed = true;
      if (message.log) {
        this.log = message.log;
      }
      if (message.reset || !message.log) {
        this.seq = 0;
      }
      this.emit("welcome", message);
      var queued = this.queue;
      this.queue = [];
      for (var i = 0; i < queued.length; i += 1) {
        this.ws.send(JSON.stringify(queued[i]));
      }
      return;
    }
    if (message.type === "state" && message.sandbox && message.sandbox.log) {
      this.log = message.sandbox.log;
    }
    if (message.type === "event" && typeof message.seq === "number") {
      this.seq = Math.max(this.seq, message.seq);
    }
    if ((message.type === "reply" || message.type === "error") && message.id && this.pending[message.id]) {
      var resolve = this.pending[message.id];
      delete this.pending[message.id];
      resolve(message);
    }
    this.emit(message.type, message);
  };

  SandboxSocket.prototype.send = function (message) {
    if (this.ws && this.welcomed && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
    } else if (this.queue.length < MAX_QUEUED) {
      this.queue.push(message);
    }
  };

  // A console command: resolves with its "reply" or "error" message.
  SandboxSocket.prototype.command = function (cluster, line) {
    var self = this;
    var id = this.nextId;
    this.nextId += 1;
    return new Promise(function (resolve) {
      self.pending[id] = resolve;
      self.send({ type: "command", cluster: cluster, line: line, id: id });
    });
  };

  window.SandboxSocket = SandboxSocket;
})();
