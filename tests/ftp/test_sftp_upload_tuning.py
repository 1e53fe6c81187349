"""Uploads are tuned for speed without giving up on any server: AES-GCM when the server has it,
the server's own choice when it does not; write requests as large as the server says it takes,
the protocol's 32 KiB when it says nothing. The server's log is the oracle for the cipher, the
bytes in its folder for the content."""

from __future__ import annotations

import os
import re

import pytest

from ftp.transfer import open_transfer
from ftp.transfer.sftp import MAX_WRITE_BYTES, SAFE_WRITE_BYTES, write_request_bytes
from tests.ftp.conftest import write_file

pytestmark = pytest.mark.sshd

BIB = "/xfer/metacoll/in/bib"


@pytest.fixture
def configure_sshd(sshd):
    """Restart the sshd with other settings; the usual ones are back after the test."""

    def configure(**settings) -> None:
        sshd.stop()
        sshd.write_config(**settings)
        sshd.start()

    yield configure
    sshd.stop()
    sshd.write_config()
    sshd.start()


def agreed_ciphers(sshd) -> list[str]:
    """The client-to-server ciphers the sshd logged (LogLevel DEBUG), one per connection."""
    return re.findall(r"kex: client->server cipher: (\S+)", sshd.log_path.read_text())


@pytest.mark.parametrize(
    ("server_ciphers", "agreed"),
    [
        ("", "aes128-gcm@openssh.com"),  # OpenSSH's defaults include GCM: it is chosen
        # A server without GCM: the client's next choice the server has (paramiko's order
        # puts aes128-ctr before aes256-ctr), and the file arrives intact all the same.
        ("aes256-ctr,aes128-ctr", "aes128-ctr"),
    ],
)
def test_the_cipher_is_aes_gcm_when_the_server_has_it_and_the_server_s_otherwise(
    sftp_connection, sshd, configure_sshd, tmp_path, server_ciphers, agreed
):
    configure_sshd(log_level="DEBUG", ciphers=server_ciphers)
    local = write_file(tmp_path / "cipher.mrc", 700_000)

    with open_transfer(sftp_connection) as transfer:
        transfer.upload(local, local.name)

    assert agreed_ciphers(sshd)[-1] == agreed
    assert sshd.local_path(f"{BIB}/cipher.mrc").read_bytes() == local.read_bytes()


def test_openssh_s_write_limit_is_used_and_files_arrive_whole_around_its_boundaries(
    sftp_connection, sshd, tmp_path
):
    with open_transfer(sftp_connection) as transfer:
        # OpenSSH's sftp-server answers limits@openssh.com with 255 KiB writes.
        assert transfer.write_bytes == 255 * 1024
        step = transfer.write_bytes
        for size in (0, 1, step - 1, step, step + 1, 3 * step + 5):
            # Random bytes: a block written at a wrong offset cannot look right by chance.
            local = tmp_path / f"size-{size}.mrc"
            local.write_bytes(os.urandom(size))
            progress: list[int] = []
            transfer.upload(local, local.name, progress=lambda sent, _, p=progress: p.append(sent))

            assert sshd.local_path(f"{BIB}/{local.name}").read_bytes() == local.read_bytes()
            assert progress[-1:] == ([size] if size else [])


@pytest.mark.parametrize(
    ("advertised", "used"),
    [
        (None, SAFE_WRITE_BYTES),  # the server does not say: the protocol's minimum
        (0, MAX_WRITE_BYTES),  # "no limit"
        (1000, SAFE_WRITE_BYTES),  # never below what every server takes
        (64 * 1024, 64 * 1024),
        (10**9, MAX_WRITE_BYTES),  # never above what fits one SSH channel window comfortably
    ],
)
def test_the_write_size_follows_the_server_s_limit_within_safe_bounds(advertised, used):
    assert write_request_bytes(advertised) == used


def test_django_starts_without_importing_paramiko():
    """A cron `manage.py publish` starts a process every run: paramiko (a large import) waits
    until SFTP is used."""
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); "
        "import ftp.admin, ftp.actions, profiles.engine; "
        "print('paramiko' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
