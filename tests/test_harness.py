"""The test harness itself: the sshd fixture is a real server, the browser a real Chromium."""

from __future__ import annotations

import paramiko
import pytest

from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.sshd


def _client(sshd, **auth) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - test of the fixture
    client.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.username,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
        **auth,
    )
    return client


def test_sshd_accepts_an_sftp_upload_with_a_password(sshd, tmp_path):
    local = tmp_path / "hello.mrc"
    local.write_bytes(b"hello over sftp")
    with _client(sshd, password=sshd.password) as client:
        sftp = client.open_sftp()
        sftp.put(str(local), "/xfer/metacoll/in/bib/hello.mrc")
        assert sftp.stat("/xfer/metacoll/in/bib/hello.mrc").st_size == 15
    assert sshd.local_path("/xfer/metacoll/in/bib/hello.mrc").read_bytes() == b"hello over sftp"


def test_sshd_accepts_an_sftp_upload_with_a_key(sshd, tmp_path):
    local = tmp_path / "key.mrc"
    local.write_bytes(b"key login")
    with _client(sshd, key_filename=str(sshd.client_key_path)) as client:
        client.open_sftp().put(str(local), "/upload/key.mrc")
    assert sshd.local_path("/upload/key.mrc").read_bytes() == b"key login"


def test_sshd_refuses_a_wrong_password(sshd):
    with pytest.raises(paramiko.AuthenticationException):
        _client(sshd, password="not-the-password")


def test_sshd_keeps_the_user_inside_the_chroot(sshd):
    with _client(sshd, password=sshd.password) as client:
        names = client.open_sftp().listdir("/")
    assert sorted(names) == ["upload", "xfer"]


@pytest.mark.browser
def test_a_staff_member_logs_in_and_sees_the_areas(page, superuser):
    login(page, superuser.username, PASSWORD)
    page.goto("/admin/")
    areas = page.locator(".areas .area h2").all_inner_texts()
    assert areas == [
        "Run a Job",
        "Monitor Jobs",
        "Catalogue",
        "S/FTP connections",
        "Publishing profiles",
        "OCLC Data Sync",
    ]
    assert "Alma publishing" in page.locator("#site-name").inner_text()


@pytest.mark.django_db
def test_the_home_page_shows_recent_activity_from_the_audit_trail(client, superuser):
    from audit.log import record

    record("records.tag.changed", actor=superuser, message="Export to WorldCat of 99123: changed")
    client.force_login(superuser)
    page = client.get("/admin/").content.decode()
    assert "Recent activity" in page
    assert "Export to WorldCat of 99123: changed" in page
