"""Make the screenshots in docs/screens/ again: `bin/screens` (or `.venv/bin/python
docs/screens/make.py`).

Starts the whole application with its demo data in a throwaway folder (`manage.py rundemo`:
web server, worker cluster, emulated OCLC file exchange, on free ports), follows the guide's
Step 5 in Debian's Chromium at 1280 px (Run a Job, Bib OCLC Republish Set of Titles, the set,
the review with what will change in WorldCat, Submit, Monitor Jobs until the job completes),
then photographs the home page, a job page, a record page and Run now's confirmation. Nothing of
the application's own data folder is touched. Needs the dev extras (playwright) and Debian's
chromium; never downloads a browser.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
WIDTH, HEIGHT = 1280, 800


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own server on 127.0.0.1
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def shoot(page, name: str, *, full_page: bool = False) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


def walk(page) -> None:
    """Step 5 by the guide's labels, then the pages the README shows."""
    page.goto("/admin/")
    page.locator(".app-manage_jobs").get_by_role("link", name="Run a Job").click()
    page.get_by_label("Description").fill("Bib OCLC")
    page.get_by_label("Description").press("Enter")
    shoot(page, "run-a-job")
    page.get_by_label("Bib OCLC Republish Set of Titles").first.check()
    page.get_by_role("button", name="Next").click()
    page.locator("#set-list input[type=radio]").first.check()
    page.get_by_role("button", name="Next").click()
    page.locator("#preview").wait_for()
    shoot(page, "preview", full_page=True)
    page.get_by_role("button", name="Submit").click()
    row = page.locator("#monitor-jobs tbody tr").first
    for _ in range(120):  # the worker cluster runs the job
        if row.locator(".job-status").inner_text() in ("Completed successfully", "Failed"):
            break
        time.sleep(1)
        page.reload()
    shoot(page, "monitor-jobs")
    row.locator("td a").first.click()
    page.locator("#job-status").wait_for()
    shoot(page, "job")
    mms_id = page.locator("#job-outcomes tbody td").first.inner_text().strip()
    page.goto(f"/records/{mms_id}/")
    page.locator("#record-state").wait_for()
    shoot(page, "record")
    page.goto("/admin/")
    shoot(page, "home")
    page.goto("/admin/profiles/publishingprofile/")
    page.locator("#result_list tbody a").first.click()
    page.locator("#run-now").click()
    page.locator("#preview").wait_for()
    shoot(page, "run-now-confirmation", full_page=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    web, filex = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="alma-screens-") as tmp:
        env = {
            **os.environ,
            "DEBUG": "true",
            "DATA_DIR": f"{tmp}/var",
            "OCLC_FILEX_ROOT": f"{tmp}/filex",
            "OCLC_FILEX_PORT": str(filex),
            "DATABASE_URL": f"sqlite:///{tmp}/var/db.sqlite3",
            "Q_CLUSTER_NAME": f"screens-{web}",
        }
        Path(f"{tmp}/var").mkdir()
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "rundemo", "--port", str(web)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for(f"http://127.0.0.1:{web}/admin/login/")
            password = Path(f"{tmp}/var/demo_admin_password").read_text().strip()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                context = browser.new_context(
                    base_url=f"http://127.0.0.1:{web}",
                    viewport={"width": WIDTH, "height": HEIGHT},
                )
                context.set_default_timeout(30_000)
                page = context.new_page()
                page.goto("/admin/login/")
                page.fill("#id_username", "admin")
                page.fill("#id_password", password)
                page.click("input[type=submit]")
                page.wait_for_selector("#user-tools")
                walk(page)
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
