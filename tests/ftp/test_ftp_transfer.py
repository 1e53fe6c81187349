"""Plain FTP (FTP Server Secured unchecked) against a real pyftpdlib server."""

from __future__ import annotations

import pytest

from ftp.transfer import TransferError, deliver, open_transfer, passed, test_connection
from tests.ftp.conftest import write_file

# pyftpdlib is built on asyncore/asynchat, deprecated in Python 3.11.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BIB = "/xfer/metacoll/in/bib"


@pytest.fixture
def ftp_connection(ftpd, make_connection):
    return make_connection(
        server=ftpd.host,
        port=ftpd.port,
        server_secured=False,
        username=ftpd.username,
        password=ftpd.password,
    )


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_files_are_delivered_and_verified_in_both_modes(ftp_connection, ftpd, tmp_path, passive):
    ftp_connection.passive_mode = passive
    files = [write_file(tmp_path / f"1234567.XYZ.{n}.mrc", 70_000 * n) for n in (1, 2)]

    result = deliver(ftp_connection, files)

    assert [(r.name, r.size) for r in result] == [(f.name, f.stat().st_size) for f in files]
    for f in files:
        assert ftpd.local_path(f"{BIB}/{f.name}").read_bytes() == f.read_bytes()


@pytest.mark.parametrize("navigation", [True, False], ids=["cwd", "full-paths"])
def test_stat_list_download_remove_and_temporary_names(ftp_connection, ftpd, tmp_path, navigation):
    ftp_connection.allow_navigation = navigation
    ftp_connection.upload_with_temporary_name = True
    local = write_file(tmp_path / "a.mrc", 5000)

    with open_transfer(ftp_connection) as transfer:
        remote = transfer.upload(local, "a.mrc")
        assert transfer.listdir() == ["a.mrc"]
        assert transfer.stat("a.mrc").size == 5000
        assert transfer.stat("missing.mrc") is None
        transfer.download("a.mrc", tmp_path / "back.mrc")
        transfer.remove("a.mrc")
        assert transfer.listdir() == []

    assert remote.size == 5000
    assert (tmp_path / "back.mrc").read_bytes() == local.read_bytes()


def test_a_wrong_ftp_password_is_an_auth_error(ftp_connection):
    ftp_connection.password = "definitely-wrong-pw"

    with pytest.raises(TransferError) as caught:
        open_transfer(ftp_connection)

    assert (caught.value.category, caught.value.retryable) == ("auth", False)
    assert "definitely-wrong-pw" not in caught.value.message


def test_a_missing_ftp_folder_is_rejected(ftp_connection):
    ftp_connection.sub_directory = "/xfer/nowhere"

    with pytest.raises(TransferError) as caught:
        open_transfer(ftp_connection)

    assert (caught.value.category, caught.value.retryable) == ("remote-rejected", False)
    assert "/xfer/nowhere" in caught.value.message


def test_a_stopped_ftp_server_is_a_retryable_network_error(ftp_connection, ftpd, tmp_path):
    ftp_connection.port = ftpd.port + 1 if ftpd.port < 65535 else ftpd.port - 1
    waits = []

    with pytest.raises(TransferError) as caught:
        deliver(ftp_connection, [write_file(tmp_path / "a.mrc", 1)], sleep=waits.append)

    assert (caught.value.category, caught.value.retryable) == ("network", True)
    assert waits == [2.0, 4.0]


def test_test_connection_reports_each_ftp_step(ftp_connection, ftpd):
    steps = test_connection(ftp_connection)

    assert [s.name for s in steps] == [
        "Connect",
        "Authenticate",
        "Change to the sub-directory",
        "Upload a probe file",
        "Remove the probe file",
    ]
    assert passed(steps)
    assert list(ftpd.local_path(BIB).iterdir()) == []


def test_a_session_opened_ahead_answers_and_is_used_then_closed(ftp_connection, ftpd, tmp_path):
    from ftp.transfer import OpeningTransfer

    opening = OpeningTransfer(ftp_connection)
    opening._thread.join()
    session = opening._transfer
    assert session.alive()  # a NOOP round trip
    local = write_file(tmp_path / "1234567.XYZ.1.mrc", 3000)

    (remote,) = deliver(ftp_connection, [local], ahead=opening)

    assert remote.size == 3000
    assert ftpd.local_path(f"{BIB}/{local.name}").read_bytes() == local.read_bytes()
    assert not session.alive()
