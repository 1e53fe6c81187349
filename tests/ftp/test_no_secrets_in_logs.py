"""Grep of everything logged (paramiko's DEBUG chatter included) during deliveries, successful
and failed, finds no secret."""

from __future__ import annotations

import logging
import subprocess

import pytest

from ftp.transfer import TransferError, deliver, test_connection
from tests.ftp.conftest import write_file

pytestmark = pytest.mark.sshd


def logged_text(caplog) -> str:
    lines = []
    for rec in caplog.records:
        lines.append(rec.getMessage())
        if rec.exc_info:
            lines.append(logging.Formatter().formatException(rec.exc_info))
    return "\n".join(lines)


def test_a_password_delivery_and_a_failed_login_log_no_password(
    caplog, sftp_connection, sshd, tmp_path
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="paramiko")
    files = [write_file(tmp_path / f"1234567.XYZ.{n}.mrc", 40_000) for n in (1, 2)]

    deliver(sftp_connection, files)
    test_connection(sftp_connection)
    sftp_connection.password = "Wr0ng-but-still-secret"
    with pytest.raises(TransferError) as caught:
        deliver(sftp_connection, files, sleep=lambda s: None)

    text = logged_text(caplog)
    assert "Verified /xfer/metacoll/in/bib/1234567.XYZ.2.mrc" in text  # the logs were captured
    assert any(r.name.startswith("paramiko") for r in caplog.records)
    assert sshd.password not in text
    assert "Wr0ng-but-still-secret" not in text
    assert "Wr0ng-but-still-secret" not in str(caught.value) + repr(caught.value)


def test_a_key_delivery_logs_neither_the_key_nor_its_passphrase(
    caplog, sshd, make_connection, tmp_path
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="paramiko")
    key_path = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "key-Passphrase-99", "-f", str(key_path)],
        check=True,
    )
    # Let the sshd accept this key too (the fixture's own key file is put back afterwards).
    authorized = sshd.base / "authorized_keys" / sshd.username
    original = authorized.read_text()
    authorized.write_text(original + (tmp_path / "id_ed25519.pub").read_text())
    key_text = key_path.read_text()
    try:
        connection = make_connection(
            port=sshd.port,
            username=sshd.username,
            auth_method="key",
            private_key=key_text,
            passphrase="key-Passphrase-99",
            host_key_sha256=sshd.host_key_sha256(),
        )
        deliver(connection, [write_file(tmp_path / "a.mrc", 1000)])
    finally:
        authorized.write_text(original)

    text = logged_text(caplog)
    assert "Verified /xfer/metacoll/in/bib/a.mrc" in text
    assert "key-Passphrase-99" not in text
    body = "".join(key_text.strip().splitlines()[1:-1])
    assert body[:40] not in text.replace("\n", "")
