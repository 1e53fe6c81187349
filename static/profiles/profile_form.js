// Profile form: show the hour only for a schedule, the weekday only for a weekly one.
(function () {
  "use strict";
  function update() {
    var select = document.getElementById("id_scheduling");
    if (!select) return;
    var hour = document.querySelector(".field-schedule_hour");
    var weekday = document.querySelector(".field-schedule_weekday");
    if (hour) hour.hidden = select.value === "none";
    if (weekday) weekday.hidden = select.value !== "weekly";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_scheduling");
    if (!select) return;
    select.addEventListener("change", update);
    update();
  });
})();
