"""The emulated OCLC file exchange: an SFTP server (asyncssh) in front of `intake.receive_file`.

This module only adapts SFTP to the intake function: password logins against FilexAccount, one
chroot per account with OCLC's folders, and a hand-over when an upload to /xfer/metacoll/in/bib is
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
from django.db import close_old_connections, connection
from django.utils import timezone

from .intake import BIB_DIRECTORY, ensure_account_home, receive_file
from .models import FilexAccount

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
        logger.info("file exchange: login refused for %r", username)
        return False
    FilexAccount.objects.filter(pk=account.pk).update(last_login_at=timezone.now())
    ensure_account_home(username, root)
    return True


class FilexSSHServer(asyncssh.SSHServer):
    def __init__(self, root: Path):
        self.root = root

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        return await asyncio.to_thread(_in_thread, check_login, username, password, self.root)


class FilexSFTPServer(asyncssh.SFTPServer):
    """SFTP confined to the account's home, handing finished uploads in /in/bib to intake."""

    def __init__(self, chan: asyncssh.SSHServerChannel, *, root: Path, pickup_delay: float):
        self.username = chan.get_extra_info("username")
        self.home = ensure_account_home(self.username, root)
        self.inbox = os.path.realpath(self.home / BIB_DIRECTORY.lstrip("/"))
        self.root = root
        self.pickup_delay = pickup_delay
        super().__init__(chan, chroot=str(self.home).encode())

    async def close(self, file_obj) -> None:
        written = getattr(file_obj, "mode", "rb") != "rb"
        name = getattr(file_obj, "name", None)
        file_obj.close()
        if written and isinstance(name, str | bytes):
            await self.hand_in(os.fsdecode(name))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        super().rename(oldpath, newpath)
        await self.hand_in(os.fsdecode(self.map_path(newpath)))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        super().posix_rename(oldpath, newpath)
        await self.hand_in(os.fsdecode(self.map_path(newpath)))

    async def hand_in(self, local_path: str) -> None:
        if os.path.dirname(os.path.realpath(local_path)) != self.inbox:
            return
        try:
            stat = os.stat(local_path)
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
            )
        except Exception:
            # The file is kept and marked failed by intake; the client's upload itself succeeded.
            logger.exception("file exchange: %s could not be taken in", local_path)
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


async def start_filex(
    *, host: str, port: int, root: Path, pickup_delay: float = 30.0
) -> tuple[asyncssh.SSHAcceptor, asyncssh.SSHKey]:
    """Start listening; returns the acceptor (`.get_port()`, `.close()`) and the host key."""
    root = Path(root)
    key = load_or_create_host_key(root)
    acceptor = await asyncssh.listen(
        host,
        port,
        server_factory=partial(FilexSSHServer, root),
        server_host_keys=[key],
        sftp_factory=partial(FilexSFTPServer, root=root, pickup_delay=pickup_delay),
        allow_scp=False,
        # OCLC's exchange is SFTP only: no shell, no exec, no port forwarding.
        process_factory=None,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
    return acceptor, key
