"""The deployment files are judged by the tools that read them: docker-compose validates the compose
file against the Compose specification and resolves it (no container engine runs here, and none
is needed for that), systemd-analyze verifies the systemd units, Caddy adapts the Caddyfile.

What the resolved compose file must say: the order (database healthy, then the one-shot
migration, then web and worker), a health check on web, and a rehearsal OCLC exchange that shares
no volume and no secret with the application.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import BASE_DIR, INSTALL_DIR, UNITS

ALL_PROFILES = ["--profile", "tls", "--profile", "redis", "--profile", "rehearsal"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (bin/setup --dev installs it from Debian)")
    return path


@pytest.fixture
def compose_project(tmp_path) -> Path:
    """The compose file with .env made from .env.example, as an administrator starts."""
    shutil.copy(BASE_DIR / "docker-compose.yml", tmp_path)
    env = (BASE_DIR / ".env.example").read_text()
    env += "SECRET_KEY=the-application-secret-key-0123456789\n"
    env += "FIELD_ENCRYPTION_KEYS=x8m4M3b1Yw2v3dXbrcW9q1pQnqkzq6m0Jt0zSGqzv2U=\n"
    (tmp_path / ".env").write_text(env)
    return tmp_path


def compose_config(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("docker-compose"), *args, "config"],
        cwd=project,
        capture_output=True,
        text=True,
    )


def test_docker_compose_validates_and_resolves_the_compose_file(compose_project):
    checked = compose_config(compose_project, *ALL_PROFILES)
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert set(services) == {
        "db",
        "migrate",
        "web",
        "worker",
        "proxy",
        "redis",
        "rehearsal-setup",
        "oclc-exchange",
    }

    def waits_for(name: str) -> dict[str, str]:
        return {dep: v["condition"] for dep, v in services[name]["depends_on"].items()}

    assert waits_for("migrate") == {"db": "service_healthy"}
    assert waits_for("web") == {"migrate": "service_completed_successfully"}
    assert waits_for("worker") == {"migrate": "service_completed_successfully"}
    assert waits_for("proxy") == {"web": "service_healthy"}
    assert "migrate --noinput" in services["migrate"]["command"]
    assert "setup_roles" in services["migrate"]["command"]
    assert "restart" not in services["migrate"]  # a one-shot, not restarted
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    # gunicorn is reachable from this host only, unless the administrator opens it.
    (port,) = services["web"]["ports"]
    assert port == "127.0.0.1:8000:8000/tcp"


def test_the_containers_look_for_static_files_where_the_image_collected_them(compose_project):
    """.env (from .env.example) lists STATIC_ROOT empty, which means DATA_DIR/static, a volume
    with no files in it: the compose file must point the application at the image's folder."""
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    (collected,) = re.findall(r"\bSTATIC_ROOT=(\S+)", dockerfile)
    assert re.search(r"^RUN .*manage\.py collectstatic", dockerfile, re.MULTILINE)
    checked = compose_config(compose_project, *ALL_PROFILES)
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    for name in ("migrate", "web", "worker", "rehearsal-setup"):
        assert services[name]["environment"]["STATIC_ROOT"] == collected, name


def test_the_rehearsal_exchange_has_its_own_volume_and_none_of_the_applications_secrets(
    compose_project,
):
    checked = compose_config(compose_project, *ALL_PROFILES)
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]

    def volumes(name: str) -> set[str]:
        return {v.split(":")[0] for v in services[name].get("volumes", [])}

    assert volumes("oclc-exchange") == {"exchange"}
    assert "appdata" in volumes("web") and "appdata" in volumes("worker")
    assert "appdata" not in volumes("rehearsal-setup")
    exchange_env = services["oclc-exchange"]["environment"]
    app_env = services["web"]["environment"]
    assert exchange_env["SECRET_KEY"] != app_env["SECRET_KEY"]
    assert exchange_env["FIELD_ENCRYPTION_KEYS"] != app_env["FIELD_ENCRYPTION_KEYS"]
    assert app_env["SECRET_KEY"] not in json.dumps(exchange_env)
    assert exchange_env["DEBUG"] == "false"  # never writes development key files
    assert services["rehearsal-setup"]["environment"]["DEBUG"] == "false"
    assert services["rehearsal-setup"]["environment"]["OCLC_FILEX_HOST"] == "oclc-exchange"
    assert {"rehearsal-setup": "service_completed_successfully"} == {
        dep: v["condition"] for dep, v in services["oclc-exchange"]["depends_on"].items()
    }


def test_docker_compose_refuses_a_broken_compose_file(compose_project):
    """The validation can fail: a dependency condition the specification does not know."""
    path = compose_project / "docker-compose.yml"
    path.write_text(
        path.read_text().replace(
            "condition: service_completed_successfully", "condition: service_finished", 1
        )
    )
    checked = compose_config(compose_project)
    assert checked.returncode != 0
    assert "service_finished" in checked.stderr


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """Verified as installed in INSTALL_DIR (here: this checkout, so the commands exist)."""
    verify = _tool("systemd-analyze")
    (tmp_path / "env").write_text("DEBUG=false\n")
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(INSTALL_DIR, str(BASE_DIR))
        text = text.replace("/etc/alma-publishing/env", str(tmp_path / "env"))
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.glob("*.service"))
    assert len(units) == 3
    checked = subprocess.run(
        [verify, "verify", "--man=no", *units], cwd=tmp_path, capture_output=True, text=True
    )
    assert (checked.returncode, checked.stderr) == (0, "")


def test_caddy_reads_the_caddyfile_with_each_kind_of_certificate():
    caddy = _tool("caddy")
    for tls, expected in [
        ("internal", '"module":"internal"'),
        ("/certs/fullchain.pem /certs/privkey.pem", '"certificate":"/certs/fullchain.pem"'),
        ("it@library.example.edu", '"email":"it@library.example.edu"'),
    ]:
        adapted = subprocess.run(
            [caddy, "adapt", "--adapter", "caddyfile", "--config", "deploy/Caddyfile"],
            cwd=BASE_DIR,
            env={"PATH": "/usr/bin:/bin", "TLS": tls, "SITE_ADDRESS": "pub.example.edu"},
            capture_output=True,
            text=True,
        )
        assert adapted.returncode == 0, adapted.stderr
        assert expected in adapted.stdout.replace(" ", ""), (tls, adapted.stdout)
        assert '"dial":"web:8000"' in adapted.stdout.replace(" ", "")
