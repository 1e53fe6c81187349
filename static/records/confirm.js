// A button or link with data-confirm="question" asks before it acts (no inline handlers, so the
// pages keep working under a Content-Security-Policy without 'unsafe-inline').
document.addEventListener("click", function (event) {
  "use strict";
  var target = event.target.closest ? event.target.closest("[data-confirm]") : null;
  if (target && !window.confirm(target.dataset.confirm)) {
    event.preventDefault();
  }
});
