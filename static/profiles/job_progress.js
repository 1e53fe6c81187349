// Job detail: while the job is queued or running, its stage, duration, progress bar and counts
// follow the job (static/js/progress.js polls; the page reloads when the job has finished).
window.almaFollowProgress(".job-detail", function (data) {
  "use strict";
  var text = window.almaSetText;
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
});
