"""The LHR profile ("Publish local holdings records (LHR) to OCLC") through the same engine: MARC 21
holdings records to the real sshd's in/lhr, new, changed and deleted holdings as n, c, d, the
shared-OCN safety and deletes per library. Every file is checked by yaz-marcdump and the MARC21
slim schema."""

from __future__ import annotations

import io
from pathlib import Path

import pymarc
import pytest

from ftp.models import SftpConnection
from profiles.engine.holdings import holdings_id_for
from profiles.models import (
    LHR_DIRECTORY,
    InstitutionOclcSymbol,
    JobRecord,
    PublishedRecord,
    PublishingJob,
    PublishingProfile,
)
from records import actions
from records.models import ExportTag
from tests.oracles import schema_problems

from .conftest import make_bib
from .conftest import run as run_in_process

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lhr_connection(sftp_connection) -> SftpConnection:
    """The same server, OCLC's LHR folder."""
    connection = SftpConnection.objects.get(pk=sftp_connection.pk)
    connection.pk = None
    connection.name = "OCLC Data Sync LHR"
    connection.sub_directory = LHR_DIRECTORY
    connection.full_clean()
    connection.save()
    return connection


@pytest.fixture
def lhr_profile(make_profile, lhr_connection) -> PublishingProfile:
    return make_profile(
        lhr_connection,
        name="Publish local holdings records (LHR) to OCLC",
        record_kind=PublishingProfile.RecordKind.HOLDINGS,
        collection_id="7654321",
    )


def run(profile, kind=None, **kwargs) -> PublishingJob:
    job = run_in_process(profile, kind, **kwargs)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    return job


def lhrs_of(sshd, job: PublishingJob) -> list[pymarc.Record]:
    """The job's files as they arrived in in/lhr, each validated by the independent oracles."""
    records = []
    for name in job.files.values_list("name", flat=True):
        data = Path(sshd.local_path(f"{LHR_DIRECTORY}/{name}")).read_bytes()
        assert schema_problems(data) == ""
        for record in pymarc.MARCReader(io.BytesIO(data), to_unicode=True):
            assert record is not None
            records.append(record)
    return records


def by_holding(records) -> dict[str, tuple[str, str, str]]:
    """001 -> (LDR/05, 014 $a, 852 $a)."""
    return {
        r["001"].data: (r.leader[5], r["014"]["a"], r["852"]["a"]) for r in records
    }  # fmt: skip


def hid(holding) -> str:
    return str(holdings_id_for(holding.pk))


def test_a_full_sends_mfhd_records_of_every_eligible_bib_to_in_lhr(lhr_profile, sshd):
    serial = make_bib(tag=ExportTag.HOLDINGS_ONLY)
    holding = serial.holdings.get()
    actions.update_holding(
        holding,
        textual_holdings="v.1(1990)-v.20(2009)",
        supplement_holdings="Suppl. 1-3",
        index_holdings="Index v.1-10",
    )
    book = make_bib()
    make_bib(tag=ExportTag.DONT_PUBLISH)
    make_bib(oclc=None)
    make_bib(holdings=0)

    job = run(lhr_profile)
    records = lhrs_of(sshd, job)
    assert {r["004"].data for r in records} == {str(serial.mms_id), str(book.mms_id)}
    (mfhd,) = [r for r in records if r["004"].data == str(serial.mms_id)]
    assert mfhd.leader[5:7] == "ny" and mfhd.leader[9] == "a"
    assert mfhd["001"].data == hid(holding)
    assert len(mfhd["008"].data) == 32
    assert mfhd["014"]["a"] == serial.oclc_numbers
    assert mfhd["852"].get_subfields("a", "b", "c", "h") == [
        "ALMAD",
        "MAIN",
        "STACKS",
        holding.call_number,
    ]
    assert mfhd["866"]["a"] == "v.1(1990)-v.20(2009)"
    assert mfhd["867"]["a"] == "Suppl. 1-3"
    assert mfhd["868"]["a"] == "Index v.1-10"
    outcomes = dict(JobRecord.objects.filter(job=job).values_list("mms_id", "reason"))
    # A Full looks at eligible bibs only (and those it published): the others are not candidates.
    assert outcomes == {serial.mms_id: "", book.mms_id: ""}
    assert job.files.get().name.startswith("7654321.ALMAD.")
    ledger = PublishedRecord.objects.get(profile=lhr_profile, bib=serial)
    assert ledger.holdings_sent == f"{holding.pk}:ALMAD"


def test_new_changed_and_deleted_holdings_go_as_n_c_d(lhr_profile, sshd):
    bib = make_bib(holdings=2)
    first, second = bib.holdings.order_by("pk")
    run(lhr_profile)

    actions.update_holding(first, call_number="QA76 .N4")
    third = actions.add_holding(bib, "MAIN", "REF", "QA77")
    second_id = hid(second)
    actions.delete_holding(second)
    job = run(lhr_profile, "incremental")
    assert by_holding(lhrs_of(sshd, job)) == {
        hid(first): ("c", bib.oclc_numbers, "ALMAD"),
        hid(third): ("n", bib.oclc_numbers, "ALMAD"),
        second_id: ("d", bib.oclc_numbers, "ALMAD"),
    }
    assert job.count_changed == 1

    untouched = run(lhr_profile, "incremental")
    assert untouched.records_sent == 0 and untouched.files.count() == 0

    actions.delete_bib(bib)
    gone = run(lhr_profile, "incremental")
    assert by_holding(lhrs_of(sshd, gone)) == {
        hid(first): ("d", bib.oclc_numbers, "ALMAD"),
        hid(third): ("d", bib.oclc_numbers, "ALMAD"),
    }
    assert gone.count_deleted == 1
    assert PublishedRecord.objects.get(profile=lhr_profile, bib=bib).holdings_sent == ""


