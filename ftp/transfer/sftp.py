"""SFTP over SSH with paramiko: host-key pinning, password or key login, SFTP operations."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import stat as stat_module
from typing import TYPE_CHECKING

import paramiko
from django.views.decorators.debug import sensitive_variables
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY, SFTPError

from .base import (
    AUTH,
    CONFIG,
    HOST_KEY,
    NETWORK,
    REMOTE_REJECTED,
    HostKey,
    Transfer,
    TransferError,
    _describe,
)

if TYPE_CHECKING:
    from ftp.models import SftpConnection

# Offered first: AES-GCM encrypts and authenticates in one pass (no separate MAC), the fastest
# cipher paramiko has. paramiko's own list follows unchanged, so a server without GCM agrees on
# its usual cipher, as before.
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
# Every SFTP server takes write requests of 32 KiB (the protocol's minimum); OpenSSH's says how
# much more it takes (limits@openssh.com: 255 KiB). Fewer, larger requests upload faster: less
# per-request work on both sides, fewer replies to wait for.
SAFE_WRITE_BYTES = 32 * 1024
MAX_WRITE_BYTES = 255 * 1024


def write_request_bytes(max_write_length: int | None) -> int:
    """The write request size to use given the server's advertised max-write-length (None:
    not advertised; 0: the server sets no limit)."""
    if max_write_length is None:
        return SAFE_WRITE_BYTES
    if max_write_length == 0:
        return MAX_WRITE_BYTES
    return max(SAFE_WRITE_BYTES, min(max_write_length, MAX_WRITE_BYTES))


def fingerprint(key_bytes: bytes) -> str:
    """A public key's fingerprint as OpenSSH prints it: 'SHA256:' + unpadded base64."""
    digest = hashlib.sha256(key_bytes).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@sensitive_variables("text", "passphrase")
def load_private_key(text: str, passphrase: str = "") -> paramiko.PKey:
    """Parse an OpenSSH or PEM private key; ValueError with a clear message when it cannot."""
    last: Exception | None = None
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text.strip() + "\n"), passphrase or None)
        except paramiko.PasswordRequiredException:
            raise ValueError("This private key is encrypted: enter its passphrase.") from None
        except (paramiko.SSHException, ValueError, TypeError, IndexError) as exc:
            last = exc
            # paramiko's wording for a wrong passphrase varies by key format.
            if any(w in str(exc).lower() for w in ("passphrase", "decrypt", "checkints")):
                raise ValueError("The passphrase does not open this private key.") from None
    raise ValueError(
        "This is not a private key paramiko can read (expected an OpenSSH or PEM ed25519, "
        "ECDSA or RSA key beginning with -----BEGIN)."
    ) from last


def private_key_problem(text: str, passphrase: str = "") -> str | None:
    try:
        load_private_key(text, passphrase)
    except ValueError as exc:
        return str(exc)
    return None


