"""Job life cycle: failure and retry, one active job per profile, changes made while a job runs,
file naming and splitting, empty runs, dry runs, the publish command."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ftp import transfer as transfer_module
from profiles.engine import JobAlreadyActive, retry, run_now, run_queued
from profiles.models import PublishedRecord, PublishingJob
from records import actions

from .conftest import edit_bib, make_bib, no_sleep, read_remote, run, sent_records

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def remote_bytes(sshd, job) -> dict[str, bytes]:
    return {f.name: sshd.local_path(f.remote_path).read_bytes() for f in job.files.all()}


def test_a_failed_upload_changes_nothing_and_a_retry_resends_the_same_files(profile, sshd):
    bibs = [make_bib() for _ in range(5)]
    run(profile)
    profile.refresh_from_db()
    watermark, ledger_before = profile.watermark, list(PublishedRecord.objects.values_list())
    edit_bib(bibs[0], "first change")
    edit_bib(bibs[1], "second change")

    sshd.stop()
    failed = run(profile)
    assert failed.status == PublishingJob.Status.FAILED
    assert failed.failure_category == "network"
    assert "Upload failed" in failed.failure_message and sshd.password not in failed.failure_message
    profile.refresh_from_db()
    assert profile.watermark == watermark
    assert list(PublishedRecord.objects.values_list()) == ledger_before
    names = {f.name: f.sha256 for f in failed.files.all()}
    assert names

    # A change made after the failure is not slipped into the retry: it sends what it wrote.
    sshd.write_config()
    sshd.start()
    edit_bib(bibs[2], "made after the failure")
    retried = retry(failed, in_process=True, sleep=no_sleep)
    assert retried.pk == failed.pk and retried.attempts == 2
    assert retried.status == PublishingJob.Status.SUCCEEDED, retried.failure_message
    assert {f.name: f.sha256 for f in retried.files.all()} == names
    for name, data in remote_bytes(sshd, retried).items():
        assert hashlib.sha256(data).hexdigest() == names[name]
    sent = sent_records(sshd, list(names))
    assert sorted(sent) == sorted([str(bibs[0].mms_id), str(bibs[1].mms_id)])

    # ... and the next job picks it up: no change lost, none sent twice.
    following = run(profile)
    assert [r.mms_id for r in following.records.filter(outcome="changed")] == [bibs[2].mms_id]


def test_two_concurrent_requests_for_one_profile_the_database_refuses_the_second(profile):
    if db_connection.vendor != "postgresql":
        pytest.skip("the in-memory SQLite test database locks tables instead of waiting")
    barrier = threading.Barrier(2)
    results: list[object] = []

    def request():
        try:
            barrier.wait(timeout=10)
            results.append(run_now(profile, mode="full").job)
        except JobAlreadyActive as exc:
            results.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    jobs = [r for r in results if isinstance(r, PublishingJob)]
    refusals = [r for r in results if isinstance(r, JobAlreadyActive)]
    assert len(jobs) == 1 and len(refusals) == 1
    assert f"already has job {jobs[0].pk}" in str(refusals[0])
    assert refusals[0].active_job == jobs[0]
    # Finished jobs do not block a new one.
    run_queued(jobs[0].pk)
    assert run_now(profile, mode="incremental").job.status == "queued"


def test_a_change_committed_while_a_job_runs_is_published_by_the_next_job(profile, sshd):
    if db_connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: a job cannot run beside an open write")
    bib = make_bib()
    run(profile)
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_cataloguer():
        try:
            with transaction.atomic():
                edit_bib(bib, "saved while the job ran")
                started.set()
                release.wait(timeout=30)
        finally:
            db_connection.close()
            done.set()

    worker = threading.Thread(target=slow_cataloguer)
    worker.start()
    assert started.wait(timeout=10)
    during = run(profile)  # horizon taken while the edit is still uncommitted
    release.set()
    done.wait(timeout=30)
    worker.join(timeout=30)
    assert during.status == PublishingJob.Status.SUCCEEDED
    assert during.records_sent == 0
    after = run(profile)
    assert sent_records(sshd, [f.name for f in after.files.all()]).keys() == {str(bib.mms_id)}


def test_files_are_split_by_record_cap_and_size_and_names_never_repeat(profile, sshd):
    bibs = [make_bib(f"A long title number {i} " * 12) for i in range(5)]
    profile.records_per_file = 2
    profile.save()
    first = run(profile, "full")
    assert [f.records for f in first.files.all()] == [2, 2, 1]
    # The progress bar's total (counted beside the stream on PostgreSQL) is every candidate.
    assert (first.progress_done, first.progress_total) == (5, 5)
    names = [f.name for f in first.files.all()]
    assert [n.rsplit(".", 2)[1] for n in names] == ["001", "002", "003"]
    assert all(n.startswith("1234567.ALMAD.") for n in names)
    assert sorted(sent_records(sshd, names)) == sorted(str(b.mms_id) for b in bibs)

    connection = profile.ftp_connection
    connection.max_file_size, connection.size_type = 1, "KB"
    connection.save()
    profile.records_per_file = 100
    profile.save()
    rerun = run(profile, "full")  # same day, same profile
    sizes = [f.bytes for f in rerun.files.all()]
    assert len(sizes) >= 3 and max(sizes) <= 1024
    assert not set(names) & {f.name for f in rerun.files.all()}
    assert sorted(sent_records(sshd, [f.name for f in rerun.files.all()])) == sorted(
        str(b.mms_id) for b in bibs
    )


def test_an_empty_run_sends_no_file_whatever_min_files_says(profile, sshd):
    make_bib()
    run(profile)
    connection = profile.ftp_connection
    for min_files in (0, 1, 3):
        connection.min_files = min_files
        connection.save()
        quiet = run(profile)
        assert quiet.files.count() == 0 and quiet.status == "succeeded"
    assert [len(records) for records in read_remote(sshd).values()] == [1]


def test_an_incremental_logs_in_while_it_writes_and_only_if_it_has_something_to_send(
    profile, sshd, caplog, monkeypatch
):
    opened_ahead = []

    class Spy(transfer_module.OpeningTransfer):
        def __init__(self, *args, **kwargs):
            opened_ahead.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(transfer_module, "OpeningTransfer", Spy)
    caplog.set_level(logging.INFO, logger="ftp.transfer")
    bibs = [make_bib() for _ in range(3)]
    full = run(profile)
    assert full.kind == "full" and full.count_new == 3
    assert opened_ahead == []  # a Full connects when its files are ready
    caplog.clear()

    quiet = run(profile)
    assert quiet.kind == "incremental" and quiet.files.count() == 0
    assert opened_ahead == []
    assert [r for r in caplog.records if r.getMessage().startswith("Connected to ")] == []

    edit_bib(bibs[1], "changed")
    changed = run(profile)
    assert changed.status == "succeeded" and changed.count_changed == 1
    assert sorted(sent_records(sshd, [f.name for f in changed.files.all()])) == [
        str(bibs[1].mms_id)
    ]
    (ahead,) = opened_ahead
    assert ahead._transfer is None  # taken by deliver, which closed it
    logins = [r for r in caplog.records if r.getMessage().startswith("Connected to ")]
    assert len(logins) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("open-transfer-")]


def test_a_dry_run_writes_files_locally_and_touches_nothing_else(profile, sshd, publish_dir):
    bibs = [make_bib() for _ in range(3)]
    job = run(profile, dry_run=True)
    assert job.status == "succeeded" and job.count_new == 3
    assert read_remote(sshd) == {}
    (f,) = job.files.all()
    assert f.delivered_at is None and str(publish_dir) in f.local_path
    assert hashlib.sha256(open(f.local_path, "rb").read()).hexdigest() == f.sha256
    assert not PublishedRecord.objects.exists()
    profile.refresh_from_db()
    assert profile.watermark == 0 and profile.publishing_mode == "full"
    assert job.records.count() == 3
    real = run(profile)
    assert real.count_new == len(bibs)


def test_a_record_that_cannot_be_sent_is_reported_and_the_rest_go_out(profile, sshd):
    good = make_bib()
    big = make_bib()
    connection = profile.ftp_connection
    connection.max_file_size, connection.size_type = 1, "KB"
    connection.save()
    edit_bib(big, "x" * 1500)
    job = run(profile)
    assert job.status == PublishingJob.Status.COMPLETED_WITH_ERRORS
    assert job.get_status_display() == "Completed with errors"
    failed = job.records.get(outcome="failed")
    assert failed.mms_id == big.mms_id and "Max. file size" in failed.detail
    assert sent_records(sshd).keys() == {str(good.mms_id)}
    assert not PublishedRecord.objects.filter(bib=big).exists()


def test_the_publish_command_prints_json_and_fails_visibly(profile, sshd):
    bib = make_bib()
    out = io.StringIO()
    call_command("publish", profile.name, "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["profile"] == profile.name and result["mode"] == "full"
    assert result["status"] == "succeeded"
    assert result["counts"] == {
        "new": 1,
        "changed": 0,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    (f,) = result["files"]
    assert set(f) == {"name", "records", "bytes", "sha256"} and f["records"] == 1
    assert sent_records(sshd, [f["name"]]).keys() == {str(bib.mms_id)}

    actions.set_suppressed(bib, True)
    sshd.stop()
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed"):
        call_command("publish", str(profile.pk), "--mode", "incremental", "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "failed"
    with pytest.raises(CommandError, match="No publishing profile"):
        call_command("publish", "nonexistent")


def test_the_profile_s_addresses_get_an_e_mail_on_success_and_on_error(profile, sshd, mailoutbox):
    profile.notification_emails = "cataloging@example.org, systems@example.org"
    profile.notify_on_success = True
    profile.notify_on_error = True
    profile.save()
    make_bib()
    ok = run(profile)
    (mail,) = mailoutbox
    assert mail.to == ["cataloging@example.org", "systems@example.org"]
    assert f"Job {ok.pk} Full: Completed successfully" in mail.subject
    assert "New: 1" in mail.body and ok.files.get().name in mail.body

    profile.notify_on_success = False
    profile.save()
    make_bib()
    assert run(profile).status == "succeeded" and len(mailoutbox) == 1
    make_bib()
    sshd.stop()
    failed = run(profile)
    assert len(mailoutbox) == 2
    assert "Failed" in mailoutbox[1].subject and failed.failure_message in mailoutbox[1].body
    assert sshd.password not in mailoutbox[1].body


def test_a_dry_run_counts_exactly_what_the_job_then_does(profile, sshd):
    from collections import Counter

    from profiles.engine import dry_run
    from records.models import BibSet, BibSetMember

    bibs = [make_bib() for _ in range(6)]
    run(profile)
    edit_bib(bibs[0], "changed")
    actions.set_suppressed(bibs[1], True)
    actions.set_export_tag([bibs[2]], "dont_publish")
    actions.delete_bib(bibs[3])
    make_bib("New since")
    edit_bib(bibs[4], "changed, then")
    actions.set_suppressed(bibs[4], True)  # ... withdrawn
    titles = BibSet.objects.create(name="A few titles")
    BibSetMember.objects.bulk_create(BibSetMember(bib_set=titles, bib=b) for b in bibs[:3])

    for kind, bib_set in (("incremental", None), (None, titles)):
        preview = dry_run(profile, mode=kind, bib_set=bib_set)
        assert read_remote(sshd) and not PublishingJob.objects.filter(status="queued").exists()
        job = run(profile, kind, bib_set=bib_set)
        assert job.status == "succeeded", job.failure_message
        assert preview.counts == Counter({k: v for k, v in job.counts().items() if v})
        reasons = Counter(job.records.values_list("outcome", "reason"))
        assert preview.reasons == reasons
        for (outcome, reason), examples in preview.examples.items():
            assert 0 < len(examples) <= 3
            assert {e.mms_id for e in examples} <= set(
                job.records.filter(outcome=outcome, reason=reason).values_list("mms_id", flat=True)
            )


def test_a_job_failed_on_a_wrong_password_shows_nothing_delivered_and_keeps_every_attempt(
    client, superuser, profile, sshd
):
    bib = make_bib()
    link = profile.ftp_connection
    link.password = "not-the-password"
    link.save()
    failed = run(profile)
    assert (failed.status, failed.failure_category) == ("failed", "auth")
    assert failed.count_new == 1  # written to its file, which never left the machine
    client.force_login(superuser)
    listing = client.get(reverse("profiles:jobs")).content.decode()
    assert '<td class="job-delivered">0 of 1</td>' in listing
    page = client.get(failed.get_absolute_url()).content.decode()
    assert "Delivered: 0 of 1 records written" in page

    link.password = sshd.password
    link.save()
    done = retry(failed, in_process=True, sleep=no_sleep)
    assert done.status == "succeeded"
    assert list(sent_records(sshd, [done.files.get().name])) == [str(bib.mms_id)]
    listing = client.get(reverse("profiles:jobs")).content.decode()
    assert '<td class="job-delivered">1 of 1</td>' in listing
    # The page still shows that the job failed once, when, why and in which category.
    first, second = done.attempt_history.all()
    assert (first.status, first.failure_category) == ("failed", "auth")
    assert second.status == "succeeded"
    page = client.get(done.get_absolute_url()).content.decode()
    attempts = page.split('<table id="job-attempts">', 1)[1].split("</table>", 1)[0]
    rows = attempts.split('<tr class="attempt-')[1:]
    assert [r.split('"', 1)[0] for r in rows] == ["failed", "succeeded"]
    assert f"{timezone.localtime(first.started_at):%Y-%m-%d %H:%M:%S}" in rows[0]
    assert "Authentication" in rows[0] and escape(first.message) in rows[0] and first.message
    assert "Delivered: 1 of 1 records written" in page