def test_holdings_of_every_bib_sharing_an_ocn_are_sent_together(lhr_profile, sshd):
    one = make_bib(oclc="(OCoLC)555001")
    other = make_bib(oclc="(OCoLC)ocm00555001")
    alone = make_bib()
    run(lhr_profile)

    actions.add_holding(one, "MAIN", "REF", "QA1")
    job = run(lhr_profile, "incremental")
    sent = lhrs_of(sshd, job)
    assert {r["004"].data for r in sent} == {str(one.mms_id), str(other.mms_id)}
    assert {r["014"]["a"] for r in sent} == {"555001"}
    reasons = dict(JobRecord.objects.filter(job=job).values_list("mms_id", "reason"))
    # A bib with another number is at most looked at (the watermark's margin), never sent.
    assert reasons.pop(alone.mms_id, "unchanged") == "unchanged"
    assert reasons == {one.mms_id: "", other.mms_id: "shared_ocn"}


def test_a_library_losing_its_last_copy_deletes_only_its_own_symbol(lhr_profile, sshd):
    InstitutionOclcSymbol.objects.create(library="LAW", symbol="ALMAL")
    bib = make_bib()
    main = bib.holdings.get()
    law = actions.add_holding(bib, "LAW", "STACKS", "KF1")
    first = run(lhr_profile)
    assert {r["852"]["a"] for r in lhrs_of(sshd, first)} == {"ALMAD", "ALMAL"}

    law_id = hid(law)
    actions.delete_holding(law)
    job = run(lhr_profile, "incremental")
    assert by_holding(lhrs_of(sshd, job)) == {
        hid(main): ("c", bib.oclc_numbers, "ALMAD"),
        law_id: ("d", bib.oclc_numbers, "ALMAL"),
    }


def test_an_lhr_profile_never_sends_to_the_bib_folder(make_profile, sftp_connection):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="LHR folder"):
        make_profile(sftp_connection, record_kind="holdings", name="LHR")


def test_a_bib_profile_and_its_files_are_unchanged_by_the_lhr_profile(lhr_profile, profile, sshd):
    bib = make_bib(tag=ExportTag.HOLDINGS_ONLY)
    bib_job = run(profile)
    assert bib_job.records_sent == 0 and bib_job.files.count() == 0
    lhr_job = run(lhr_profile)
    assert lhr_job.count_new == 1
    assert {r["004"].data for r in lhrs_of(sshd, lhr_job)} == {str(bib.mms_id)}


def test_the_bib_profile_warns_while_nobody_keeps_holdings_only_records(
    admin_client, make_profile, lhr_connection
):
    bib_profile = make_profile(None)
    page = admin_client.get(bib_profile.get_absolute_url()).content.decode()
    assert "kept by nobody" not in page
    make_bib(tag=ExportTag.HOLDINGS_ONLY)
    page = admin_client.get(bib_profile.get_absolute_url()).content.decode()
    assert "kept by nobody" in page
    lhr = make_profile(None, name="LHR", record_kind="holdings")
    assert "kept by nobody" in admin_client.get(bib_profile.get_absolute_url()).content.decode()
    lhr.ftp_connection, lhr.status = lhr_connection, PublishingProfile.Status.ACTIVE
    lhr.full_clean()
    lhr.save()
    page = admin_client.get(bib_profile.get_absolute_url()).content.decode()
    assert "kept by nobody" not in page
    assert "kept by nobody" not in admin_client.get(lhr.get_absolute_url()).content.decode()


def test_bibs_carry_each_library_symbol_and_a_lost_library_is_deleted_alone(profile, sshd):
    InstitutionOclcSymbol.objects.create(library="LAW", symbol="ALMAL")
    bib = make_bib()
    law = actions.add_holding(bib, "LAW", "STACKS", "KF1")
    single = make_bib()

    def sent(job) -> dict[str, list[tuple[str, list[str]]]]:
        out: dict[str, list] = {}
        for name, path in job.files.values_list("name", "local_path"):
            data = Path(path).read_bytes()
            assert schema_problems(data) == "", name
            for r in pymarc.MARCReader(io.BytesIO(data), to_unicode=True):
                symbols = [f["a"] for f in r.get_fields("852")]
                out.setdefault(r["001"].data, []).append((r.leader[5], symbols))
        return out

    first = run(profile)
    assert sent(first) == {
        str(bib.mms_id): [("n", ["ALMAD", "ALMAL"])],
        str(single.mms_id): [("n", ["ALMAD"])],
    }
    assert PublishedRecord.objects.get(profile=profile, bib=bib).holdings_sent == "ALMAD ALMAL"

    actions.delete_holding(law)
    second = run(profile, "incremental")
    assert sent(second) == {str(bib.mms_id): [("c", ["ALMAD"]), ("d", ["ALMAL"])]}
    assert second.count_changed == 1

    actions.delete_holding(bib.holdings.get())
    third = run(profile, "incremental")
    assert sent(third) == {str(bib.mms_id): [("d", ["ALMAD"])]}


def test_the_record_page_says_what_the_lhr_profiles_next_job_does(admin_client, lhr_profile, sshd):
    from .test_record_next_job import next_job_text

    serial = make_bib(tag=ExportTag.HOLDINGS_ONLY)
    assert next_job_text(admin_client, serial, lhr_profile) == "will be sent as new"
    run(lhr_profile)
    actions.add_holding(serial, "MAIN", "REF", "QA2")
    assert next_job_text(admin_client, serial, lhr_profile) == "will be sent as changed"
    assert run(lhr_profile, "incremental").count_changed == 1
