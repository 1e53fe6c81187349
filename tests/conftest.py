"""Shared fixtures: the database in use, a real sshd, a real browser, and personas.

- The database is whatever DATABASE_URL says (PostgreSQL in CI, SQLite by default); the header of
  every run names it.
- `sshd` is a throwaway OpenSSH server on a loopback port with a chrooted SFTP-only user that logs
  in with a password or with a key (see tests/servers.py).
- `page` is a Playwright page in Debian's /usr/bin/chromium, headless, against Django's live server.
- Under CI=true a skipped test fails the run: what a test needs must be installed, not skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.servers import SshdServer, SshdUnavailable, start_sshd

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SHARED_MARC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "marc"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_report_header(config):
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    return [f"database: {connection.vendor} ({db.get('NAME')} on {db.get('HOST') or 'local file'})"]


def pytest_collection_modifyitems(config, items):
    """On SQLite, PostgreSQL-only tests are deselected (a skip would fail the run under CI)."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if IN_CI and _skipped:
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} skipped test(s) count as failures: "
            + ", ".join(_skipped[:10]),
            red=True,
        )


# --- MARC test data ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_marc() -> Path:
    """../shared/data/marc: real MARC files, read in place (never copied into the repo)."""
    if not SHARED_MARC.is_dir():
        pytest.skip(f"shared MARC data not found at {SHARED_MARC}")
    return SHARED_MARC


# --- sshd -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sshd_server():
    try:
        server = start_sshd()
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.remove()


@pytest.fixture
def sshd(sshd_server: SshdServer) -> SshdServer:
    """A running sshd with empty remote folders; a test may stop or restart it."""
    if not sshd_server.is_running():
        sshd_server.write_config()
        sshd_server.start()
    sshd_server.reset_files()
    yield sshd_server
    if not sshd_server.is_running():
        sshd_server.write_config()
        sshd_server.start()


# --- browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, tmp_path):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def login(page, username: str, password: str) -> None:
    """Log in through the admin login form as a person would."""
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


# --- personas ---------------------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="sysadmin", email="sysadmin@example.org", password=PASSWORD
    )


@pytest.fixture
def publish_dir(settings, tmp_path):
    """Each test writes published files into its own folder."""
    settings.PUBLISH_DIR = tmp_path / "published"
    settings.PUBLISH_DIR.mkdir()
    yield settings.PUBLISH_DIR
    shutil.rmtree(settings.PUBLISH_DIR, ignore_errors=True)
