// Job detail: while the job is queued or running, poll its progress every 2 s; reload once it
// has finished so files and record outcomes appear.
(function () {
  "use strict";
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  function poll(root) {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        text("job-status", data.status_word);
        text("job-stage", data.stage_label);
        text("job-duration", data.duration || "—");
        text("job-progress-text", data.done + (data.total !== null ? " of " + data.total : "") + " records");
        var bar = document.getElementById("job-progress");
        if (bar) bar.value = data.percent || 0;
        Object.keys(data.counts).forEach(function (key) {
          var cell = document.querySelector('#job-counts [data-count="' + key + '"]');
          if (cell) cell.textContent = data.counts[key];
        });
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
    var root = document.querySelector(".job-detail[data-progress-url]");
    if (root && root.dataset.finished !== "1") {
      window.setTimeout(function () { poll(root); }, 2000);
    }
  });
})();