class SftpTransfer(Transfer):
    errors = (OSError, EOFError, paramiko.SSHException)

    def __init__(self, connection: SftpConnection, sub_directory: str, timeout: float) -> None:
        super().__init__(connection, sub_directory, timeout)
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.write_bytes = SAFE_WRITE_BYTES

    def phases(self):
        return [
            ("Connect", self._connect),
            ("Host key", self._check_host_key),
            ("Authenticate", self._authenticate),
            ("Change to the sub-directory", self._enter_directory),
        ]

    def _connect(self) -> str:
        sock = self._connect_socket()
        transport = paramiko.Transport(sock)
        options = transport.get_security_options()
        options.ciphers = FAST_CIPHERS + tuple(c for c in options.ciphers if c not in FAST_CIPHERS)
        transport.banner_timeout = self.timeout
        transport.handshake_timeout = self.timeout
        transport.auth_timeout = self.timeout
        self._transport = transport
        try:
            transport.start_client(timeout=self.timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._fail(
                f"The SSH handshake with {self.where} failed: {_describe(exc)}.", NETWORK, True
            ) from exc
        key = transport.get_remote_server_key()
        self.host_key = HostKey(key.get_name(), fingerprint(key.asbytes()))
        return f"Connected to {self.where} ({transport.remote_version})."

    def _check_host_key(self) -> str:
        """Credentials go only to the server whose key was pinned: never to an unpinned one
        (a man in the middle at first set-up), never to one presenting another key."""
        pinned = self.connection.host_key_sha256
        got = self.host_key
        if not pinned:
            raise self._fail(
                f"The host key of {self.where} is not pinned, so nothing is delivered: pin the "
                "host key with Test connection first (S/FTP connections › Test connection).",
                HOST_KEY,
                False,
            )
        if got.sha256 != pinned:
            raise self._fail(
                f"Host key mismatch for {self.where}: expected {pinned} (pinned), got "
                f"{got.key_type} {got.sha256}. If the server's key was changed on purpose, "
                "confirm the new fingerprint with its administrators, then run Test connection "
                "and pin it again; otherwise someone may be intercepting the connection.",
                HOST_KEY,
                False,
            )
        return f"{got} — matches the pinned key."

    @sensitive_variables("pkey")
    def _authenticate(self) -> str:
        conn = self.connection
        method = "key" if conn.auth_method == conn.AuthMethod.KEY else "password"
        try:
            if method == "key":
                try:
                    pkey = load_private_key(conn.private_key, conn.passphrase)
                except ValueError as exc:
                    raise self._fail(str(exc), CONFIG, False) from exc
                self._transport.auth_publickey(conn.username, pkey)
            else:
                self._transport.auth_password(conn.username, conn.password)
        except paramiko.BadAuthenticationType as exc:
            allowed = ", ".join(exc.allowed_types) or "none"
            raise self._fail(
                f"{self.where} does not accept {method} logins for {conn.username} "
                f"(it allows: {allowed}).",
                AUTH,
                False,
            ) from exc
        except paramiko.AuthenticationException as exc:
            what = "private key" if method == "key" else "password"
            raise self._fail(
                f"{self.where} rejected the login of {conn.username} with this {what}: check the "
                "username and the " + what + ".",
                AUTH,
                False,
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._error(exc, "logging in") from exc
        try:
            self._sftp = paramiko.SFTPClient.from_transport(self._transport)
            self._sftp.get_channel().settimeout(self.timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._fail(
                f"{self.where} accepted the login but refused the SFTP subsystem: "
                f"{_describe(exc)}.",
                REMOTE_REJECTED,
                False,
            ) from exc
        self.write_bytes = write_request_bytes(self._max_write_length())
        return f"Logged in as {conn.username} with a {method}."

    def _max_write_length(self) -> int | None:
        """The server's max-write-length from OpenSSH's limits@openssh.com extension, or None
        when the server does not answer it (any server but OpenSSH's may not)."""
        try:
            # paramiko has no public call for an extension's reply; _request is its own
            # request/response primitive, used here as SFTPClient's methods use it.
            kind, reply = self._sftp._request(CMD_EXTENDED, "limits@openssh.com")
            if kind != CMD_EXTENDED_REPLY:
                return None
            reply.get_int64()  # max-packet-length
            reply.get_int64()  # max-read-length
            return reply.get_int64()
        except (OSError, EOFError, paramiko.SSHException, SFTPError):
            # "Operation unsupported" (the SFTP answer to an unknown extension) or a reply
            # shaped otherwise: the protocol's safe size. A lost connection shows at once in
            # the next step, with its own message.
            return None

    def _enter_directory(self) -> str:
        if not self.directory:
            return "Files go to the folder the login starts in."
        try:
            # No chdir: every operation names its full path, which also keeps a relative
            # sub-directory relative to the login folder.
            attrs = self._sftp.stat(self.directory)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._error(exc, f"opening the sub-directory {self.directory}") from exc
        if not stat_module.S_ISDIR(attrs.st_mode or 0):
            raise self._fail(
                f"{self.directory} on {self.where} is a file, not a directory.",
                REMOTE_REJECTED,
                False,
            )
        return f"{self.directory} exists."

    def _error(self, exc: BaseException, action: str) -> TransferError:
        if isinstance(exc, TransferError):
            return exc
        alive = self._transport is not None and self._transport.is_active()
        if isinstance(exc, TimeoutError):
            return self._fail(
                f"Timed out after {self.timeout:g} s {action} on {self.where}.", NETWORK, True
            )
        if not alive or isinstance(exc, EOFError | paramiko.SSHException | ConnectionError):
            return self._fail(
                f"The connection to {self.where} was lost while {action}: {_describe(exc)}.",
                NETWORK,
                True,
            )
        if getattr(exc, "errno", None) == errno.ENOENT:
            return self._fail(
                f"No such file or directory on {self.where} while {action}.", REMOTE_REJECTED, False
            )
        if getattr(exc, "errno", None) == errno.EACCES:
            return self._fail(
                f"Permission denied on {self.where} while {action}: ask the server's "
                "administrators for write access.",
                REMOTE_REJECTED,
                False,
            )
        return self._fail(
            f"{self.where} refused {action}: {_describe(exc)} (a full disk or quota looks "
            "like this).",
            REMOTE_REJECTED,
            False,
        )

    def _put(self, fh, remote_path, size, progress):
        with self._sftp.open(remote_path, "wb") as remote:
            # Pipelined: requests go out without waiting for each reply; the replies (and any
            # write error) are collected as they come and at the latest by the FSTAT below.
            remote.set_pipelined(True)
            remote.MAX_REQUEST_SIZE = self.write_bytes
            sent = 0
            while chunk := fh.read(self.write_bytes):
                remote.write(chunk)
                sent += len(chunk)
                if progress is not None:
                    progress(sent, size)
            # FSTAT is answered after every pending write; close() then raises any write error.
            return remote.stat().st_size

    def _size(self, remote_path):
        try:
            return self._sftp.stat(remote_path).st_size
        except OSError as exc:
            if exc.errno == errno.ENOENT and self._transport.is_active():
                return None
            raise

    def _rename(self, source, target):
        self._sftp.posix_rename(source, target)

    def keep_alive(self, interval: float) -> None:
        if self._transport is not None:
            self._transport.set_keepalive(int(interval))

    def _ping(self):
        if self._sftp is None or not self._transport.is_active():
            raise EOFError("the session is closed")
        self._sftp.stat(self.directory or ".")

    def _listdir(self):
        return [n for n in self._sftp.listdir(self.directory or ".") if n not in (".", "..")]

    def _remove(self, remote_path):
        self._sftp.remove(remote_path)

    def _get(self, remote_path, fh):
        self._sftp.getfo(remote_path, fh)

    def close(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # already gone: closing is best effort
            self._sftp = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
