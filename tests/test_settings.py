"""Settings are strict: production without secrets does not start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOW_HTTPS_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.SECURE_HSTS_SECONDS, settings.SECURE_SSL_REDIRECT)"
)


def _check(env_overrides: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path)})
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_a_missing_secret_key_with_debug_off_is_a_startup_error(tmp_path):
    result = _check({"DEBUG": "false"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_generates_a_development_secret_key_into_the_data_dir(tmp_path):
    result = _check({"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "secret_key").read_text()) > 40


def test_an_empty_folder_variable_means_its_default_never_the_working_directory(tmp_path):
    # .env.example lists these empty; compose's env_file and systemd pass them on exactly so.
    folders = ["PUBLISH_DIR", "UPLOAD_DIR", "STATIC_ROOT", "OCLC_FILEX_ROOT"]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="true")
    env.update(dict.fromkeys(folders, ""), DATA_DIR=str(tmp_path))
    show = "import django; django.setup(); from django.conf import settings as s; "
    show += "; ".join(f"print(s.{name})" for name in folders)
    shown = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        *(str(tmp_path / name) for name in ("published", "uploads", "static")),
        # The exchange keeps its files in a folder of its own, outside DATA_DIR.
        str(ROOT / "var-oclc-filex"),
    ]


def test_a_bad_encryption_key_is_refused(tmp_path):
    result = _check(
        {"DEBUG": "false", "SECRET_KEY": "x" * 50, "FIELD_ENCRYPTION_KEYS": "not-a-key"}, tmp_path
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_the_q_cluster_never_hands_a_running_task_out_twice():
    from django.conf import settings

    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
    assert settings.Q_CLUSTER["catch_up"] is False


def _production_env(tmp_path) -> dict[str, str]:
    # The test run itself relaxes HTTPS settings (tests/settings.py); production must not.
    dropped = {"DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith("SECURE_") and not k.endswith("_COOKIE_SECURE")
    }
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "a-long-random-production-key-" + "k3Y9" * 10,
            "FIELD_ENCRYPTION_KEYS": "x8m4M3b1Yw2v3dXbrcW9q1pQnqkzq6m0Jt0zSGqzv2U=",
            "DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    return env


def test_production_hsts_lasts_at_least_a_year(tmp_path):
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW_HTTPS_SETTINGS],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    hsts, redirect = shown.stdout.splitlines()[-1].split()
    assert int(hsts) >= 365 * 24 * 3600 and redirect == "True"


def test_the_production_settings_pass_djangos_deployment_checks(tmp_path):
    env = _production_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
