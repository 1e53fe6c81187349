"""The transfer module against a real OpenSSH server: logins, host keys, verified uploads,
dropped connections and retries."""

from __future__ import annotations

import os
import pwd

import pytest

from ftp.transfer import TransferError, deliver, fetch_host_key, open_transfer
from tests.ftp.conftest import write_file

pytestmark = pytest.mark.sshd

BIB = "/xfer/metacoll/in/bib"


def test_a_password_login_uploads_a_file_and_verifies_its_size(sftp_connection, sshd, tmp_path):
    local = write_file(tmp_path / "1234567.XYZ.20260101.1.mrc", 300_000)

    with open_transfer(sftp_connection) as transfer:
        remote = transfer.upload(local, local.name)

    assert (remote.name, remote.path, remote.size) == (local.name, f"{BIB}/{local.name}", 300_000)
    assert sshd.local_path(remote.path).read_bytes() == local.read_bytes()


def test_a_key_login_uploads_a_file(sshd, make_connection, tmp_path):
    connection = make_connection(
        port=sshd.port,
        username=sshd.username,
        auth_method="key",
        private_key=sshd.client_key_text,
        host_key_sha256=sshd.host_key_sha256(),
    )
    local = write_file(tmp_path / "key.mrc", 1000)

    with open_transfer(connection) as transfer:
        transfer.upload(local, "key.mrc")

    assert sshd.local_path(f"{BIB}/key.mrc").stat().st_size == 1000


def test_a_wrong_password_is_an_auth_error_that_retrying_cannot_fix(sftp_connection):
    sftp_connection.password = "not-the-password-at-all"
    sleeps = []

    with pytest.raises(TransferError) as caught:
        deliver(sftp_connection, [], sleep=sleeps.append)

    assert caught.value.category == "auth"
    assert caught.value.retryable is False
    assert "rejected the login of almasftp" in caught.value.message
    assert "not-the-password-at-all" not in str(caught.value)
    assert sleeps == []


def test_a_wrong_pinned_host_key_is_refused_before_the_password_is_sent(sftp_connection, sshd):
    real = sshd.host_key_sha256()
    sftp_connection.host_key_sha256 = "SHA256:" + "A" * 43
    # A wrong password too: a host-key error proves the login was never tried.
    sftp_connection.password = "wrong-as-well"

    with pytest.raises(TransferError) as caught:
        open_transfer(sftp_connection)

    error = caught.value
    assert (error.category, error.retryable) == ("host-key", False)
    assert "expected SHA256:AAAA" in error.message
    assert f"got ssh-ed25519 {real}" in error.message
    assert "pin it again" in error.message


def test_an_unpinned_server_gets_no_files(sftp_connection, sshd, tmp_path):
    sftp_connection.host_key_sha256 = ""
    local = write_file(tmp_path / "a.mrc", 10)

    with pytest.raises(TransferError) as caught:
        deliver(sftp_connection, [local])

    assert caught.value.category == "host-key"
    assert "pin the host key with Test connection first" in caught.value.message
    assert list(sshd.local_path(BIB).iterdir()) == []


def test_fetching_the_host_key_reads_it_without_logging_in(sftp_connection, sshd):
    sftp_connection.host_key_sha256 = ""
    sftp_connection.password = "wrong"

    key = fetch_host_key(sftp_connection)

    assert (key.key_type, key.sha256) == ("ssh-ed25519", sshd.host_key_sha256())


def test_a_temporary_name_is_used_until_the_size_is_verified(sftp_connection, sshd, tmp_path):
    sftp_connection.upload_with_temporary_name = True
    local = write_file(tmp_path / "big.mrc", 2_000_000)
    seen_during_upload = set()

    def progress(sent, total):
        seen_during_upload.update(p.name for p in sshd.local_path(BIB).iterdir())

    with open_transfer(sftp_connection) as transfer:
        remote = transfer.upload(local, "big.mrc", progress=progress)

    assert seen_during_upload == {"big.mrc.part"}
    assert remote.path == f"{BIB}/big.mrc"
    assert sorted(p.name for p in sshd.local_path(BIB).iterdir()) == ["big.mrc"]


def test_a_file_that_changes_during_upload_fails_the_size_check(sftp_connection, tmp_path):
    local = write_file(tmp_path / "growing.mrc", 800_000)
    grown = []

    def grow(sent, total):
        if not grown:  # after the first block, someone appends to the file
            grown.append(sent)
            with local.open("ab") as fh:
                fh.write(b"x" * 1000)

    with open_transfer(sftp_connection) as transfer, pytest.raises(TransferError) as caught:
        transfer.upload(local, "growing.mrc", progress=grow)

    assert "Size check failed" in caught.value.message
    assert "the server has 800001 bytes, the local file 800000" in caught.value.message


def test_a_connection_dropped_mid_upload_is_retryable_and_delivers_nothing(
    sftp_connection, sshd, tmp_path
):
    local = write_file(tmp_path / "large.mrc", 20_000_000)
    delivered = []

    def kill_server_halfway(path, sent, total):
        if sent > 2_000_000 and sshd.is_running():
            sshd.stop()

    with pytest.raises(TransferError) as caught:
        deliver(
            sftp_connection,
            [local],
            attempts=1,
            on_progress=kill_server_halfway,
            on_file_delivered=delivered.append,
            timeout=10,
        )

    assert (caught.value.category, caught.value.retryable) == ("network", True)
    assert caught.value.delivered == 0
    assert delivered == []
    assert "was lost while uploading" in caught.value.message


