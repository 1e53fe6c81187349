"""The emulated file exchange as a client sees it: the real asyncssh server, a paramiko client."""

from __future__ import annotations

import io
import itertools

import paramiko
import pymarc
import pytest

from datasync.filex import remove_if_unchanged
from datasync.models import Holding, IncomingFile

from .conftest import ACCOUNT_PASSWORD, connect, marc_bytes, marc_record


def uva_records_in_utf8(shared_marc, count: int) -> list[pymarc.Record]:
    """Real MARC-8 records from UVA, converted to UTF-8 as Alma would send them."""
    with open(shared_marc / "solrmarc" / "uva_001_2000.mrc", "rb") as stream:
        reader = pymarc.MARCReader(stream, to_unicode=True, force_utf8=False)
        records = list(itertools.islice(reader, count))
    for record in records:
        leader = str(record.leader)
        record.leader = leader[:9] + "a" + leader[10:]
        record.force_utf8 = True
    return records


@pytest.mark.django_db(transaction=True)
def test_a_file_uploaded_with_paramiko_is_processed_and_its_reports_can_be_downloaded(
    filex_server, account, collection, shared_marc
):
    records = uva_records_in_utf8(shared_marc, 40)
    name = f"{collection.collection_id}.ALMAD.bibs_1_new.mrc"
    transport, sftp = connect(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    try:
        # paramiko checks the remote size after closing: the upload must still be there then.
        sftp.putfo(io.BytesIO(marc_bytes(records)), f"/xfer/metacoll/in/bib/{name}")
        sftp.putfo(io.BytesIO(b"probe"), "/xfer/metacoll/in/bib/alma_probe.txt")
        reports = sorted(sftp.listdir("/xfer/metacoll/reports"))
        with sftp.open(f"/xfer/metacoll/reports/{reports[-1]}") as stream:
            xref = stream.read().decode()
        sftp.remove("/xfer/metacoll/in/bib/alma_probe.txt")
    finally:
        sftp.close()
        transport.close()

    incoming = IncomingFile.objects.get()
    assert incoming.file_name == name
    assert incoming.status == IncomingFile.Status.PROCESSED
    # Three of these UVA records (u11, u14, u15) carry their OCLC number only in 035 $z.
    assert (incoming.records, incoming.holdings_set, incoming.unresolved) == (40, 37, 3)
    assert Holding.objects.filter(institution=account.institution).count() == 37
    assert [r.split(".")[-2] for r in reports] == [
        "BibExceptionReport",
        "BibProcessingReport",
        "unresxrefrpt",
        "xrefrpt",
    ]
    assert xref.splitlines()[0] == "u1\t10698981"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_refused(filex_server, account):
    with pytest.raises(paramiko.AuthenticationException):
        connect(filex_server, "fx_almad", "not-the-password")


@pytest.mark.django_db(transaction=True)
def test_an_account_cannot_leave_its_own_folders(filex_server, account, filex_root):
    (filex_root / "secret.txt").write_text("host-key-neighbour")
    transport, sftp = connect(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    try:
        assert sorted(sftp.listdir("/xfer/metacoll")) == ["in", "reports"]
        with pytest.raises(IOError):
            sftp.stat("/../../secret.txt")
    finally:
        sftp.close()
        transport.close()


def test_a_picked_up_upload_is_removed_unless_it_was_replaced(tmp_path):
    path = tmp_path / "1234567.ALMAD.x.mrc"
    path.write_bytes(b"first")
    stat = path.stat()

    path.write_bytes(b"second upload")
    assert remove_if_unchanged(str(path), stat.st_size, stat.st_mtime_ns) is False
    assert path.exists()

    stat = path.stat()
    assert remove_if_unchanged(str(path), stat.st_size, stat.st_mtime_ns) is True
    assert not path.exists()


@pytest.mark.django_db(transaction=True)
def test_an_upload_renamed_into_place_is_taken_in_once_and_the_partial_name_ignored(
    filex_server, account, collection
):
    name = f"{collection.collection_id}.ALMAD.renamed.mrc"
    transport, sftp = connect(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    try:
        sftp.putfo(
            io.BytesIO(marc_bytes([marc_record("991", "(OCoLC)7")])),
            f"/xfer/metacoll/in/bib/{name}.part",
        )
        assert not IncomingFile.objects.exists()
        sftp.posix_rename(f"/xfer/metacoll/in/bib/{name}.part", f"/xfer/metacoll/in/bib/{name}")
    finally:
        sftp.close()
        transport.close()

    incoming = IncomingFile.objects.get()
    assert (incoming.file_name, incoming.status) == (name, IncomingFile.Status.PROCESSED)
