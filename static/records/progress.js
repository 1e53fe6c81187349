// Job page: poll the job's progress while it runs and reload the page once it has finished.
(function () {
  const page = document.querySelector(".job-page");
  if (!page || page.dataset.finished === "1") return;
  const url = page.dataset.progressUrl;
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if (data.finished) { window.location.reload(); return; }
        const bar = page.querySelector("progress.job-progress");
        if (bar) bar.value = data.percent;
        for (const key of ["imported", "updated", "failed", "changed", "unchanged"]) {
          const cell = document.getElementById("count-" + key);
          if (cell && key in data) cell.textContent = data[key];
        }
        const processed = document.getElementById("count-processed");
        if (processed && "processed" in data) processed.textContent = data.processed;
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(poll, 1500);
  }
  window.setTimeout(poll, 1000);
})();
