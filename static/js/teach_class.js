// The class page: copy the join code or link to the clipboard.
"use strict";

(function () {
  const status = document.querySelector(".copy-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyTarget);
      if (!source) return;
      const text = source.textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        say(`Copied: ${text}`);
      } catch (error) {
        // No clipboard permission (or not a secure context): select the text so
        // the instructor can copy it with the keyboard.
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say("Selected: press Ctrl+C (or ⌘C) to copy.");
      }
    });
  });
})();
