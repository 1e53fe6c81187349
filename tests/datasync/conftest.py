"""Fixtures of the OCLC side: an institution with an account and an accepted default collection,
MARC records built in the test, and uploads handed to `receive_file` as the SFTP adapter would."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import paramiko
import pymarc
import pytest

from datasync.filex import start_filex
from datasync.intake import BIB_DIRECTORY, ensure_account_home, receive_file
from datasync.models import Collection, FilexAccount, Institution
from tests.servers import asyncssh_in_thread

ACCOUNT_PASSWORD = "filex-test-password-7"


@pytest.fixture
def filex_root(settings, tmp_path) -> Path:
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"
    return settings.OCLC_FILEX_ROOT


@pytest.fixture
def institution(db) -> Institution:
    return Institution.objects.create(symbol="ALMAD", name="Alma Demo University")


@pytest.fixture
def account(institution) -> FilexAccount:
    account = FilexAccount(institution=institution, username="fx_almad")
    account.set_password(ACCOUNT_PASSWORD)
    account.save()
    return account


@pytest.fixture
def collection(institution) -> Collection:
    """The guide's collection, accepted by OCLC and made the default."""
    return Collection.objects.create(
        institution=institution,
        name="Published from Alma",
        provider="Ex Libris",
        system_name="Alma",
        use_record_status=True,
        limit_to_staging=True,
        replace_records=False,
        status=Collection.Status.ACCEPTED,
        is_default=True,
    )


def marc_record(
    lsn: str | None,
    *oclc: str,
    status: str = "n",
    title: str | None = "A title /",
) -> pymarc.Record:
    """A UTF-8 bibliographic record with 001 = lsn and one 035 $a per value in `oclc`."""
    record = pymarc.Record(force_utf8=True, leader=f"00000{status}am a2200000 i 4500")
    if lsn is not None:
        record.add_field(pymarc.Field(tag="001", data=lsn))
    for value in oclc:
        record.add_field(
            pymarc.Field(tag="035", indicators=[" ", " "], subfields=[pymarc.Subfield("a", value)])
        )
    if title is not None:
        record.add_field(
            pymarc.Field(tag="245", indicators=["1", "0"], subfields=[pymarc.Subfield("a", title)])
        )
    return record


def marc_bytes(records: Iterable[pymarc.Record]) -> bytes:
    return b"".join(r.as_marc() for r in records)


@pytest.fixture
def inbox(filex_root, account) -> Path:
    return ensure_account_home(account.username) / BIB_DIRECTORY.lstrip("/")


@pytest.fixture
def upload(inbox, account):
    """upload(name, records or bytes, arrived_at=..., now=...) -> IncomingFile, like an SFTP put."""

    def _upload(name: str, content, *, arrived_at: datetime | None = None, now=None):
        data = content if isinstance(content, bytes) else marc_bytes(content)
        path = inbox / name
        path.write_bytes(data)
        return receive_file(path, account=account, arrived_at=arrived_at, now=now)

    return _upload


# --- the exchange over SFTP ---------------------------------------------------------------------


@pytest.fixture
def filex_options() -> dict:
    """Extra keyword arguments for start_filex (quota, throttle); a test module may override."""
    return {}


@pytest.fixture
def filex_server(filex_root, filex_options):
    """The real asyncssh exchange on a loopback port, on an event loop of its own thread."""
    keys = []

    async def start():
        acceptor, key = await start_filex(
            host="127.0.0.1", port=0, root=filex_root, pickup_delay=3600, **filex_options
        )
        keys.append(key)
        return acceptor

    with asyncssh_in_thread(start) as acceptor:
        yield SimpleNamespace(
            port=acceptor.get_port(), fingerprint=keys[0].get_fingerprint("sha256")
        )


def connect(server, username: str, password: str) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    transport = paramiko.Transport(("127.0.0.1", server.port))
    transport.start_client(timeout=10)
    # The host key is pinned: the fingerprint the server logs is the one the client sees.
    seen = transport.get_remote_server_key().asbytes()
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(seen).digest()).decode().rstrip("=")
    assert fingerprint == server.fingerprint
    try:
        transport.auth_password(username, password)
    except BaseException:
        transport.close()
        raise
    return transport, paramiko.SFTPClient.from_transport(transport)
