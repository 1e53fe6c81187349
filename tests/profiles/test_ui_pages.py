"""The publishing screens through Django's test client: the profile page and its actions, job
history, job detail, downloads, the progress endpoint, permissions and query counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from audit.models import AuditEntry
from jobs import liveness
from profiles.engine.writer import job_directory
from profiles.models import JobFile, JobRecord, PublishingJob, PublishingProfile
from records.models import BibSet, mms_id_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile(make_profile, connection_row) -> PublishingProfile:
    return make_profile(connection_row, publishing_mode=PublishingProfile.Mode.INCREMENTAL)


@pytest.fixture
def staff(django_user_model):
    """Signed in to the admin, but without any publishing permission."""
    return django_user_model.objects.create_user("clerk", password=PASSWORD, is_staff=True)


@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="profiles",
            codename__in=["view_publishingjob", "view_publishingprofile"],
        )
    )
    return user


def finished_job(profile, *, status=PublishingJob.Status.SUCCEEDED, new=3, records=0, **extra):
    now = timezone.now()
    job = PublishingJob.objects.create(
        profile=profile,
        kind=PublishingJob.Kind.INCREMENTAL,
        status=status,
        stage=PublishingJob.Stage.DONE,
        started_at=now - timedelta(seconds=65),
        finished_at=now,
        heartbeat_at=now,
        count_new=new,
        count_changed=1,
        count_deleted=1,
        count_skipped=records,
        **extra,
    )
    if records:
        JobRecord.objects.bulk_create(
            JobRecord(
                job=job,
                bib_id=i,
                mms_id=mms_id_for(i),
                outcome=JobRecord.Outcome.SKIPPED,
                reason=JobRecord.Reason.NO_HOLDINGS,
                file_sequence=None,
            )
            for i in range(1, records + 1)
        )
    return job


def job_with_file(profile) -> tuple[PublishingJob, JobFile]:
    job = finished_job(profile, run_stamp="20260101T000000")
    folder = job_directory(job)
    folder.mkdir(parents=True)
    path = folder / f"1234567.ALMAD.20260101T000000.j{job.pk}.001.mrc"
    path.write_bytes(b"00026nam a2200025 a 4500\x1e\x1d")
    job_file = JobFile.objects.create(
        job=job,
        sequence=1,
        name=path.name,
        records=1,
        bytes=path.stat().st_size,
        sha256="0" * 64,
        local_path=str(path),
        delivered_at=timezone.now(),
        remote_path="/xfer/metacoll/in/bib/" + path.name,
        remote_size=path.stat().st_size,
        verified=True,
    )
    JobRecord.objects.create(
        job=job,
        bib_id=7,
        mms_id=mms_id_for(7),
        outcome=JobRecord.Outcome.NEW,
        file_sequence=1,
    )
    return job, job_file


def every_url(profile, job, job_file) -> list[tuple[str, str]]:
    admin = "admin:profiles_publishingprofile"
    return [
        ("get", reverse(f"{admin}_changelist")),
        ("get", reverse(f"{admin}_change", args=[profile.pk])),
        ("get", reverse(f"{admin}_republish", args=[profile.pk])),
        ("get", reverse(f"{admin}_fetch_reports", args=[profile.pk])),
        ("post", reverse(f"{admin}_run", args=[profile.pk])),
        ("get", reverse("admin:profiles_publishingjob_changelist")),
        ("get", reverse("profiles:jobs")),
        ("get", reverse("profiles:job", args=[job.pk])),
        ("get", reverse("profiles:job_progress", args=[job.pk])),
        ("get", reverse("profiles:job_outcomes_csv", args=[job.pk])),
        ("get", reverse("profiles:job_file_download", args=[job.pk, job_file.pk])),
        ("post", reverse("profiles:job_retry", args=[job.pk])),
        ("get", reverse("profiles:reconciliation", args=[profile.pk])),
        ("post", reverse("profiles:reconciliation", args=[profile.pk])),
    ]


def test_every_publishing_page_refuses_visitors_and_staff_without_permission(
    client, profile, staff
):
    job, job_file = job_with_file(profile)
    urls = every_url(profile, job, job_file)
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url
    client.force_login(staff)
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 403, (url, response.status_code)
    assert not PublishingJob.objects.exclude(pk=job.pk).exists()


def test_a_viewer_sees_the_history_but_cannot_run_or_retry(client, profile, viewer):
    job, job_file = job_with_file(profile)
    client.force_login(viewer)
    assert client.get(reverse("profiles:jobs")).status_code == 200
    assert client.get(reverse("profiles:job", args=[job.pk])).status_code == 200
    run = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    assert client.post(run).status_code == 403
    assert client.post(reverse("profiles:job_retry", args=[job.pk])).status_code == 403
    assert client.post(reverse("profiles:reconciliation", args=[profile.pk])).status_code == 403
    assert PublishingJob.objects.count() == 1


def test_the_profile_page_has_alma_sections_the_note_next_run_and_cluster_state(
    client, superuser, profile
):
    client.force_login(superuser)
    page = client.get(reverse("admin:profiles_publishingprofile_change", args=[profile.pk]))
    html = page.content.decode()
    for section in ("Profile Details", "Publishing Parameters", "Submission Format"):
        assert section in html
    for label in ("Profile name", "OCLC institution symbol", "Collection ID", "FTP configuration"):
        assert label in html
    assert "Records tagged Publish holdings only are neither sent nor deleted" in html
    assert "Not scheduled" in html
    # No cluster runs in the test process: the page says so and what to do.
    assert "Not running" in html and "manage.py qcluster" in html
    assert "not-shown-anywhere-4711" not in html


def profile_form_data(profile: PublishingProfile, **changes) -> dict:
    data = {
        "name": profile.name,
        "description": profile.description,
        "oclc_symbol": profile.oclc_symbol,
        "project_number": profile.project_number,
        "collection_id": profile.collection_id,
        "publishing_mode": profile.publishing_mode,
        "status": profile.status,
        "scheduling": profile.scheduling,
        "schedule_hour": profile.schedule_hour,
        "schedule_weekday": profile.schedule_weekday,
        "ftp_connection": profile.ftp_connection_id or "",
        "sub_directory": profile.sub_directory,
        "records_per_file": profile.records_per_file,
        "reports_directory": profile.reports_directory,
        "notification_emails": profile.notification_emails,
        "notify_on_error": "on" if profile.notify_on_error else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_saving_a_weekly_schedule_creates_one_schedule_audits_and_shows_the_next_run(
    client, superuser, profile
):
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    data = profile_form_data(profile, scheduling="weekly", schedule_weekday=2, schedule_hour=19)
    for _ in range(2):  # saving twice keeps one schedule
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
    assert Schedule.objects.filter(name=f"publishing-profile-{profile.pk}").count() == 1
    entry = AuditEntry.objects.filter(action="profiles.profile.changed").order_by("id").first()
    assert entry.actor == superuser
    assert set(entry.data["changed"]) == {"scheduling", "schedule_weekday", "schedule_hour"}
    assert (entry.data["old"]["scheduling"], entry.data["new"]["scheduling"]) == (
        "Not scheduled",
        "Weekly",
    )
    html = client.get(url).content.decode()
    assert "Wednesday" in html and "19:00" in html


def test_bad_profile_values_get_clear_errors_and_change_nothing(client, superuser, profile):
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    data = profile_form_data(profile, collection_id="12AB", oclc_symbol="AL MA", ftp_connection="")
    html = client.post(url, data).content.decode()
    assert "The Collection ID is exactly 7 digits" in html
    assert "may contain only letters, digits and @ $ #" in html
    profile.refresh_from_db()
    assert profile.collection_id == "1234567"
    assert not AuditEntry.objects.filter(action="profiles.profile.changed").exists()


def test_run_now_queues_a_job_in_the_profile_mode_and_a_second_is_refused_visibly(
    client, superuser, profile
):
    client.force_login(superuser)
    run = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    response = client.post(run, {"confirmed_mode": "incremental"}, follow=True)
    job = PublishingJob.objects.get()
    assert job.kind == PublishingJob.Kind.INCREMENTAL and job.requested_by == superuser
    assert response.redirect_chain[-1][0] == reverse("profiles:job", args=[job.pk])
    again = client.post(run, {"dry_run": "1"}, follow=True).content.decode()
    assert "already has job" in again
    assert PublishingJob.objects.count() == 1


def test_republish_set_asks_for_a_set_and_queues_the_republish_job(client, superuser, profile):
    bib_set = BibSet.objects.create(name="Initial file")
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_republish", args=[profile.pk])
    assert "Bib OCLC Republish Set of Titles" in client.get(url).content.decode()
    assert "This field is required" in client.post(url, {}).content.decode()
    client.post(url, {"bib_set": bib_set.pk, "dry_run": "on"})
    job = PublishingJob.objects.get()
    assert job.kind == PublishingJob.Kind.REPUBLISH_SET and job.bib_set == bib_set
    assert job.dry_run and job.trigger == PublishingJob.Trigger.REPUBLISH


def test_the_profile_list_shows_mode_status_schedule_connection_and_last_job(
    client, superuser, profile
):
    finished_job(profile, status=PublishingJob.Status.COMPLETED_WITH_ERRORS)
    client.force_login(superuser)
    html = client.get(reverse("admin:profiles_publishingprofile_changelist")).content.decode()
    for text in ("Incremental", "Active", "Not scheduled", "OCLC Data Sync"):
        assert text in html
    assert "Completed with errors" in html


def test_job_history_filters_and_charts_runs_in_alma_words(
    client, superuser, profile, make_profile
):
    other = make_profile(None, name="Test collection", collection_id="7654321")
    finished_job(profile, new=5)
    finished_job(profile, status=PublishingJob.Status.FAILED, new=0)
    finished_job(other, new=2)
    client.force_login(superuser)
    html = client.get(reverse("profiles:jobs")).content.decode()
    assert "Completed successfully" in html and "Failed" in html
    assert html.count('class="job-row') == 3
    assert "<svg" in html and 'class="new"' in html and "1 min 5 s" in html
    filtered = client.get(reverse("profiles:jobs"), {"profile": other.pk}).content.decode()
    assert filtered.count('class="job-row') == 1
    failed = client.get(reverse("profiles:jobs"), {"status": "failed"}).content.decode()
    assert failed.count('class="job-row') == 1
    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    none = client.get(reverse("profiles:jobs"), {"date_from": later}).content.decode()
    assert none.count('class="job-row') == 0 and "match these filters" in none


def queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_job_list_and_detail_queries_do_not_grow_with_jobs_or_outcomes(client, superuser, profile):
    client.force_login(superuser)
    few_job = finished_job(profile, records=3)
    list_few = queries(client, reverse("profiles:jobs"))
    detail_few = queries(client, reverse("profiles:job", args=[few_job.pk]))
    for _ in range(80):
        finished_job(profile)
    many_job = finished_job(profile, records=400)
    assert queries(client, reverse("profiles:jobs")) == list_few
    assert queries(client, reverse("profiles:job", args=[many_job.pk])) == detail_few
    html = client.get(reverse("profiles:jobs")).content.decode()
    assert html.count('class="job-row') == 50 and "Older" in html


def test_job_detail_shows_files_stages_reasons_and_searches_outcomes(client, superuser, profile):
    job, job_file = job_with_file(profile)
    JobRecord.objects.create(
        job=job,
        bib_id=8,
        mms_id=mms_id_for(8),
        outcome=JobRecord.Outcome.SKIPPED,
        reason=JobRecord.Reason.HOLDINGS_ONLY,
    )
    client.force_login(superuser)
    url = reverse("profiles:job", args=[job.pk])
    html = client.get(url).content.decode()
    assert job_file.name in html and "Size verified" in html and "Finalizing" in html
    assert "Publish holdings only: not handled by this profile" in html
    assert "not-shown-anywhere-4711" not in html
    # An unchanged record is its own outcome (in the counts), not repeated as a reason.
    JobRecord.objects.create(
        job=job,
        bib_id=9,
        mms_id=mms_id_for(9),
        outcome=JobRecord.Outcome.UNCHANGED,
        reason=JobRecord.Reason.UNCHANGED,
    )
    html = client.get(url).content.decode()
    reasons = html[html.index('id="job-reasons"') :].split("</table>")[0]
    assert "Publish holdings only" in reasons and "did not change" not in reasons
    found = client.get(url, {"mms_id": str(mms_id_for(8))}).content.decode()
    assert str(mms_id_for(8)) in found and str(mms_id_for(7)) not in found
    bad = client.get(url, {"mms_id": "abc"}).content.decode()
    assert "is not an MMS ID of this catalogue" in bad


def test_outcomes_download_as_csv_with_reasons_and_file_names(client, superuser, profile):
    job, job_file = job_with_file(profile)
    client.force_login(superuser)
    response = client.get(reverse("profiles:job_outcomes_csv", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["MMS ID", "Outcome", "Reason", "Detail", "File"]
    assert rows[1] == [str(mms_id_for(7)), "New", "", "", job_file.name]


def test_a_job_file_downloads_but_never_a_path_outside_the_job_folder(
    client, superuser, profile, tmp_path
):
    job, job_file = job_with_file(profile)
    client.force_login(superuser)
    url = reverse("profiles:job_file_download", args=[job.pk, job_file.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == open(job_file.local_path, "rb").read()
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    for bad in (str(secret), str(job_directory(job) / ".." / "x.mrc")):
        JobFile.objects.filter(pk=job_file.pk).update(local_path=bad)
        assert client.get(url).status_code == 404
    other_job, other_file = job_with_file(profile)
    wrong = reverse("profiles:job_file_download", args=[job.pk, other_file.pk])
    assert client.get(wrong).status_code == 404


def test_progress_endpoint_reports_stage_and_counts_of_a_running_job(client, viewer, profile):
    job = PublishingJob.objects.create(
        profile=profile,
        kind=PublishingJob.Kind.FULL,
        status=PublishingJob.Status.RUNNING,
        stage=PublishingJob.Stage.WRITING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        progress_done=250,
        progress_total=1000,
        count_new=200,
    )
    client.force_login(viewer)
    with liveness.holding(job):  # its worker is alive
        data = client.get(reverse("profiles:job_progress", args=[job.pk])).json()
        html = client.get(reverse("profiles:job", args=[job.pk])).content.decode()
    assert data["status_word"] == "Running" and data["stage_label"] == "Writing files"
    assert data["percent"] == 25 and data["counts"]["new"] == 200 and not data["finished"]
    assert "job_progress.js" in html and 'data-finished="0"' in html


def test_retry_requeues_a_failed_job_and_refuses_a_successful_one(client, superuser, profile):
    failed = finished_job(
        profile,
        status=PublishingJob.Status.FAILED,
        failure_category="network",
        failure_message="Upload failed: connection refused",
    )
    client.force_login(superuser)
    html = client.get(reverse("profiles:job", args=[failed.pk])).content.decode()
    assert "Upload failed: connection refused" in html and "Retry" in html
    client.post(reverse("profiles:job_retry", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.QUEUED
    done = finished_job(profile, status=PublishingJob.Status.SUCCEEDED)
    page = client.post(reverse("profiles:job_retry", args=[done.pk]), follow=True)
    assert "Only a failed job can be retried" in page.content.decode()


def test_a_running_job_whose_worker_is_gone_shows_failed_worker_stopped(
    client, superuser, profile, mailoutbox
):
    profile.notification_emails = "systems@example.org"
    profile.save()
    long_ago = timezone.now() - timedelta(hours=2)
    job = PublishingJob.objects.create(
        profile=profile,
        kind=PublishingJob.Kind.FULL,
        status=PublishingJob.Status.RUNNING,
        stage=PublishingJob.Stage.UPLOADING,
        started_at=long_ago,
        heartbeat_at=long_ago,
        attempts=1,
    )
    client.force_login(superuser)
    # A live worker: it holds the job's lock (PostgreSQL) and beats (SQLite).
    with liveness.holding(job):
        PublishingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
        html = client.get(reverse("profiles:job", args=[job.pk])).content.decode()
        assert 'id="job-status" class="status-running">Running<' in html
    # Its process is gone: the page itself finds out and says so, without waiting.
    PublishingJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    html = client.get(reverse("profiles:job", args=[job.pk])).content.decode()
    assert "Worker stopped" in html and "Mark as failed" not in html
    job.refresh_from_db()
    assert (job.status, job.failure_category) == ("failed", "worker")
    assert "stopped while uploading" in job.failure_message
    (mail,) = mailoutbox  # notified like any failure (Notify on error is on by default)
    assert "Failed" in mail.subject and job.failure_message in mail.body
    assert AuditEntry.objects.filter(action="profiles.job.failed", target_id=str(job.pk)).exists()
    assert "Retry" in html


def test_run_now_from_a_page_showing_another_mode_starts_nothing(client, superuser, profile):
    client.force_login(superuser)
    run = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    page = client.post(run, {"confirmed_mode": "full"}, follow=True)
    assert "is now Incremental, not Full" in page.content.decode()
    assert not PublishingJob.objects.exists()
    client.post(run, {"confirmed_mode": "incremental"})
    assert PublishingJob.objects.get().kind == PublishingJob.Kind.INCREMENTAL


def test_the_job_admin_forwards_to_the_history_pages(client, superuser, profile):
    job = finished_job(profile)
    client.force_login(superuser)
    response = client.get(reverse("admin:profiles_publishingjob_changelist"))
    assert response["Location"] == reverse("profiles:jobs")
    response = client.get(reverse("admin:profiles_publishingjob_change", args=[job.pk]))
    assert response["Location"] == reverse("profiles:job", args=[job.pk])


def test_dry_run_queues_the_profile_mode_without_upload_and_is_audited(client, superuser, profile):
    client.force_login(superuser)
    run = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    client.post(run, {"dry_run": "1"})
    job = PublishingJob.objects.get()
    assert job.dry_run and job.kind == PublishingJob.Kind.INCREMENTAL
    entry = AuditEntry.objects.get(action="profiles.job.requested")
    assert entry.actor == superuser and "dry run" in entry.message
    # Run now's GET is its confirmation ("What will change in WorldCat"): it starts nothing.
    assert client.get(run).status_code == 200 and PublishingJob.objects.count() == 1
