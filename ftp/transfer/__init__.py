"""Talking to S/FTP servers: the only module that imports paramiko and ftplib.

- `open_transfer(connection)` connects, checks the pinned host key (SFTP), logs in and checks
  the directory; the `Transfer` it returns uploads with size verification, stats, lists, removes,
  downloads.
- `deliver(connection, files)` uploads files in order with bounded retries and back-off, resuming
  with the first file not yet verified.
- `OpeningTransfer(connection)` opens a session on a background thread while the caller does
  other work (a small publishing job writes its files meanwhile); `deliver(..., ahead=it)`
  then starts on that session instead of connecting.
- `test_connection(connection)` runs the "Test connection" steps one by one for the admin page;
  `fetch_host_key(connection)` reads a server's key without logging in.

Every failure is a `TransferError` whose `category` and `retryable` say what a caller may do.
Messages never contain a secret: they are written here from host, port, user and paths, and
passed through `_scrub` in case a server echoes something back.
"""

from __future__ import annotations

import functools
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    CONFIG,
    HostKey,
    RemoteFile,
    Step,
    Transfer,
    TransferError,
    _local_size,
    passed,
)
from .plain_ftp import FtpTransfer

if TYPE_CHECKING:
    from ftp.models import SftpConnection

    from .sftp import fingerprint, load_private_key, private_key_problem

# paramiko is imported when SFTP is first used, not when Django starts: importing it is a
# large share of a process's start-up (the admin imports this package), and a cron
# `manage.py publish` pays that start-up on every run.
_SFTP_NAMES = ("SftpTransfer", "fingerprint", "load_private_key", "private_key_problem")


def __getattr__(name: str):
    if name in _SFTP_NAMES:
        from . import sftp

        return getattr(sftp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HostKey",
    "OpeningTransfer",
    "RemoteFile",
    "Step",
    "Transfer",
    "TransferError",
    "deliver",
    "fetch_host_key",
    "fingerprint",
    "load_private_key",
    "open_transfer",
    "passed",
    "private_key_problem",
    "test_connection",
]

logger = logging.getLogger("ftp.transfer")
PROBE_CONTENT = b"Alma publishing: S/FTP connection test. Safe to delete.\n"
KEEPALIVE_S = 15


def _transfer(connection: SftpConnection, sub_directory: str, timeout: float) -> Transfer:
    if connection.server_secured:
        from .sftp import SftpTransfer

        return SftpTransfer(connection, sub_directory, timeout)
    return FtpTransfer(connection, sub_directory, timeout)


def open_transfer(
    connection: SftpConnection, *, sub_directory: str = "", timeout: float = 30
) -> Transfer:
    """Connect, verify the pinned host key, log in, check the directory. Close it (or use
    `with`) when done."""
    return _transfer(connection, sub_directory, timeout).open()


class OpeningTransfer:
    """`open_transfer` run on a background thread: the SSH handshake and login (a few hundred
    milliseconds of waiting on the network and the server) overlap the caller's own work.

    `take()` waits for it and returns the open session, or raises the TransferError that
    opening raised, exactly as `open_transfer` would have (a wrong password is tried once, not
    once here and again later). A session the server dropped while it waited gives None, and
    the caller connects afresh. `close()` closes a session nobody took. The thread touches no
    database: the connection's fields, secrets included, are already loaded.
    """

    def __init__(
        self, connection: SftpConnection, *, sub_directory: str = "", timeout: float = 30
    ) -> None:
        self._transfer: Transfer | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._open,
            args=(connection, sub_directory, timeout),
            name=f"open-transfer-{connection.pk}",
            daemon=True,
        )
        self._thread.start()

    def _open(self, connection, sub_directory: str, timeout: float) -> None:
        try:
            self._transfer = open_transfer(connection, sub_directory=sub_directory, timeout=timeout)
            # While it waits, keep firewalls and NAT from taking the session for dead.
            self._transfer.keep_alive(KEEPALIVE_S)
        except BaseException as exc:  # handed to take(), in the caller's thread
            self._error = exc

    def take(self) -> Transfer | None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        transfer, self._transfer = self._transfer, None
        if transfer is not None and not transfer.alive():
            logger.info("The session opened ahead to %s was dropped; reconnecting", transfer.where)
            transfer.close()
            return None
        return transfer

    def close(self) -> None:
        self._thread.join()
        self._error = None
        if self._transfer is not None:
            self._transfer.close()
            self._transfer = None


def fetch_host_key(connection: SftpConnection, *, timeout: float = 15) -> HostKey:
    """The server's host key, read from the SSH handshake without logging in."""
    if not connection.server_secured:
        raise TransferError("Plain FTP servers have no host key.", category=CONFIG, retryable=False)
    from .sftp import SftpTransfer

    transfer = SftpTransfer(connection, "", timeout)
    try:
        transfer._connect()
        return transfer.host_key
    finally:
        transfer.close()


def _check_limits(connection: SftpConnection, files: Sequence[Path]) -> None:
    if connection.max_files is not None and len(files) > connection.max_files:
        raise TransferError(
            f"{len(files)} files exceed the connection's Max Number of Files "
            f"({connection.max_files}).",
            category=CONFIG,
            retryable=False,
        )
    limit = connection.max_file_size_bytes
    for path in files:
        size = _local_size(Path(path))
        if limit is not None and size > limit:
            raise TransferError(
                f"{Path(path).name} ({size} bytes) exceeds the connection's Max. file size "
                f"({connection.max_file_size} {connection.size_type}).",
                category=CONFIG,
                retryable=False,
            )


