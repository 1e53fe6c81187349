"""Fixtures for running the application as it is deployed: separate processes with the
production settings (config.settings, DEBUG off, HTTPS defaults), on the test database."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.profiles.conftest import make_profile, profile, sftp_connection  # noqa: F401
from tests.servers import free_port

BASE_DIR = Path(settings.BASE_DIR)
UNITS = BASE_DIR / "deploy" / "systemd"
# Where the systemd units expect the checkout (README "Deploying without containers").
INSTALL_DIR = "/opt/alma-publishing"


def unit_commands(unit: str) -> list[list[str]]:
    """The ExecStart command lines of a unit in deploy/systemd, for this checkout instead of
    INSTALL_DIR: the tests run exactly what systemd would run."""
    commands = []
    for line in (UNITS / unit).read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart="))
            commands.append([arg.replace(INSTALL_DIR, str(BASE_DIR)) for arg in argv])
    return commands


def database_url() -> str:
    """The database this test uses (pytest-django's test database), as a DATABASE_URL."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def production_env(transactional_db, tmp_path) -> dict[str, str]:
    """The environment of a production process: only what an administrator's .env would set.

    Nothing is inherited from the test run's settings (tests/settings.py turns the HTTPS
    redirect and Secure cookies off; production keeps them on). The encryption key is the
    suite's, so secrets the test stores are readable by the processes it starts.
    """
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "production-smoke-test-" + "k" * 40,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "TIME_ZONE": settings.TIME_ZONE,
    }


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in its own process; stdout and stderr kept apart."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Service:
    """A server process started by a test, in its own process group, stopped by its id."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=BASE_DIR,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_port(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"{self.name} did not listen on {port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Every service a test starts is stopped afterwards, last started first."""
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()


def run_setup_unit(env: dict[str, str]) -> None:
    """What alma-publishing-setup.service runs: collectstatic, migrate, setup_roles."""
    for argv in unit_commands("alma-publishing-setup.service"):
        done = subprocess.run(argv, env=env, cwd=BASE_DIR, capture_output=True, text=True)
        assert done.returncode == 0, f"{argv}: {done.stderr}"


def start_gunicorn(services: list[Service], env: dict[str, str], log_dir: Path) -> str:
    """The web application as alma-publishing-web.service runs it (gunicorn.conf.py included),
    on a free port instead of 8000; returns its URL."""
    port = free_port()
    (argv,) = unit_commands("alma-publishing-web.service")
    service = Service(
        "gunicorn", [*argv, "--bind", f"127.0.0.1:{port}"], env, log_dir / "gunicorn.log"
    )
    services.append(service)
    service.wait_for_port(port)
    return f"http://127.0.0.1:{port}"


def start_caddy(services: list[Service], upstream: str, tmp_path: Path) -> str:
    """The repository's Caddyfile (the compose file's `proxy`) in front of `upstream`, with its
    own internal CA; returns the HTTPS URL."""
    if shutil.which("caddy") is None:
        pytest.skip("Caddy is not installed (bin/setup --dev installs it from Debian)")
    https_port, http_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        "SITE_ADDRESS": "localhost",
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(http_port),
        "UPSTREAM": upstream.removeprefix("http://"),
    }
    service = Service(
        "caddy",
        ["caddy", "run", "--adapter", "caddyfile", "--config", str(BASE_DIR / "deploy/Caddyfile")],
        env,
        tmp_path / "caddy.log",
    )
    services.append(service)
    service.wait_for_port(https_port)
    return f"https://localhost:{https_port}"
