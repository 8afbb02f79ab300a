// Lesson pages: the "Run" button under each redis command block.
//
// Until the sandbox page exists, Run copies the block's commands (the button's
// data-command) to the clipboard and says so in the status line next to it. The
// sandbox work replaces runCommands() with sending them to the learner's cluster;
// the markup stays: <button class="run-command" data-command="...">.
(function () {
  "use strict";

  function say(button, text) {
    var status = button.parentElement && button.parentElement.querySelector(".run-status");
    if (status) {
      status.textContent = text;
    }
  }

  // For pages served over plain http from another host, where the async clipboard
  // API is not available.
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

  function runCommands(commands) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(commands).then(
        function () { return true; },
        function () { return copyWithSelection(commands); }
      );
    }
    return Promise.resolve(copyWithSelection(commands));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.run-command");
    if (!button) {
      return;
    }
    var commands = button.getAttribute("data-command") || "";
    var count = commands.split("\n").filter(function (line) { return line.trim(); }).length;
    runCommands(commands).then(function (copied) {
      say(
        button,
        copied
          ? "Copied " + count + " command" + (count === 1 ? "" : "s") +
            " to the clipboard: paste into redis-cli. The sandbox console will run them here."
          : "Could not reach the clipboard: select the commands above and copy them."
      );
    });
  });
})();
