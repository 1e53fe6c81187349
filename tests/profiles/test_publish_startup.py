"""A cron `manage.py publish` starts a process every run: what it imports before the job
starts is its cost every night (bench.publish measures it; python -X importtime shows it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("httpx2", "authlib", "profiles.worldcat.client", "config.urls")


def test_the_publish_command_starts_without_the_worldcat_api_client_or_the_url_conf():
    """Up to the profile's lookup (a profile that does not exist: the command stops there):
    no WorldCat API client, and no system checks, which import every URL and view."""
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('loaded:', [m for m in {HEAVY!r} if m in sys.modules]))\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', 'publish', 'no such profile'])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode != 0
    assert out.stdout.strip().splitlines()[-1] == "loaded: []", (out.stdout, out.stderr[-2000:])
