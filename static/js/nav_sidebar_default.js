// The admin's navigation sidebar starts closed, so lists and job pages have the whole width of a
// 1280 px window; the » button on the left opens it, and the browser remembers the choice.
// Runs before Django's nav_sidebar.js (which is deferred) reads the remembered state.
(function () {
  "use strict";
  var key = "django.admin.navSidebarIsOpen";
  try {
    if (window.localStorage.getItem(key) === null) {
      window.localStorage.setItem(key, "false");
    }
  } catch (e) { /* storage disabled: Django's default (open) applies */ }
})();
