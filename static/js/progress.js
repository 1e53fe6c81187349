// A page of a job that is queued or running (its root element carries data-progress-url and
// data-finished="0"): poll the progress URL every 2 s, hand each answer to the page's own
// `show(data)`, and reload the page once the job has finished so its results appear.
(function () {
  "use strict";
  var EVERY_MS = 2000;
  function poll(root, show) {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(function () { poll(root, show); }, EVERY_MS);
        }
      })
      .catch(function () {
        window.setTimeout(function () { poll(root, show); }, EVERY_MS);
      });
  }
  window.almaFollowProgress = function (selector, show) {
    document.addEventListener("DOMContentLoaded", function () {
      var root = document.querySelector(selector + "[data-progress-url]");
      if (root && root.dataset.finished !== "1") {
        window.setTimeout(function () { poll(root, show); }, EVERY_MS);
      }
    });
  };
  // Shared by the pages' `show`: set an element's text when the page has it.
  window.almaSetText = function (id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  };
})();
