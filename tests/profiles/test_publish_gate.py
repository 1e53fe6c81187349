"""At publish time the validation gate runs again: an invalid stored record is reported for the
record and not sent, the rest of the job goes on; what the shared files publish is valid MARC 21
by independent programs (yaz-marcdump to MARCXML, xmllint with MARC21slim.xsd)."""

from __future__ import annotations

import re

import pytest

from profiles.engine import marcout
from profiles.models import JobRecord, PublishingJob
from records.gate import GATE_VERSION
from records.importer import Importer
from records.models import Bib
from tests.oracles import schema_problems
from tests.records.test_import import marc_files

from .conftest import make_bib, run, sent_records

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
C0_IN_DATA = re.compile(rb"[\x00-\x1c]")


def test_a_stored_invalid_record_is_reported_not_sent_and_the_rest_of_the_job_succeeds(
    profile, sshd
):
    good = [make_bib() for _ in range(3)]
    bad = make_bib("Broken later")
    # Written straight into the table, around every way in: an indicator MARC 21 does not have.
    data = bytes(bad.marc)
    at = data.index(b"\x1e00\x1fa")  # the 245's indicators
    Bib.objects.filter(pk=bad.pk).update(marc=data[: at + 1] + b"0-" + data[at + 3 :])
    assert Bib.objects.get(pk=bad.pk).gate_version == 0  # the database took the stamp away
    job = run(profile)
    assert job.status == PublishingJob.Status.COMPLETED_WITH_ERRORS, job.failure_message
    assert job.count_failed == 1 and job.count_new == 3
    record = JobRecord.objects.get(job=job, mms_id=bad.mms_id)
    assert (record.outcome, record.get_reason_display()) == ("failed", "Invalid record")
    assert record.detail.startswith("field 245 indicator 2 is '-'")
    sent = sent_records(sshd)
    assert sorted(sent) == sorted(str(b.mms_id) for b in good)
    assert str(bad.mms_id) not in sent


def test_only_records_without_the_current_gate_stamp_are_checked_again(profile, sshd, monkeypatch):
    stamped = [make_bib() for _ in range(3)]
    older = make_bib("Checked under older rules")
    Bib.objects.filter(pk=older.pk).update(gate_version=GATE_VERSION - 1)
    behind = make_bib("Changed behind the stamp")
    Bib.objects.filter(pk=behind.pk).update(marc=bytes(behind.marc).replace(b"Changed", b"Altered"))
    checked: list[bytes] = []
    gate = marcout._gate
    monkeypatch.setattr(marcout, "_gate", lambda data: checked.append(data) or gate(data))
    job = run(profile)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert job.count_new == 5
    assert sorted(sent_records(sshd)) == sorted(str(b.mms_id) for b in [*stamped, older, behind])
    assert len(checked) == 2
    assert [str(b.mms_id).encode() in d for b in (older, behind) for d in checked].count(True) == 2


def test_every_shared_record_that_imports_is_published_as_valid_marc21(profile, sshd, shared_marc):
    for path in marc_files(shared_marc):
        importer = Importer(default_holdings=("MAIN", "STACKS"))
        importer.import_path(path)
    imported = Bib.objects.count()
    assert imported > 3150
    job = run(profile)
    assert job.status == PublishingJob.Status.SUCCEEDED, (
        job.failure_message,
        list(JobRecord.objects.filter(job=job, outcome="failed").values_list("detail")[:5]),
    )
    published = b"".join(sshd.local_path(f.remote_path).read_bytes() for f in job.files.all())
    assert published.count(b"\x1d") == imported
    assert schema_problems(published) == ""
    # No C0 control characters in the data: only the delimiters, where ISO 2709 puts them.
    pos = 0
    while pos < len(published):
        length = int(published[pos : pos + 5])
        record = published[pos : pos + length]
        base = int(record[12:17])
        for field in record[base:-1].split(b"\x1e")[:-1]:
            assert not C0_IN_DATA.search(field.replace(b"\x1f", b"")), record[:40]
        pos += length
