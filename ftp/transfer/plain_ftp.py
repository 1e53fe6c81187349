"""Plain FTP with ftplib (FTP Server Secured unchecked), passive or active mode."""

from __future__ import annotations

import ftplib
import posixpath
from typing import TYPE_CHECKING

from django.views.decorators.debug import sensitive_variables

from .base import (
    AUTH,
    NETWORK,
    REMOTE_REJECTED,
    Transfer,
    TransferError,
    _check_remote_name,
    _describe,
)

if TYPE_CHECKING:
    from ftp.models import SftpConnection


class FtpTransfer(Transfer):
    """Plain FTP (FTP Server Secured unchecked): the password travels unencrypted."""

    errors = (OSError, EOFError, ftplib.Error)

    def __init__(self, connection: SftpConnection, sub_directory: str, timeout: float) -> None:
        super().__init__(connection, sub_directory, timeout)
        self._ftp: ftplib.FTP | None = None
        self._in_directory = False

    def phases(self):
        return [
            ("Connect", self._connect),
            ("Authenticate", self._authenticate),
            ("Change to the sub-directory", self._enter_directory),
        ]

    def _connect(self) -> str:
        # The caller chose plain FTP (FTP Server Secured unchecked); the form warns about it.
        self._ftp = ftplib.FTP(timeout=self.timeout)  # noqa: S321
        try:
            welcome = self._ftp.connect(self.connection.server, self.connection.port)
        except OSError as exc:
            raise self._connect_failure(exc) from exc
        except (EOFError, ftplib.Error) as exc:
            raise self._error(exc, "connecting") from exc
        return f"Connected to {self.where} ({welcome.splitlines()[0][:120]})."

    @sensitive_variables("password")
    def _authenticate(self) -> str:
        conn = self.connection
        password = conn.password
        try:
            self._ftp.login(conn.username, password)
            self._ftp.set_pasv(conn.passive_mode)
            self._ftp.voidcmd("TYPE I")
        except (OSError, EOFError, ftplib.Error) as exc:
            raise self._error(exc, "logging in") from exc
        mode = "passive" if conn.passive_mode else "active"
        return f"Logged in as {conn.username} ({mode} mode)."

    def _enter_directory(self) -> str:
        if not self.directory:
            return "Files go to the folder the login starts in."
        try:
            if self.connection.allow_navigation:
                self._ftp.cwd(self.directory)
                self._in_directory = True
            else:
                self._ftp.nlst(self.directory)
        except (OSError, EOFError, ftplib.Error) as exc:
            raise self._error(exc, f"opening the sub-directory {self.directory}") from exc
        return f"{self.directory} exists."

    def path(self, remote_name: str) -> str:
        if self._in_directory:
            _check_remote_name(remote_name)
            return remote_name
        return super().path(remote_name)

    def _error(self, exc: BaseException, action: str) -> TransferError:
        if isinstance(exc, TransferError):
            return exc
        if isinstance(exc, TimeoutError):
            return self._fail(
                f"Timed out after {self.timeout:g} s {action} on {self.where}.", NETWORK, True
            )
        reply = _describe(exc)
        code = reply[:3]
        if isinstance(exc, ftplib.error_perm) and code == "530":
            return self._fail(
                f"{self.where} rejected the login of {self.connection.username}: check the "
                f"username and password ({reply}).",
                AUTH,
                False,
            )
        if isinstance(exc, ftplib.error_perm) or code in ("452", "552"):
            return self._fail(f"{self.where} refused {action}: {reply}.", REMOTE_REJECTED, False)
        return self._fail(
            f"The connection to {self.where} failed while {action}: {reply}.", NETWORK, True
        )

    def _put(self, fh, remote_path, size, progress):
        sent = 0

        def block_sent(block: bytes) -> None:
            nonlocal sent
            sent += len(block)
            if progress is not None:
                progress(sent, size)

        self._ftp.storbinary(f"STOR {remote_path}", fh, callback=block_sent)
        remote_size = self._size(remote_path)
        # Gone already (the receiver took it): the 226 reply acknowledged every byte sent.
        return sent if remote_size is None else remote_size

    def _size(self, remote_path):
        # Listings switch the session to ASCII, where servers refuse SIZE with the same 550
        # as for a missing file.
        self._ftp.voidcmd("TYPE I")
        try:
            return self._ftp.size(remote_path)
        except ftplib.error_perm as exc:
            if str(exc).startswith("550"):
                return None
            raise

    def _ping(self):
        if self._ftp is None or self._ftp.sock is None:
            raise EOFError("the session is closed")
        self._ftp.voidcmd("NOOP")

    def _rename(self, source, target):
        try:
            self._ftp.rename(source, target)
        except ftplib.error_perm:
            # Some servers refuse to rename over an existing file.
            self._ftp.delete(target)
            self._ftp.rename(source, target)

    def _listdir(self):
        try:
            names = self._ftp.nlst() if self._in_directory else self._ftp.nlst(self.directory)
        except ftplib.error_perm as exc:
            if str(exc).startswith("550"):
                return []  # some servers answer an empty listing with 550
            raise
        return [posixpath.basename(n) for n in names if posixpath.basename(n) not in (".", "..")]

    def _remove(self, remote_path):
        self._ftp.delete(remote_path)

    def _get(self, remote_path, fh):
        self._ftp.retrbinary(f"RETR {remote_path}", fh.write)

    def close(self) -> None:
        if self._ftp is not None:
            if self._ftp.sock is not None:
                try:
                    self._ftp.quit()
                except (OSError, EOFError, ftplib.Error):
                    pass  # the session is going away anyway
            self._ftp.close()
            self._ftp = None
