// Reconciliation page: while the run is queued or running, its status and progress bar follow
// it (static/js/progress.js polls; the page reloads when the run has finished).
window.almaFollowProgress(".reconcile-run", function (data) {
  "use strict";
  window.almaSetText("run-status", data.status_word);
  window.almaSetText(
    "run-progress-text",
    data.done + (data.total !== null ? " of " + data.total : "") + " ledger records checked"
  );
  var bar = document.getElementById("run-progress");
  if (bar) bar.value = data.percent || 0;
});
