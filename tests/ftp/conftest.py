"""Fixtures for the S/FTP tests: connections to the real sshd, and a real FTP server."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftp.models import SftpConnection

FTP_USER = "almaftp"
FTP_PASSWORD = "ftp-Test-pass-3141"


@pytest.fixture
def make_connection(db):
    """Save an S/FTP connection with the guide's OCLC values, overridden by keyword."""

    def make(**fields) -> SftpConnection:
        values = {
            "name": "OCLC Data Sync",
            "server": "127.0.0.1",
            "port": 22,
            "sub_directory": "/xfer/metacoll/in/bib",
            "username": "nobody",
            "password": "",
        }
        values.update(fields)
        connection = SftpConnection(**values)
        connection.full_clean()
        connection.save()
        return connection

    return make


@pytest.fixture
def sftp_connection(sshd, make_connection):
    """A pinned password connection to the sshd fixture's OCLC-like folder."""
    return make_connection(
        port=sshd.port,
        username=sshd.username,
        password=sshd.password,
        host_key_type="ssh-ed25519",
        host_key_sha256=sshd.host_key_sha256(),
    )


@dataclass
class FtpServer:
    host: str
    port: int
    root: Path
    username: str = FTP_USER
    password: str = FTP_PASSWORD

    def local_path(self, remote: str) -> Path:
        return self.root / remote.lstrip("/")


@pytest.fixture
def ftpd(tmp_path):
    """A real pyftpdlib server on a loopback port, serving an OCLC-like folder tree."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    root = tmp_path / "ftp-root"
    (root / "xfer" / "metacoll" / "in" / "bib").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(root), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "banner": "test ftpd"})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    yield FtpServer(host="127.0.0.1", port=server.address[1], root=root)
    server.close_all()
    thread.join(timeout=5)


@pytest.fixture
def sshd_denying(sshd):
    """Restart the sshd with its SFTP server refusing some requests (`internal-sftp -P`), e.g.
    "remove" to play OCLC, whose folder swallows files; the normal config comes back after."""

    def deny(*requests: str) -> None:
        config = sshd.base / "sshd_config"
        text = config.read_text()
        sshd.stop()
        config.write_text(
            text.replace(
                "ForceCommand internal-sftp", f"ForceCommand internal-sftp -P {','.join(requests)}"
            )
        )
        sshd.start()

    yield deny
    sshd.stop()
    sshd.write_config()
    sshd.start()


def write_file(path: Path, size: int) -> Path:
    """A local file of `size` bytes of varied content."""
    block = bytes(range(256)) * 4096
    with path.open("wb") as fh:
        while size > 0:
            fh.write(block[: min(size, len(block))])
            size -= len(block)
    return path
