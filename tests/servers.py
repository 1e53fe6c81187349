"""Real servers for tests and benchmarks: a throwaway OpenSSH sshd with a chrooted SFTP-only user.

Used by `tests/conftest.py` and by `bench/`. The server gets its own config, host key and
authorized-keys folder under /srv (never /tmp: sshd's StrictModes refuses key files there), runs
on a free loopback port and is stopped by the PID in its pid file.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
SFTP_USER = "almasftp"
SFTP_GROUP = "sftponly"
# Folders created inside the chroot, owned by the SFTP user: OCLC's layout and a plain one.
SFTP_PASSWORD = "sftp-Test-pass-2718"
REMOTE_DIRS = ("upload", "xfer/metacoll/in/bib", "xfer/metacoll/in/lhr", "xfer/metacoll/reports")


class SshdUnavailable(RuntimeError):
    """sshd cannot run here (not installed, or not root)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_user(password: str) -> None:
    if subprocess.run(["getent", "group", SFTP_GROUP], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", SFTP_GROUP], check=True)
    try:
        pwd.getpwnam(SFTP_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--no-create-home",
                "--home-dir",
                "/upload",
                "--shell",
                "/usr/sbin/nologin",
                "-g",
                SFTP_GROUP,
                SFTP_USER,
            ],
            check=True,
        )
    subprocess.run(["chpasswd"], input=f"{SFTP_USER}:{password}".encode(), check=True)


@dataclass
class SshdServer:
    """A running sshd; `root` is the chroot, so remote `/x/y` is `root / "x/y"` locally."""

    base: Path
    port: int = 0
    host: str = "127.0.0.1"
    username: str = SFTP_USER
    # One fixed password: several test runs may share the system user at once, and each run
    # sets it again with chpasswd.
    password: str = SFTP_PASSWORD
    pid: int | None = None

    @property
    def root(self) -> Path:
        return self.base / "chroot"

    @property
    def client_key_path(self) -> Path:
        return self.base / "client_key"

    @property
    def client_key_text(self) -> str:
        return self.client_key_path.read_text()

    @property
    def host_key_path(self) -> Path:
        return self.base / "keys" / "ssh_host_ed25519_key"

    @property
    def log_path(self) -> Path:
        return self.base / "sshd.log"

    def host_key_sha256(self) -> str:
        """The host key's fingerprint as OpenSSH prints it: 'SHA256:...'."""
        out = subprocess.run(
            [str(SSH_KEYGEN), "-l", "-E", "sha256", "-f", f"{self.host_key_path}.pub"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()[1]

    def local_path(self, remote: str) -> Path:
        return self.root / remote.lstrip("/")

    def setup(self) -> None:
        if not SSHD.exists():
            raise SshdUnavailable(
                "OpenSSH server is not installed (apt-get install openssh-server)"
            )
        if os.geteuid() != 0:
            raise SshdUnavailable("sshd tests need root: they create a chrooted system user")
        _ensure_user(self.password)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        if self.base.exists():
            shutil.rmtree(self.base)
        # Every parent of the chroot must be root-owned and not group/world-writable.
        self.base.mkdir(mode=0o755, parents=True)
        os.chmod(self.base, 0o755)
        (self.base / "keys").mkdir(mode=0o700)
        (self.base / "authorized_keys").mkdir(mode=0o755)
        self.root.mkdir(mode=0o755)
        subprocess.run(
            [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key_path)],
            check=True,
        )
        subprocess.run(
            [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key_path)],
            check=True,
        )
        pub = Path(f"{self.client_key_path}.pub").read_text()
        keys_file = self.base / "authorized_keys" / self.username
        keys_file.write_text(pub)
        keys_file.chmod(0o644)
        self.reset_files()
        self.write_config()

    def reset_files(self) -> None:
        """Empty the chroot and recreate the remote folders, owned by the SFTP user."""
        user = pwd.getpwnam(self.username)
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for rel in REMOTE_DIRS:
            path = self.root
            for part in Path(rel).parts:
                path = path / part
                path.mkdir(exist_ok=True)
                os.chown(path, user.pw_uid, user.pw_gid)
                path.chmod(0o755)

    def write_config(
        self, *, password_auth: bool = True, ciphers: str = "", log_level: str = "INFO"
    ) -> None:
        """`ciphers`: the server's cipher list (OpenSSH's default when empty); `log_level`
        DEBUG makes the log name the cipher each connection agreed on."""
        self.port = self.port or free_port()
        (self.base / "sshd_config").write_text(
            f"""Port {self.port}
ListenAddress {self.host}
HostKey {self.host_key_path}
PidFile {self.base / "sshd.pid"}
LogLevel {log_level}
{f"Ciphers {ciphers}" if ciphers else ""}
UsePAM no
PasswordAuthentication {"yes" if password_auth else "no"}
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AuthorizedKeysFile {self.base / "authorized_keys"}/%u
AllowUsers {self.username}
MaxStartups 50:30:100
LoginGraceTime 30
Subsystem sftp internal-sftp
Match User {self.username}
    ChrootDirectory {self.root}
    ForceCommand internal-sftp
    AllowTcpForwarding no
    X11Forwarding no
    PermitTTY no
"""
        )

    def start(self) -> None:
        config = self.base / "sshd_config"
        subprocess.run([str(SSHD), "-t", "-f", str(config)], check=True, capture_output=True)
        subprocess.run([str(SSHD), "-f", str(config), "-E", str(self.log_path)], check=True)
        pid_file = self.base / "sshd.pid"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if pid_file.exists() and pid_file.read_text().strip():
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        self.pid = int(pid_file.read_text().strip())
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start; log:\n{self.log_path.read_text()}")

    def is_running(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """Stop the listener and every session it spawned, so a dropped connection is real."""
        if self.pid is None:
            return
        # Sessions are children of the listener: kill them first, while they are still its
        # children (afterwards they would be re-parented and out of reach of -P). Each session
        # is a root "[priv]" monitor with the user's process below it, which holds the socket
        # too: kill the grandchildren as well, or the connection survives the stop.
        monitors = subprocess.run(
            ["pgrep", "-P", str(self.pid)], capture_output=True, text=True
        ).stdout.split()
        for monitor in monitors:
            subprocess.run(["pkill", "-KILL", "-P", monitor], capture_output=True)
        subprocess.run(["pkill", "-KILL", "-P", str(self.pid)], capture_output=True)
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.is_running():
            time.sleep(0.05)
        self.pid = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start_sshd(base: Path | None = None) -> SshdServer:
    base = base or Path("/srv") / f"alma-test-sshd-{os.getpid()}"
    server = SshdServer(base=base)
    server.setup()
    server.start()
    return server


@contextmanager
def asyncssh_in_thread(start: Callable[[], Awaitable]) -> Iterator:
    """Run an asyncssh server on an event loop of its own thread; yields what `start()` returned
    (an acceptor). The test's own thread may hold a browser's loop, so none is shared."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    acceptor = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield acceptor
    finally:

        async def stop():  # on the server's own loop: asyncio servers are not thread-safe
            acceptor.close()
            await acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
