"""The protocol-neutral part of a transfer: errors, results, and the Transfer base class whose
upload/stat/list/remove/download wrap the protocol's primitives with size checks and clear errors.
"""

from __future__ import annotations

import logging
import posixpath
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftp.models import SftpConnection

logger = logging.getLogger("ftp.transfer")

AUTH, HOST_KEY, NETWORK, REMOTE_REJECTED, CONFIG = (
    "auth",
    "host-key",
    "network",
    "remote-rejected",
    "config",
)
Progress = Callable[[int, int], object]


class TransferError(Exception):
    """A delivery problem. `retryable`: whether trying again later can help."""

    def __init__(self, message: str, *, category: str, retryable: bool, delivered: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.retryable = retryable
        self.delivered = delivered

    def __str__(self) -> str:
        return self.message


@dataclass
class RemoteFile:
    name: str
    path: str
    size: int


@dataclass
class HostKey:
    key_type: str
    sha256: str

    def __str__(self) -> str:
        return f"{self.key_type} {self.sha256}"


@dataclass
class Step:
    """One line of the Test connection report. A step that is not `required` (removing the
    probe: OCLC moves files away at once) is reported but does not fail the test."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    host_key: HostKey | None = None


def passed(steps: Sequence[Step]) -> bool:
    return bool(steps) and all(step.ok for step in steps if step.required)


def _secrets_of(connection: SftpConnection) -> list[str]:
    return [s for s in (connection.password, connection.passphrase) if s and len(s) >= 3]


def _scrub(connection: SftpConnection, text: str) -> str:
    for secret in _secrets_of(connection):
        text = text.replace(secret, "********")
    return text


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.strip().rstrip(".")


def _check_remote_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
        raise TransferError(
            f"“{name}” is not a plain file name for the server (no slashes or control characters).",
            category=CONFIG,
            retryable=False,
        )


def _local_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise TransferError(
            f"The local file {path} cannot be read: {exc.strerror}",
            category=CONFIG,
            retryable=False,
        ) from exc


class _Capped:
    """Reads at most `limit` bytes: a local file that grows while it is sent (it should not)
    ends the upload one byte long, so the size check fails instead of the upload never ending."""

    def __init__(self, fh, limit: int) -> None:
        self.fh = fh
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.left:
            size = self.left
        data = self.fh.read(size) if size else b""
        self.left -= len(data)
        return data


class Transfer:
    """An open session in the connection's directory. Use as a context manager."""

    # What the protocol library raises when an operation fails; each subclass adds its own.
    errors: tuple[type[BaseException], ...] = (OSError, EOFError)

    def __init__(self, connection: SftpConnection, sub_directory: str, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.where = f"{connection.server}:{connection.port}"
        try:
            self.directory = connection.remote_directory(sub_directory)
        except ValueError as exc:
            raise TransferError(str(exc), category=CONFIG, retryable=False) from exc
        self.host_key: HostKey | None = None

    # --- the phases of opening a session (test_connection runs them one by one) ------------

    def phases(self) -> list[tuple[str, Callable[[], str]]]:
        raise NotImplementedError

    def open(self) -> Transfer:
        try:
            for _name, phase in self.phases():
                phase()
        except BaseException:
            self.close()
            raise
        logger.info("Connected to %s as %s", self.where, self.connection.username)
        return self

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def path(self, remote_name: str) -> str:
        _check_remote_name(remote_name)
        return posixpath.join(self.directory, remote_name) if self.directory else remote_name

    # --- operations ----------------------------------------------------------------------

    def upload(
        self, local_path: Path, remote_name: str, *, progress: Progress | None = None
    ) -> RemoteFile:
        """Upload, verify the remote size, and (optionally) rename from NAME.part to NAME."""
        local_path = Path(local_path)
        final = self.path(remote_name)
        target = final + ".part" if self.connection.upload_with_temporary_name else final
        size = _local_size(local_path)
        logger.info("Uploading %s (%d bytes) to %s:%s", local_path.name, size, self.where, target)
        try:
            with local_path.open("rb") as fh:
                remote_size = self._put(_Capped(fh, size + 1), target, size, progress)
        except self.errors as exc:
            raise self._error(exc, f"uploading {target}") from exc
        if remote_size != size:
            raise TransferError(
                f"Size check failed for {target} on {self.where}: the server has "
                f"{remote_size} bytes, the local file {size}. The file was not counted as "
                "delivered.",
                category=REMOTE_REJECTED,
                retryable=True,
            )
        if target != final:
            try:
                self._rename(target, final)
            except self.errors as exc:
                raise self._error(exc, f"renaming {target} to {remote_name}") from exc
        logger.info("Verified %s on %s (%d bytes)", final, self.where, size)
        return RemoteFile(name=remote_name, path=final, size=size)

    def stat(self, remote_name: str) -> RemoteFile | None:
        path = self.path(remote_name)
        try:
            size = self._size(path)
        except self.errors as exc:
            raise self._error(exc, f"checking {path}") from exc
        return None if size is None else RemoteFile(name=remote_name, path=path, size=size)

    def listdir(self) -> list[str]:
        try:
            return sorted(self._listdir())
        except self.errors as exc:
            raise self._error(exc, f"listing {self.directory or 'the login folder'}") from exc

    def remove(self, remote_name: str) -> None:
        path = self.path(remote_name)
        try:
            self._remove(path)
        except self.errors as exc:
            raise self._error(exc, f"removing {path}") from exc
        logger.info("Removed %s on %s", path, self.where)

    def download(self, remote_name: str, local_path: Path) -> RemoteFile:
        path = self.path(remote_name)
        local_path = Path(local_path)
        try:
            with local_path.open("wb") as fh:
                self._get(path, fh)
            size = self._size(path)
        except self.errors as exc:
            raise self._error(exc, f"downloading {path}") from exc
        if size != local_path.stat().st_size:
            raise TransferError(
                f"Downloaded {local_path.stat().st_size} bytes of {path}, the server has {size}.",
                category=NETWORK,
                retryable=True,
            )
        return RemoteFile(name=remote_name, path=path, size=size)

    def keep_alive(self, interval: float) -> None:
        """Send a keepalive every `interval` seconds while the session is idle, where the
        protocol has one (SSH); plain FTP has none and relies on the check in `alive`."""

    def alive(self) -> bool:
        """Whether the session still answers (one cheap round trip): a session opened ahead
        of time may have been dropped by the server while it waited."""
        try:
            self._ping()
        except self.errors:
            return False
        return True

    def close(self) -> None:
        raise NotImplementedError

    # --- protocol specifics ----------------------------------------------------------------

    def _put(self, fh, remote_path: str, size: int, progress: Progress | None) -> int:
        """Write the file and return its size as the server has it. Measured on the open
        handle where the protocol allows: OCLC may move a file away the moment it is closed."""
        raise NotImplementedError

    def _size(self, remote_path: str) -> int | None:
        raise NotImplementedError

    def _ping(self) -> None:
        raise NotImplementedError

    def _rename(self, source: str, target: str) -> None:
        raise NotImplementedError

    def _listdir(self) -> list[str]:
        raise NotImplementedError

    def _remove(self, remote_path: str) -> None:
        raise NotImplementedError

    def _get(self, remote_path: str, fh) -> None:
        raise NotImplementedError

    def _error(self, exc: BaseException, action: str) -> TransferError:
        raise NotImplementedError

    def _fail(self, message: str, category: str, retryable: bool) -> TransferError:
        return TransferError(
            _scrub(self.connection, message), category=category, retryable=retryable
        )

    def _connect_socket(self) -> socket.socket:
        try:
            return socket.create_connection(
                (self.connection.server, self.connection.port), timeout=self.timeout
            )
        except OSError as exc:
            raise self._connect_failure(exc) from exc

    def _connect_failure(self, exc: OSError) -> TransferError:
        if isinstance(exc, TimeoutError):
            message = f"Timed out after {self.timeout:g} s connecting to {self.where}."
        elif isinstance(exc, ConnectionRefusedError):
            message = (
                f"{self.where} refused the connection: is the server running, and is the port "
                "right?"
            )
        elif isinstance(exc, socket.gaierror):
            message = (
                f"The host name {self.connection.server} could not be resolved ({exc.strerror})."
            )
        else:
            message = f"Could not connect to {self.where}: {exc.strerror or _describe(exc)}."
        return self._fail(message, NETWORK, True)
