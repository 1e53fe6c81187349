// A button or link with data-confirm="question" asks before it acts. This replaces inline
// onclick handlers, which the Content-Security-Policy does not allow to run.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
