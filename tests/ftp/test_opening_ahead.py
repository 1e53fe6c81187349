"""A session opened on a background thread (OpeningTransfer) and handed to deliver: it is used
as the first attempt, its failure is that attempt's failure (a wrong password is tried once),
a session the server dropped meanwhile is replaced without using up an attempt, and a session
nobody uses is closed."""

from __future__ import annotations

import logging
import threading

import pytest

from ftp.transfer import OpeningTransfer, TransferError, deliver
from ftp.transfer.sftp import SftpTransfer
from tests.ftp.conftest import write_file

pytestmark = pytest.mark.sshd

BIB = "/xfer/metacoll/in/bib"


def logins(caplog) -> int:
    return sum(r.getMessage().startswith("Connected to ") for r in caplog.records)


def opening_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("open-transfer-")]


@pytest.fixture
def counted_logins(monkeypatch):
    """How many times a password or key was sent to the server."""
    calls = []
    original = SftpTransfer._authenticate

    def counting(self):
        calls.append(self.where)
        return original(self)

    monkeypatch.setattr(SftpTransfer, "_authenticate", counting)
    return calls


def test_deliver_uploads_over_the_session_opened_ahead(
    sftp_connection, sshd, tmp_path, caplog, monkeypatch
):
    caplog.set_level(logging.INFO, logger="ftp.transfer")
    intervals = []
    original = SftpTransfer.keep_alive

    def keep_alive(self, interval):
        intervals.append(interval)
        original(self, interval)

    monkeypatch.setattr(SftpTransfer, "keep_alive", keep_alive)
    opening = OpeningTransfer(sftp_connection)
    local = write_file(tmp_path / "1234567.XYZ.1.mrc", 100_000)

    (remote,) = deliver(sftp_connection, [local], ahead=opening)

    assert remote.path == f"{BIB}/{local.name}"
    assert sshd.local_path(remote.path).read_bytes() == local.read_bytes()
    assert logins(caplog) == 1
    assert opening_threads() == []
    assert intervals == [15]  # the waiting session sends SSH keepalives


def test_a_wrong_password_opened_ahead_fails_once_and_is_not_retried(
    sftp_connection, tmp_path, counted_logins
):
    sftp_connection.password = "not-the-password-at-all"
    sleeps = []

    with pytest.raises(TransferError) as caught:
        deliver(
            sftp_connection,
            [write_file(tmp_path / "a.mrc", 10)],
            sleep=sleeps.append,
            ahead=OpeningTransfer(sftp_connection),
        )

    assert (caught.value.category, caught.value.retryable) == ("auth", False)
    assert "rejected the login of almasftp" in caught.value.message
    assert len(counted_logins) == 1
    assert sleeps == []


def test_an_unreachable_server_opened_ahead_counts_as_the_first_attempt(
    sftp_connection, sshd, tmp_path
):
    sshd.stop()
    opening = OpeningTransfer(sftp_connection)
    local = write_file(tmp_path / "a.mrc", 10)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        sshd.start()

    (remote,) = deliver(sftp_connection, [local], sleep=sleep, backoff=1.0, ahead=opening)

    assert waits == [1.0]
    assert sshd.local_path(remote.path).read_bytes() == local.read_bytes()


def test_a_session_dropped_while_waiting_is_replaced_without_using_an_attempt(
    sftp_connection, sshd, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="ftp.transfer")
    opening = OpeningTransfer(sftp_connection)
    opening._thread.join()
    # The server side goes away while the caller was busy: the SSH transport is closed.
    opening._transfer._transport.close()
    local = write_file(tmp_path / "a.mrc", 1000)

    (remote,) = deliver(sftp_connection, [local], attempts=1, ahead=opening)

    assert sshd.local_path(remote.path).stat().st_size == 1000
    assert logins(caplog) == 2
    assert any("was dropped; reconnecting" in r.getMessage() for r in caplog.records)


def test_a_session_opened_ahead_is_closed_when_deliver_refuses_the_files(sftp_connection, tmp_path):
    opening = OpeningTransfer(sftp_connection)
    opening._thread.join()
    session = opening._transfer
    assert session is not None and session.alive()
    sftp_connection.max_files = 1
    small = write_file(tmp_path / "small.mrc", 10)

    with pytest.raises(TransferError, match="Max Number of Files"):
        deliver(sftp_connection, [small, small], ahead=opening)

    assert not session.alive()
    assert opening_threads() == []