def deliver(
    connection: SftpConnection,
    files: Sequence[Path],
    *,
    sub_directory: str = "",
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], object] = time.sleep,
    on_file_delivered: Callable[[RemoteFile], object] | None = None,
    on_progress: Callable[[Path, int, int], object] | None = None,
    timeout: float = 30,
    ahead: OpeningTransfer | None = None,
) -> list[RemoteFile]:
    """Upload `files` in order, each verified by size, and return what was delivered.

    A retryable error reconnects after `backoff`, `2*backoff`, ... seconds and resumes with the
    first file not yet verified (a half-written file is simply written again under the same
    name). `on_progress(path, bytes_sent, total)` is called as each file is written. A
    non-retryable error, or the last attempt failing, raises TransferError with
    `delivered` = how many files were verified before it. With `ahead`, the first attempt
    uses the session it opened (or its failure); deliver closes it in every case.
    """
    files = [Path(f) for f in files]
    try:
        _check_limits(connection, files)
        delivered: list[RemoteFile] = []
        for attempt in range(1, max(attempts, 1) + 1):
            try:
                transfer = None
                if ahead is not None:
                    opening, ahead = ahead, None  # the first attempt only
                    transfer = opening.take()
                if transfer is None:
                    transfer = open_transfer(
                        connection, sub_directory=sub_directory, timeout=timeout
                    )
                with transfer as t:
                    for path in files[len(delivered) :]:
                        progress = None
                        if on_progress is not None:
                            progress = functools.partial(on_progress, path)
                        remote = t.upload(path, path.name, progress=progress)
                        delivered.append(remote)
                        if on_file_delivered is not None:
                            on_file_delivered(remote)
                return delivered
            except TransferError as exc:
                exc.delivered = len(delivered)
                if not exc.retryable or attempt >= attempts:
                    logger.error(
                        "Delivery to %s stopped after %d attempt(s), %d of %d file(s) "
                        "delivered: %s",
                        connection.server,
                        attempt,
                        len(delivered),
                        len(files),
                        exc.message,
                    )
                    raise
                wait = backoff * 2 ** (attempt - 1)
                logger.warning(
                    "Delivery to %s failed (attempt %d of %d, %d file(s) delivered): %s; "
                    "retrying in %g s",
                    connection.server,
                    attempt,
                    attempts,
                    len(delivered),
                    exc.message,
                    wait,
                )
                sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises
    finally:
        if ahead is not None:
            ahead.close()  # not taken: a limit refused the files before the first attempt


def test_connection(
    connection: SftpConnection, *, sub_directory: str = "", timeout: float = 15
) -> list[Step]:
    """Alma's "Test connection": each step's outcome, stopping at the first required failure.

    An SFTP server is first contacted without logging in: its host key is shown, and the test
    goes on to log in only when that key is the pinned one. An unpinned server (first set-up, or
    after the server, port or username changed) therefore never receives the credentials: the
    person compares the fingerprint with the one its administrators publish, pins it, and tests
    again.
    """
    steps: list[Step] = []
    try:
        transfer = _transfer(connection, sub_directory, timeout)
    except TransferError as exc:
        return [Step("Connect", False, exc.message)]
    try:
        for name, phase in transfer.phases():
            host_key = transfer.host_key if name == "Host key" else None
            try:
                detail = phase()
            except TransferError as exc:
                if name == "Host key" and not connection.host_key_sha256:
                    detail = (
                        f"{transfer.host_key} — not pinned yet. Compare it with the fingerprint "
                        "the server's administrators publish, pin it, then test again to log in. "
                        "Until a key is pinned, no password or key is sent to this server."
                    )
                else:
                    detail = exc.message
                steps.append(Step(name, False, detail, host_key=transfer.host_key))
                return steps
            steps.append(Step(name, True, detail, host_key=host_key))
        probe = f"alma-test-connection-{secrets.token_hex(4)}.txt"
        steps.append(_probe_upload(transfer, probe))
        if steps[-1].ok:
            steps.append(_probe_remove(transfer, probe))
        return steps
    finally:
        transfer.close()


# Not a pytest test, although its name (Alma's button) starts with "test".
test_connection.__test__ = False


def _probe_upload(transfer: Transfer, probe: str) -> Step:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / probe
        local.write_bytes(PROBE_CONTENT)
        try:
            remote = transfer.upload(local, probe)
        except TransferError as exc:
            return Step("Upload a probe file", False, exc.message)
    return Step("Upload a probe file", True, f"Wrote {remote.path} ({remote.size} bytes).")


def _probe_remove(transfer: Transfer, probe: str) -> Step:
    try:
        transfer.remove(probe)
    except TransferError as exc:
        return Step(
            "Remove the probe file",
            False,
            f"{exc.message} Not an error for OCLC, which moves files away as soon as they land.",
            required=False,
        )
    return Step("Remove the probe file", True, f"Removed {probe}.", required=False)
