// Reconciliation page: while the run is queued or running, poll its progress every 2 s; reload
// once it has finished so its figures and differences appear.
(function () {
  "use strict";
  function poll(root) {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var status = document.getElementById("run-status");
        if (status) status.textContent = data.status_word;
        var text = document.getElementById("run-progress-text");
        if (text) text.textContent = data.done + (data.total !== null ? " of " + data.total : "") + " ledger records checked";
        var bar = document.getElementById("run-progress");
        if (bar) bar.value = data.percent || 0;
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(function () { poll(root); }, 2000);
        }
      })
      .catch(function () {
        window.setTimeout(function () { poll(root); }, 2000);
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector(".reconcile-run[data-progress-url]");
    if (root && root.dataset.finished !== "1") {
      window.setTimeout(function () { poll(root); }, 2000);
    }
  });
})();
