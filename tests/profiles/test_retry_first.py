"""A failed job that wrote its files is retried before any new job of its profile: from the
command line, from Run now (through the cluster's queue) and from the schedule. The retry sends
the same bytes under the same names; the new job then sends only what changed after it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_q.models import OrmQ

from audit.models import AuditEntry
from profiles import tasks
from profiles.engine import job_to_retry_first
from profiles.engine.runs import THEN_TASK
from profiles.models import PublishingJob
from tests.conftest import PASSWORD

from .conftest import edit_bib, make_bib, read_remote, run

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def failed_after_writing(profile, sshd):
    """A Full run of 4 bibs, 2 edits, an Incremental that fails at the upload; then one more
    edit made after the failure. Returns (failed job, its file names and hashes, the bibs)."""
    bibs = [make_bib() for _ in range(4)]
    assert run(profile).status == PublishingJob.Status.SUCCEEDED
    edit_bib(bibs[0], "first change")
    edit_bib(bibs[1], "second change")
    sshd.stop()
    failed = run(profile)
    assert failed.status == PublishingJob.Status.FAILED and failed.written_at is not None
    sshd.write_config()
    sshd.start()
    edit_bib(bibs[2], "made after the failure")
    return failed, {f.name: f.sha256 for f in failed.files.all()}, bibs


def assert_retried_then_new(profile, sshd, failed, names, bibs, attempts=2) -> PublishingJob:
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.SUCCEEDED and failed.attempts == attempts
    assert {f.name: f.sha256 for f in failed.files.all()} == names
    remote = read_remote(sshd)
    for f in failed.files.all():
        data = sshd.local_path(f.remote_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == names[f.name]
    new = profile.jobs.exclude(pk__lte=failed.pk).get()
    assert new.status == PublishingJob.Status.SUCCEEDED, new.failure_message
    # Each change went out exactly once: the retry's two, then the new job's one.
    files = list(names) + list(new.files.values_list("name", flat=True))
    sent = [s.mms_id for name in files for s in remote[name]]
    assert sorted(sent) == sorted(str(b.mms_id) for b in bibs[:3])
    assert [r.mms_id for r in new.records.exclude(outcome="unchanged")] == [bibs[2].mms_id]
    return new


def test_the_publish_command_retries_a_job_that_failed_after_writing_first(profile, sshd):
    failed, names, bibs = failed_after_writing(profile, sshd)
    assert job_to_retry_first(profile) == failed
    out, err = io.StringIO(), io.StringIO()
    call_command("publish", profile.name, "--json", stdout=out, stderr=err)
    assert f"Retrying job {failed.pk} first" in err.getvalue()
    new = assert_retried_then_new(profile, sshd, failed, names, bibs)
    assert new.trigger == PublishingJob.Trigger.COMMAND
    assert f'"job": {new.pk}' in out.getvalue()
    assert AuditEntry.objects.filter(action="profiles.job.retry_first").count() == 1
    assert job_to_retry_first(profile) is None


def test_a_retry_that_fails_again_starts_no_new_job_and_the_next_run_retries_it_again(
    profile, sshd
):
    failed, names, bibs = failed_after_writing(profile, sshd)
    sshd.stop()
    with pytest.raises(CommandError, match=f"retry of job {failed.pk} failed again"):
        call_command("publish", profile.name, stdout=io.StringIO(), stderr=io.StringIO())
    assert list(profile.jobs.values_list("pk", flat=True).filter(pk__gt=failed.pk)) == []
    assert job_to_retry_first(profile) == failed
    sshd.write_config()
    sshd.start()
    call_command("publish", profile.name, stdout=io.StringIO(), stderr=io.StringIO())
    assert_retried_then_new(profile, sshd, failed, names, bibs, attempts=3)


def test_a_scheduled_run_retries_the_failed_job_first(profile, sshd):
    failed, names, bibs = failed_after_writing(profile, sshd)
    profile.scheduling = profile.Scheduling.DAILY
    profile.save()
    assert tasks.run_scheduled_profile(profile.pk) == "succeeded"
    new = assert_retried_then_new(profile, sshd, failed, names, bibs)
    assert new.trigger == PublishingJob.Trigger.SCHEDULE


def test_run_now_queues_the_retry_and_the_new_job_follows_when_it_commits(
    client, superuser, profile, sshd
):
    failed, names, bibs = failed_after_writing(profile, sshd)
    OrmQ.objects.all().delete()
    client.login(username=superuser.username, password=PASSWORD)
    page = client.get(reverse("admin:profiles_publishingprofile_change", args=[profile.pk]))
    assert f"retries job {failed.pk} first" in page.content.decode()
    profile.refresh_from_db()
    response = client.post(
        reverse("admin:profiles_publishingprofile_run", args=[profile.pk]),
        {"confirmed_mode": profile.publishing_mode},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("profiles:job", args=[failed.pk])
    assert f"Retrying job {failed.pk} first" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.QUEUED
    # The cluster's task: the retry, with the requested job as its follow-up.
    (task,) = OrmQ.objects.all()
    assert task.func() == THEN_TASK and task.task["args"] == (failed.pk,)
    OrmQ.objects.all().delete()
    assert tasks.run_job_then(*task.task["args"], **task.task["kwargs"]) == "succeeded"
    (following,) = OrmQ.objects.all()
    new = profile.jobs.exclude(pk__lte=failed.pk).get()
    assert new.status == PublishingJob.Status.QUEUED and new.requested_by == superuser
    assert following.task["args"] == (new.pk,)
    tasks.run_job(*following.task["args"])
    assert_retried_then_new(profile, sshd, failed, names, bibs)


def test_a_dry_run_or_a_failure_before_writing_does_not_wait_for_a_retry(profile, sshd):
    failed, _names, _bibs = failed_after_writing(profile, sshd)
    # A dry run sends nothing, so it cannot duplicate: it runs at once.
    call_command("publish", profile.name, "--dry-run", stdout=io.StringIO())
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.FAILED
    assert job_to_retry_first(profile) == failed
    # Files gone from the publishing folder cannot be resent: the new job goes ahead.
    for f in failed.files.all():
        Path(f.local_path).unlink()
    assert job_to_retry_first(profile) is None


def test_a_later_job_that_failed_before_writing_does_not_hide_the_one_to_retry(profile, sshd):
    failed, names, bibs = failed_after_writing(profile, sshd)
    # E.g. a worker killed while selecting, recovered as failed: it wrote and sent nothing.
    PublishingJob.objects.create(
        profile=profile, kind="incremental", status=PublishingJob.Status.FAILED
    )
    assert job_to_retry_first(profile) == failed
    call_command("publish", profile.name, stdout=io.StringIO(), stderr=io.StringIO())
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.SUCCEEDED and failed.attempts == 2
    assert job_to_retry_first(profile) is None


def test_files_changed_on_disk_do_not_block_the_profile(profile, sshd):
    failed, _names, bibs = failed_after_writing(profile, sshd)
    (written,) = failed.files.all()
    path = Path(written.local_path)
    original = path.read_bytes()

    # Changed in size: no retry first, the new job goes ahead.
    path.write_bytes(original + b"x")
    assert job_to_retry_first(profile) is None

    # Changed in place, same size: the retry's checksum refuses it and moves the file aside.
    path.write_bytes(original[:-2] + b"XX")
    assert job_to_retry_first(profile) == failed
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("publish", profile.name, stdout=out, stderr=out)
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.FAILED
    assert "changed on disk since it was written" in failed.failure_message
    assert not path.exists()
    assert Path(f"{path}.changed-on-disk").read_bytes() == original[:-2] + b"XX"
    assert job_to_retry_first(profile) is None

    # The next run is a new job and sends every change not yet committed.
    call_command("publish", profile.name, stdout=io.StringIO())
    new = profile.jobs.exclude(pk__lte=failed.pk).get()
    assert new.status == PublishingJob.Status.SUCCEEDED, new.failure_message
    changed = set(new.records.filter(outcome="changed").values_list("mms_id", flat=True))
    assert changed == {b.mms_id for b in bibs[:3]}
