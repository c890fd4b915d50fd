// The run page, live: its numbers follow the run's server-sent events (GET /admin/runs/{id}/events), and
// when the run ends the page loads again to show its products. Without this script the page refreshes
// itself while the run is active (its <noscript> refresh). Served by the binary, under the admin pages' CSP.
"use strict";
(function () {
  var page = document.querySelector("[data-run-events]");
  if (!page || !window.EventSource) {
    return;
  }
  var source = new EventSource(page.getAttribute("data-run-events"));
  source.addEventListener("snapshot", function (event) {
    var live = JSON.parse(event.data);
    Object.keys(live.text).forEach(function (key) {
      var element = document.getElementById("run-" + key);
      if (element && element.textContent !== live.text[key]) {
        element.textContent = live.text[key];
      }
    });
    var bar = document.getElementById("run-progress");
    if (bar && live.percent !== null) {
      bar.value = live.percent;
    }
    if (!live.active) {
      source.close();
      window.location.reload();
    }
  });
})();