def test_a_sub_directory_that_does_not_exist_is_named_in_the_error(sftp_connection):
    sftp_connection.sub_directory = "/xfer/metacoll/in/nope"

    with pytest.raises(TransferError) as caught:
        open_transfer(sftp_connection)

    assert (caught.value.category, caught.value.retryable) == ("remote-rejected", False)
    assert "No such file or directory" in caught.value.message
    assert "/xfer/metacoll/in/nope" in caught.value.message


def test_a_folder_without_write_permission_is_rejected_not_retried(sftp_connection, tmp_path):
    sftp_connection.sub_directory = "/"  # the chroot itself belongs to root
    local = write_file(tmp_path / "a.mrc", 100)
    sleeps = []

    with pytest.raises(TransferError) as caught:
        deliver(sftp_connection, [local], sleep=sleeps.append)

    assert (caught.value.category, caught.value.retryable) == ("remote-rejected", False)
    assert "Permission denied" in caught.value.message
    assert sleeps == []


def test_deliver_resumes_after_the_server_restarts(sftp_connection, sshd, tmp_path):
    files = [write_file(tmp_path / f"1234567.XYZ.{n}.mrc", 50_000 + n) for n in (1, 2, 3)]
    delivered, waits = [], []

    def on_delivered(remote):
        delivered.append(remote.name)
        if len(delivered) == 1:
            sshd.stop()  # the second file meets a dead server

    def sleep(seconds):
        waits.append(seconds)
        sshd.start()

    result = deliver(
        sftp_connection, files, sleep=sleep, on_file_delivered=on_delivered, backoff=2.0
    )

    assert [r.name for r in result] == [f.name for f in files]
    assert delivered == [f.name for f in files]
    assert waits == [2.0]
    for f in files:
        assert sshd.local_path(f"{BIB}/{f.name}").read_bytes() == f.read_bytes()


def test_deliver_gives_up_after_the_last_attempt_with_growing_waits(
    sftp_connection, sshd, tmp_path
):
    local = write_file(tmp_path / "a.mrc", 10)
    sshd.stop()
    waits = []

    with pytest.raises(TransferError) as caught:
        deliver(sftp_connection, [local], attempts=3, backoff=1.5, sleep=waits.append)

    assert waits == [1.5, 3.0]
    assert (caught.value.category, caught.value.retryable) == ("network", True)
    assert "refused the connection" in caught.value.message


def test_deliver_refuses_files_beyond_the_connections_limits(sftp_connection, tmp_path):
    small = write_file(tmp_path / "small.mrc", 1000)
    big = write_file(tmp_path / "big.mrc", 2 * 1024 + 1)
    sftp_connection.max_file_size, sftp_connection.size_type = 2, "KB"

    with pytest.raises(TransferError) as too_big:
        deliver(sftp_connection, [small, big])
    sftp_connection.max_file_size, sftp_connection.max_files = None, 1
    with pytest.raises(TransferError) as too_many:
        deliver(sftp_connection, [small, small])

    assert too_big.value.category == "config"
    assert "big.mrc (2049 bytes) exceeds the connection's Max. file size (2 KB)" in str(
        too_big.value
    )
    assert "2 files exceed the connection's Max Number of Files (1)" in str(too_many.value)


def test_stat_list_download_and_remove_work_on_the_connections_folder(
    sftp_connection, sshd, tmp_path
):
    local = write_file(tmp_path / "a.mrc", 4321)

    with open_transfer(sftp_connection) as transfer:
        transfer.upload(local, "a.mrc")
        assert transfer.stat("a.mrc").size == 4321
        assert transfer.stat("missing.mrc") is None
        assert transfer.listdir() == ["a.mrc"]
        transfer.download("a.mrc", tmp_path / "back.mrc")
        transfer.remove("a.mrc")
        assert transfer.listdir() == []

    assert (tmp_path / "back.mrc").read_bytes() == local.read_bytes()


def test_a_relative_sub_directory_starts_from_the_login_folder(sftp_connection, sshd, tmp_path):
    folder = sshd.local_path("/upload/bib")  # the login starts in /upload
    folder.mkdir()
    user = pwd.getpwnam(sshd.username)
    os.chown(folder, user.pw_uid, user.pw_gid)
    sftp_connection.is_full_path = False
    sftp_connection.sub_directory = "bib"
    sftp_connection.full_clean()
    local = write_file(tmp_path / "a.mrc", 10)

    with open_transfer(sftp_connection) as transfer:
        remote = transfer.upload(local, "a.mrc")
        assert transfer.listdir() == ["a.mrc"]

    assert remote.path == "bib/a.mrc"
    assert (folder / "a.mrc").exists()


def test_a_profile_sub_directory_is_joined_to_the_connections(sftp_connection, sshd, tmp_path):
    sftp_connection.sub_directory = "/xfer/metacoll"
    local = write_file(tmp_path / "a.mrc", 10)

    with open_transfer(sftp_connection, sub_directory="in/lhr") as transfer:
        remote = transfer.upload(local, "a.mrc")

    assert remote.path == "/xfer/metacoll/in/lhr/a.mrc"
    assert sshd.local_path("/xfer/metacoll/in/lhr/a.mrc").exists()


def test_a_remote_name_with_a_slash_is_refused(sftp_connection, tmp_path):
    local = write_file(tmp_path / "a.mrc", 10)

    with open_transfer(sftp_connection) as transfer, pytest.raises(TransferError) as caught:
        transfer.upload(local, "../escape.mrc")

    assert caught.value.category == "config"
