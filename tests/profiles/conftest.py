"""Fixtures for the publishing engine: a catalogue, a profile delivering to the real sshd, and a
reader for what arrived there."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import pymarc
import pytest

from ftp.models import SftpConnection
from profiles.engine import republish_set, run_now
from profiles.models import PublishingJob, PublishingProfile
from records import actions
from records.models import Bib

REMOTE_DIR = "/xfer/metacoll/in/bib"
_numbers = itertools.count(1001)


def data_field(tag: str, value: str, indicators: str = "  ", code: str = "a") -> pymarc.Field:
    return pymarc.Field(
        tag=tag,
        indicators=pymarc.Indicators(*indicators),
        subfields=[pymarc.Subfield(code, value)],
    )


def marc_record(title: str, oclc: str | None = None, note: str = "") -> pymarc.Record:
    record = pymarc.Record(leader="00000nam a2200000 a 4500")
    record.add_field(pymarc.Field(tag="008", data="200101s2020    nyu           000 0 eng d"))
    if oclc:
        record.add_field(data_field("035", oclc))
    record.add_field(data_field("245", title, "00"))
    if note:
        record.add_field(data_field("500", note))
    return record


def make_bib(title: str | None = None, *, oclc: str | None = "auto", tag=None, holdings=1) -> Bib:
    number = next(_numbers)
    if oclc == "auto":
        oclc = f"(OCoLC)ocm{number:08d}"
    return actions.create_bib(
        marc_record(title or f"Title {number}", oclc),
        export_tag=tag,
        holdings=[("MAIN", "STACKS", f"QA{number}")] * holdings,
    )


def no_sleep(seconds: float) -> None:
    """Delivery back-off without waiting."""


def run(profile, kind: str | None = None, *, bib_set=None, dry_run=False, **kw) -> PublishingJob:
    """What staff's Run now (or Republish set) does, in this process, through the engine's one
    way in: the requested job, finished. When a failed job is retried first and fails again,
    that retry (the requested job was not created). The profile is read again afterwards
    (a Full switches it to Incremental)."""
    if bib_set is not None:
        result = republish_set(profile, bib_set, dry_run=dry_run, in_process=True, sleep=no_sleep)
    else:
        result = run_now(profile, mode=kind, dry_run=dry_run, in_process=True, sleep=no_sleep, **kw)
    profile.refresh_from_db()
    return result.job if result.job is not None else result.retry


def edit_bib(bib: Bib, note: str) -> None:
    record = bib.record()
    record.add_field(data_field("500", note))
    actions.update_marc(bib, record)


@dataclass
class Sent:
    """One record as it arrived on the server."""

    file: str
    mms_id: str
    status: str
    oclc: list[str]
    record: pymarc.Record


def read_remote(sshd, remote_dir: str = REMOTE_DIR) -> dict[str, list[Sent]]:
    """Every file in the remote folder, parsed with pymarc, by file name."""
    folder: Path = sshd.local_path(remote_dir)
    out: dict[str, list[Sent]] = {}
    for path in sorted(folder.iterdir()):
        records = []
        for record in pymarc.MARCReader(io.BytesIO(path.read_bytes()), to_unicode=True):
            assert record is not None, f"{path.name} holds a record pymarc cannot read"
            oclc = [v for f in record.get_fields("035") for v in f.get_subfields("a")]
            records.append(Sent(path.name, record["001"].data, record.leader[5], oclc, record))
        out[path.name] = records
    return out


def sent_records(sshd, files: list[str] | None = None) -> dict[str, Sent]:
    """MMS ID -> record, over the given files (all by default); fails on a record sent twice."""
    found: dict[str, Sent] = {}
    for name, records in read_remote(sshd).items():
        if files is not None and name not in files:
            continue
        for sent in records:
            assert sent.mms_id not in found, f"{sent.mms_id} sent twice"
            found[sent.mms_id] = sent
    return found


@pytest.fixture
def sftp_connection(sshd, db) -> SftpConnection:
    connection = SftpConnection(
        name="OCLC Data Sync",
        server=sshd.host,
        port=sshd.port,
        sub_directory=REMOTE_DIR,
        username=sshd.username,
        password=sshd.password,
        host_key_type="ssh-ed25519",
        host_key_sha256=sshd.host_key_sha256(),
        min_files=0,
    )
    connection.full_clean()
    connection.save()
    return connection


@pytest.fixture
def connection_row(db) -> SftpConnection:
    """A connection row for pages whose jobs are queued, not run: no server behind it."""
    return SftpConnection.objects.create(
        name="OCLC Data Sync",
        server="127.0.0.1",
        port=2222,
        sub_directory="/xfer/metacoll/in/bib",
        username="fx_test",
        password="not-shown-anywhere-4711",
        host_key_type="ssh-ed25519",
        host_key_sha256="SHA256:abc",
    )


@pytest.fixture
def make_profile(db, publish_dir):
    def make(connection=None, **fields) -> PublishingProfile:
        values = {
            "oclc_symbol": "ALMAD",
            "collection_id": "1234567",
            "publishing_mode": PublishingProfile.Mode.FULL,
            "status": PublishingProfile.Status.ACTIVE if connection else "inactive",
            "ftp_connection": connection,
        }
        values.update(fields)
        profile = PublishingProfile(**values)
        profile.full_clean()
        profile.save()
        return profile

    return make


@pytest.fixture
def profile(make_profile, sftp_connection) -> PublishingProfile:
    return make_profile(sftp_connection)


# --- the emulated WorldCat Metadata API ----------------------------------------------------------

API_SECRET = "wskey-secret-for-tests-9f"


@dataclass
class OclcApi:
    """The emulated OCLC API as a profile reaches it: addresses, WSKey and secret."""

    base_url: str
    token_url: str
    key: object
    secret: str = API_SECRET

    @property
    def institution(self):
        return self.key.institution

    def attach(self, profile: PublishingProfile):
        from profiles.models import WorldCatApi

        api, _ = WorldCatApi.objects.update_or_create(
            profile=profile,
            defaults={
                "base_url": self.base_url,
                "token_url": self.token_url,
                "wskey": self.key.client_id,
                "secret": self.secret,
            },
        )
        return api


def make_oclc_api(root_url: str, symbol: str = "ALMAD") -> OclcApi:
    from datasync.models import ApiKey, Institution

    institution, _ = Institution.objects.get_or_create(symbol=symbol, defaults={"name": symbol})
    key = ApiKey(institution=institution, name="tests")
    key.set_secret(API_SECRET)
    key.save()
    return OclcApi(f"{root_url}/oclc/worldcat", f"{root_url}/oclc/oauth/token", key)


@pytest.fixture
def oclc_api(live_server) -> OclcApi:
    """The emulated API served over real HTTP by Django's live server on 127.0.0.1."""
    from profiles.worldcat.client import forget_tokens

    forget_tokens()
    yield make_oclc_api(live_server.url)
    forget_tokens()


def reconcile_through_api(profile: PublishingProfile, *, limit: int | None = 500):
    """Reconciliation as staff run it: through the profile's API client, with Collection
    Manager's holdings export (written by the emulated OCLC side) for unknown holdings."""
    import tempfile

    from datasync.holdings import write_holdings_export
    from datasync.models import Institution
    from profiles.reconcile import reconcile
    from profiles.worldcat.client import WorldCatClient
    from profiles.worldcat.export import read_export

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "holdings-export.mrc"
        with path.open("wb") as stream:
            institution = Institution.objects.filter(symbol=profile.oclc_symbol).first()
            if institution is not None:
                write_holdings_export(institution, stream)
        with WorldCatClient.for_profile(profile.worldcat_api) as client:
            result = reconcile(profile, client=client, export=read_export(path), limit=limit)
    assert result.unknown_available
    return result
