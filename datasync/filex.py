"""The emulated OCLC file exchange: an SFTP server (asyncssh) in front of `intake.receive_file`.

This module only adapts SFTP to the intake function: password logins against FilexAccount
(throttled, `throttle.py`), one confined home per account with OCLC's folders (the file rules,
quotas included, are `confined.py`), and a hand-over when an upload to /xfer/metacoll/in/bib is
complete (closed after writing, or renamed into place). Database work runs in worker threads,
never on the event loop, and each such call closes its connection when done.

Uploads are copied out at once and the original removed after `pickup_delay` seconds (when it has
not changed since): clients such as paramiko check the size of a file right after closing it, and
OCLC too empties the folder some time after the upload, not at the instant it completes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import partial
from pathlib import Path

import asyncssh
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from .confined import ConfinedSFTPServer, ExchangeFile, Quota, Usage
from .intake import (
    BIB_DIRECTORY,
    LHR_DIRECTORY,
    UPLOAD_DIRECTORIES,
    ensure_account_home,
    receive_file,
)
from .models import FilexAccount
from .throttle import LoginThrottle

logger = logging.getLogger(__name__)

HOST_KEY_NAME = "ssh_host_ed25519_key"


def load_or_create_host_key(root: Path) -> asyncssh.SSHKey:
    """The server's persistent host key, kept under the root so its fingerprint never changes."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / HOST_KEY_NAME
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        path.chmod(0o600)
    return asyncssh.read_private_key(str(path))


def _in_thread(function, *args, **kwargs):
    """Run a database-using function in a worker thread with a fresh, then closed, connection."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        connection.close()


def check_login(username: str, password: str, root: Path) -> bool:
    account = (
        FilexAccount.objects.filter(username=username, is_active=True)
        .select_related("institution")
        .first()
    )
    if account is None or not account.check_password(password):
        return False
    FilexAccount.objects.filter(pk=account.pk).update(last_login_at=timezone.now())
    ensure_account_home(username, root)
    return True


class FilexSSHServer(asyncssh.SSHServer):
    """Password logins against FilexAccount, throttled per account and per source address."""

    def __init__(self, root: Path, throttle: LoginThrottle):
        self.root = root
        self.throttle = throttle
        self.address = "unknown"

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        if peer:
            self.address = str(peer[0])

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        wait = self.throttle.wait(username, self.address)
        if wait > 0:
            logger.warning(
                "file exchange: login of %r from %s refused unchecked: too many failed "
                "passwords (account %d, address %d); next try in %.0f s",
                username,
                self.address,
                *self.throttle.failures(username, self.address),
                wait,
            )
            return False
        if await asyncio.to_thread(_in_thread, check_login, username, password, self.root):
            self.throttle.succeeded(username, self.address)
            return True
        wait = self.throttle.failed(username, self.address)
        logger.warning(
            "file exchange: login refused for %r from %s: wrong password or unknown account "
            "(account %d, address %d failures)%s",
            username,
            self.address,
            *self.throttle.failures(username, self.address),
            f"; next try in {wait:.0f} s" if wait else "",
        )
        return False


class FilexSFTPServer(ConfinedSFTPServer):
    """The account's home with OCLC's folders, handing finished uploads in /in/bib to intake."""

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel,
        *,
        root: Path,
        pickup_delay: float,
        quota: Quota,
        usage: dict[str, Usage],
    ):
        username = chan.get_extra_info("username")
        home = ensure_account_home(username, root)
        self.inboxes = {
            os.path.realpath(home / folder.lstrip("/")): folder
            for folder in (BIB_DIRECTORY, LHR_DIRECTORY)
        }
        self.root = root
        self.pickup_delay = pickup_delay
        super().__init__(
            chan,
            home=home,
            upload_folders=UPLOAD_DIRECTORIES,
            quota=quota,
            usage=usage.setdefault(username, Usage()),
        )

    async def close(self, file_obj: ExchangeFile) -> None:
        if file_obj.writing and not file_obj.discarded and self.channel.is_closing():
            # Not the client closing its file: the connection went away in the middle of the
            # upload (asyncssh closes what was left open). Half a file is never processed.
            logger.warning(
                "file exchange: %s lost its connection while uploading %s: discarded",
                self.username,
                os.fsdecode(file_obj.virtual),
            )
            self._discard(file_obj)
        super().close(file_obj)
        if file_obj.writing and not file_obj.discarded:
            await self.hand_in(os.fsdecode(file_obj.local))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        super().rename(oldpath, newpath)
        await self.hand_in(os.fsdecode(self.map_path(newpath)))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        super().posix_rename(oldpath, newpath)
        await self.hand_in(os.fsdecode(self.map_path(newpath)))

    async def hand_in(self, local_path: str) -> None:
        directory = self.inboxes.get(os.path.dirname(os.path.realpath(local_path)))
        if directory is None:
            return
        try:
            stat = os.stat(local_path, follow_symlinks=False)
        except FileNotFoundError:
            return
        try:
            incoming = await asyncio.to_thread(
                _in_thread,
                receive_file,
                local_path,
                account=self.username,
                arrived_at=timezone.now(),
                move=False,
                root=self.root,
                directory=directory,
            )
        except Exception:
            # The file is kept and marked failed by intake; the client's upload itself succeeded.
            logger.exception("file exchange: an upload of %s could not be taken in", self.username)
            return
        if incoming is None:
            return
        logger.info("file exchange: %s from %s is %s", incoming, self.username, incoming.status)
        asyncio.get_running_loop().call_later(
            self.pickup_delay, remove_if_unchanged, local_path, stat.st_size, stat.st_mtime_ns
        )


def remove_if_unchanged(path: str, size: int, mtime_ns: int) -> bool:
    """Remove a picked-up upload unless it was replaced since (then that upload is handed in)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
        return False
    os.remove(path)
    return True


def default_quota() -> Quota:
    return Quota(
        max_bytes=settings.OCLC_FILEX_QUOTA_BYTES, max_files=settings.OCLC_FILEX_QUOTA_FILES
    )


async def start_filex(
    *,
    host: str,
    port: int,
    root: Path,
    pickup_delay: float = 30.0,
    quota: Quota | None = None,
    throttle: LoginThrottle | None = None,
) -> tuple[asyncssh.SSHAcceptor, asyncssh.SSHKey]:
    """Start listening; returns the acceptor (`.get_port()`, `.close()`) and the host key.

    `quota` defaults to OCLC_FILEX_QUOTA_BYTES and OCLC_FILEX_QUOTA_FILES; `throttle` to a fresh
    LoginThrottle on the monotonic clock.
    """
    root = Path(root)
    key = load_or_create_host_key(root)
    throttle = throttle or LoginThrottle()
    usage: dict[str, Usage] = {}
    acceptor = await asyncssh.listen(
        host,
        port,
        server_factory=partial(FilexSSHServer, root, throttle),
        server_host_keys=[key],
        sftp_factory=partial(
            FilexSFTPServer,
            root=root,
            pickup_delay=pickup_delay,
            quota=quota or default_quota(),
            usage=usage,
        ),
        allow_scp=False,
        # OCLC's exchange is SFTP only: no shell, no exec, no port forwarding.
        process_factory=None,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
    return acceptor, key
