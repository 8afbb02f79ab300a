// A saved experiment's page: redraws its charts from the JSON block the server
// rendered (#experiment-charts), with the same code as the live sandbox page.
(function () {
  "use strict";

  var source = document.getElementById("experiment-charts");
  if (!source || !window.SandboxCharts) {
    return;
  }
  window.SandboxCharts.drawAll(JSON.parse(source.textContent));
})();
