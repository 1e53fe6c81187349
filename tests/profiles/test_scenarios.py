"""Publishing scenarios end to end: real PostgreSQL, real sshd, uploaded files read back."""

from __future__ import annotations

import pymarc
import pytest

from audit.models import AuditEntry
from profiles.models import JobRecord, PublishedRecord, PublishingJob, PublishingProfile
from records import actions
from records.models import ExportTag

from .conftest import edit_bib, make_bib, read_remote, sent_records
from .conftest import run as run_in_process

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def run(profile: PublishingProfile, kind: str | None = None, **kwargs) -> PublishingJob:
    job = run_in_process(profile, kind, **kwargs)
    assert job.status in (PublishingJob.Status.SUCCEEDED, PublishingJob.Status.FAILED)
    return job


def files_of(job: PublishingJob) -> list[str]:
    return list(job.files.values_list("name", flat=True))


def outcomes(job: PublishingJob) -> dict[int, tuple[str, str]]:
    return {r.mms_id: (r.outcome, r.reason) for r in JobRecord.objects.filter(job=job)}


def test_a_first_full_run_sends_every_eligible_record_then_the_profile_turns_incremental(
    profile, sshd
):
    bibs = [make_bib() for _ in range(3)]
    make_bib(tag=ExportTag.DONT_PUBLISH)
    make_bib(holdings=0)
    job = run(profile)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    sent = sent_records(sshd, files_of(job))
    assert sorted(sent) == sorted(str(b.mms_id) for b in bibs)
    assert {s.status for s in sent.values()} == {"n"}
    first = sent[str(bibs[0].mms_id)]
    assert first.oclc == [f"(OCoLC){bibs[0].oclc_numbers}"]  # ocm prefix and zeros gone
    assert job.counts() == {
        "new": 3,
        "changed": 0,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    profile.refresh_from_db()
    assert profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL
    assert profile.watermark == job.horizon
    assert profile.last_successful_job == job
    assert AuditEntry.objects.filter(action="profiles.profile.mode_switched").exists()
    assert AuditEntry.objects.filter(action="profiles.job.succeeded", target_id=job.pk).exists()
    (jf,) = job.files.all()
    assert jf.verified and jf.remote_size == jf.bytes == len(
        sshd.local_path(jf.remote_path).read_bytes()
    )
    assert jf.name.startswith("1234567.ALMAD.") and jf.name.endswith(f".j{job.pk}.001.mrc")

    # Nothing changed: the next Incremental has nothing to send.
    again = run(profile)
    assert again.kind == "incremental" and again.records_sent == 0
    assert again.files.count() == 0


def test_baseline_sends_nothing_and_the_next_incremental_sends_only_later_changes(
    make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.BASELINE)
    bibs = [make_bib() for _ in range(4)]
    baseline = run(profile)
    assert baseline.status == PublishingJob.Status.SUCCEEDED, baseline.failure_message
    assert read_remote(sshd) == {}
    assert baseline.count_skipped == 4 and baseline.files.count() == 0
    assert PublishedRecord.objects.filter(profile=profile, status="published").count() == 4
    profile.refresh_from_db()
    assert profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL

    edit_bib(bibs[1], "A later change")
    newcomer = make_bib()
    job = run(profile)
    sent = sent_records(sshd, files_of(job))
    assert {k: v.status for k, v in sent.items()} == {
        str(bibs[1].mms_id): "c",
        str(newcomer.mms_id): "n",
    }


def test_incremental_follows_every_kind_of_catalogue_change(profile, sshd):
    edited, untagged, unheld, suppressed, deleted, touched, retagged, holdings_only = (
        make_bib() for _ in range(8)
    )
    never = make_bib(tag=ExportTag.DONT_PUBLISH)
    first = run(profile)
    assert first.count_new == 8

    edit_bib(edited, "New note")
    actions.set_export_tag([untagged], ExportTag.DONT_PUBLISH)
    actions.delete_holding(unheld.holdings.get())
    actions.set_suppressed(suppressed, True)
    actions.delete_bib(deleted)
    # Touch: only 005 changes, the content does not.
    record = touched.record()
    record.add_ordered_field(pymarc.Field(tag="005", data="20260101120000.0"))
    assert actions.update_marc(touched, record)
    actions.set_export_tag([retagged], ExportTag.DONT_PUBLISH)
    actions.set_export_tag([holdings_only], ExportTag.HOLDINGS_ONLY)
    actions.set_export_tag([never], ExportTag.DONT_PUBLISH)  # already: no change stamped
    edit_bib(never, "still not published")

    second = run(profile)
    assert second.status == PublishingJob.Status.SUCCEEDED, second.failure_message
    sent = sent_records(sshd, files_of(second))
    assert {int(k): v.status for k, v in sent.items()} == {
        edited.mms_id: "c",
        untagged.mms_id: "d",
        unheld.mms_id: "d",
        suppressed.mms_id: "d",
        deleted.mms_id: "d",
        retagged.mms_id: "d",
    }
    # Deletes carry the OCLC numbers last sent.
    assert sent[str(deleted.mms_id)].oclc == [f"(OCoLC){deleted.oclc_numbers}"]
    got = outcomes(second)
    assert got[touched.mms_id] == ("unchanged", "unchanged")
    assert got[holdings_only.mms_id] == ("skipped", "holdings_only")
    assert got[never.mms_id] == ("skipped", "dont_publish")
    assert got[unheld.mms_id] == ("deleted", "no_holdings")
    assert got[suppressed.mms_id] == ("deleted", "suppressed")
    assert got[deleted.mms_id] == ("deleted", "deleted")
    assert got[untagged.mms_id] == ("deleted", "dont_publish")
    assert JobRecord.Reason(got[touched.mms_id][1]).label == (
        "Not published (record content did not change)"
    )
    ledger = dict(PublishedRecord.objects.filter(profile=profile).values_list("bib_id", "status"))
    assert ledger[deleted.pk] == "deleted" and ledger[holdings_only.pk] == "published"

    # Deleted once only; retagging publishes it again as new.
    actions.set_export_tag([untagged], ExportTag.PUBLISH_BIB)
    actions.add_holding(unheld, "MAIN", "STACKS")
    actions.set_suppressed(deleted, True)  # a change to a deleted bib: nothing more to send
    third = run(profile)
    sent = sent_records(sshd, files_of(third))
    assert {int(k): v.status for k, v in sent.items()} == {
        untagged.mms_id: "n",
        unheld.mms_id: "n",
    }
    assert outcomes(third)[deleted.mms_id] == ("skipped", "deleted")


def test_full_sends_deletes_only_for_records_the_ledger_has_published(profile, sshd):
    kept, dropped = make_bib(), make_bib()
    never = make_bib(tag=ExportTag.DONT_PUBLISH)
    run(profile)
    actions.set_export_tag([dropped], ExportTag.DONT_PUBLISH)
    full = run(profile, PublishingJob.Kind.FULL)
    sent = sent_records(sshd, files_of(full))
    assert {int(k): v.status for k, v in sent.items()} == {kept.mms_id: "c", dropped.mms_id: "d"}
    assert str(never.mms_id) not in sent


def test_republish_set_sends_every_record_of_the_set_whatever_the_ledger_says(profile, sshd):
    from records.models import BibSet, BibSetMember

    a, b, c = make_bib(), make_bib(), make_bib()
    run(profile)
    profile.refresh_from_db()
    watermark = profile.watermark
    actions.delete_bib(b)
    titles = BibSet.objects.create(name="Reclaim")
    BibSetMember.objects.bulk_create(
        [BibSetMember(bib_set=titles, bib=a), BibSetMember(bib_set=titles, bib=b)]
    )
    job = run(profile, PublishingJob.Kind.REPUBLISH_SET, bib_set=titles)
    sent = sent_records(sshd, files_of(job))
    assert {int(k): v.status for k, v in sent.items()} == {a.mms_id: "c", b.mms_id: "d"}
    profile.refresh_from_db()
    # A republish covers a few records: it must not move the watermark past other changes.
    assert profile.watermark == watermark
    edit_bib(c, "changed")
    nxt = run(profile)
    assert str(c.mms_id) in sent_records(sshd, files_of(nxt))
