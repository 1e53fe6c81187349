"""Run the whole application on one machine: web server, worker cluster, emulated OCLC exchange.

This is what README command (1) runs. It migrates the database, makes sure an admin login exists
(and prints it), loads the demo set-up once, then starts and watches three processes:
`runserver`, `qcluster` (django-q2 workers and scheduler) and `oclc_filex` (the emulated OCLC
file exchange). If one of them dies the others are stopped and the command exits non-zero.

The exchange is the one process that strangers (file-exchange account holders) talk to, so it runs
without the application's keys: an empty data folder of its own and throwaway keys, which sign
and decrypt nothing, with only the database and its own root (OCLC_FILEX_ROOT) shared.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

# Demo set-up commands, run in this order when they exist; each is idempotent.
DEMO_STEPS = (
    "setup_roles",
    "load_demo_catalogue",
    "setup_demo_oclc",
    "setup_demo_publishing",
)


def exchange_environment(data_dir: str) -> dict[str, str]:
    """The emulated exchange's environment: the application's database and exchange root, none
    of its keys (the environment wins over .env, so the throwaway ones are what it reads)."""
    database = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        {
            "DATA_DIR": data_dir,
            "OCLC_FILEX_ROOT": str(settings.OCLC_FILEX_ROOT),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )
    if database["ENGINE"] == "django.db.backends.sqlite3":
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    return env


class Command(BaseCommand):
    help = "Run the web server, the worker cluster and the emulated OCLC file exchange together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web server port (8000)")
        parser.add_argument("--host", default="127.0.0.1", help="web server address (127.0.0.1)")
        parser.add_argument(
            "--no-demo", action="store_true", help="do not load the demo catalogue and OCLC set-up"
        )

    def handle(self, *args, port: int, host: str, no_demo: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        username, password = self._admin_login()
        available = get_commands()
        if not no_demo:
            for step in DEMO_STEPS:
                if step in available:
                    call_command(step)

        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "web": manage + ["runserver", f"{host}:{port}", "--noreload"],
            "workers": manage + ["qcluster"],
        }
        environments = {}
        exchange_data = tempfile.mkdtemp(prefix="alma-oclc-filex-")
        if "oclc_filex" in available:
            commands["oclc-filex"] = manage + ["oclc_filex"]
            environments["oclc-filex"] = exchange_environment(exchange_data)
        procs: dict[str, subprocess.Popen] = {}
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, start_new_session=True, env=environments.get(name))

        url = f"http://{host}:{port}/admin/"
        self.stdout.write(
            self.style.SUCCESS(
                "\nAlma publishing is running.\n"
                f"  Open:      {url}\n"
                f"  Log in as: {username} / {password}\n"
                f"  Database:  {settings.DATABASES['default']['NAME']}\n"
                "  Stop:      Ctrl-C\n"
            )
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} stopped (exit {proc.returncode}); stopping the rest")
                    exit_code = 1
                    stopping = True
            time.sleep(0.5)
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(exchange_data, ignore_errors=True)
        sys.exit(exit_code)

    def _admin_login(self) -> tuple[str, str]:
        """The demo administrator: created on first run; its password is kept in DATA_DIR."""
        User = get_user_model()
        password_file = settings.DATA_DIR / "demo_admin_password"
        if password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            password_file.write_text(password)
            password_file.chmod(0o600)
        user, _ = User.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.org"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        return user.username, password
