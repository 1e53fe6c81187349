"""Reconciliation: the ledger of a profile against WorldCat, through the WorldCat Metadata API
client and the emulated API over real HTTP (Django's live server)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEntry
from datasync.models import Holding, Institution, WorldCatRecord
from profiles.engine import JobRefused
from profiles.models import PublishedRecord, PublishingJob, ReconciliationRun
from profiles.reconcile import MISSING, STALE, UNKNOWN, reconcile, republish_differences
from profiles.worldcat.client import WorldCatClient
from profiles.worldcat.runs import run_reconciliation
from records.models import BibSet

from .conftest import make_bib

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def almad(oclc_api) -> Institution:
    return oclc_api.institution


@pytest.fixture
def plain_profile(make_profile, oclc_api):
    profile = make_profile(None)
    oclc_api.attach(profile)
    return profile


def check(profile, export=None, **kwargs):
    with WorldCatClient.for_profile(profile.worldcat_api) as client:
        return reconcile(profile, client=client, export=export, **kwargs)


def export_of(institution) -> list[int]:
    """What Collection Manager's holdings export lists: every number the institution holds."""
    return list(
        Holding.objects.filter(institution=institution)
        .order_by("pk")
        .values_list("record__oclc_number", flat=True)
    )


def run_page(client, profile, **data):
    """Ask for a reconciliation on the page and run it as the worker would."""
    response = client.post(reverse("profiles:reconciliation", args=[profile.pk]), data)
    assert response.status_code == 302
    run = ReconciliationRun.objects.filter(profile=profile).first()
    run_reconciliation(run)
    return client.get(reverse("profiles:reconciliation", args=[profile.pk])).content.decode()


def ledger(profile, bib, status="published", numbers=None) -> PublishedRecord:
    return PublishedRecord.objects.create(
        profile=profile,
        bib=bib,
        status=status,
        content_hash=bib.content_hash,
        oclc_numbers=bib.oclc_numbers if numbers is None else numbers,
        ldr05="d" if status == "deleted" else "n",
    )


def hold(institution, number: int, bib=None) -> Holding:
    record, _ = WorldCatRecord.objects.get_or_create(oclc_number=number)
    return Holding.objects.create(
        record=record,
        institution=institution,
        local_system_number=str(bib.mms_id) if bib else "",
    )


def test_a_ledger_matching_worldcat_shows_zero_differences_even_across_a_merge(
    plain_profile, almad, client, superuser
):
    held = make_bib(oclc="(OCoLC)ocm10699329")
    merged = make_bib(oclc="(OCoLC)123207537")
    gone = make_bib(oclc="(OCoLC)10698981")
    ledger(plain_profile, held)
    ledger(plain_profile, merged)
    ledger(plain_profile, gone, status="deleted")
    WorldCatRecord.objects.create(oclc_number=10698981)
    hold(almad, 10699329, held)
    survivor = hold(almad, 10699336, merged).record
    WorldCatRecord.objects.create(oclc_number=123207537, merged_into=survivor)

    result = check(plain_profile, export=export_of(almad))
    assert result.total == 0 and result.published == 2 and result.deleted == 1
    client.force_login(superuser)
    html = run_page(client, plain_profile)
    assert "No differences: WorldCat holds exactly what the ledger says" in html
    assert "Republish these" not in html


def test_every_kind_of_difference_is_listed(plain_profile, almad, client, superuser):
    missing = make_bib(oclc="(OCoLC)501")
    not_in_worldcat = make_bib(oclc="(OCoLC)502")
    stale = make_bib(oclc="(OCoLC)503")
    unknown = make_bib(oclc="(OCoLC)504")
    without_number = make_bib(oclc=None)
    WorldCatRecord.objects.create(oclc_number=501)
    ledger(plain_profile, missing)
    ledger(plain_profile, not_in_worldcat)
    ledger(plain_profile, stale, status="deleted")
    ledger(plain_profile, without_number)
    hold(almad, 503, stale)
    hold(almad, 504, unknown)
    hold(almad, 505)  # a holding nobody here knows

    result = check(plain_profile, export=export_of(almad))
    assert result.counts == {MISSING: 2, STALE: 1, UNKNOWN: 2}
    assert result.without_number == 1
    by_kind = {(d.kind, d.oclc_number): d for d in result.differences}
    assert by_kind[(MISSING, 501)].mms_id == missing.mms_id
    assert "not in WorldCat" in by_kind[(MISSING, 502)].detail
    assert by_kind[(STALE, 503)].mms_id == stale.mms_id
    assert by_kind[(UNKNOWN, 504)].mms_id == unknown.mms_id
    assert by_kind[(UNKNOWN, 505)].mms_id is None
    assert result.republishable() == sorted([missing.pk, not_in_worldcat.pk, stale.pk, unknown.pk])

    # Without the holdings export, unknown holdings are not looked for, and the page says so.
    without = check(plain_profile)
    assert without.counts == {MISSING: 2, STALE: 1, UNKNOWN: 0} and not without.unknown_available

    client.force_login(superuser)
    export = SimpleUploadedFile(
        "holdings.txt",
        b"035$a\n" + "\n".join(f'"(OCoLC){n:08d}"' for n in export_of(almad)).encode(),
    )
    html = run_page(client, plain_profile, export=export)
    assert "Missing holding: <strong>2</strong>" in html and "Stale holding" in html
    assert "Unknown to the ledger" in html and "Republish these" in html
    assert "published without an OCLC number" in html
    assert "sends the delete again" in html


def test_a_number_not_in_worldcat_is_missing(plain_profile):
    bib = make_bib(oclc="(OCoLC)777")
    ledger(plain_profile, bib)
    result = check(plain_profile)
    assert result.counts[MISSING] == 1
    assert "not in WorldCat" in result.differences[0].detail


def test_without_the_api_section_the_page_says_what_to_do(make_profile, client, superuser):
    profile = make_profile(None)
    client.force_login(superuser)
    html = client.get(reverse("profiles:reconciliation", args=[profile.pk])).content.decode()
    assert "fill in the" in html and "WorldCat Metadata API" in html
    response = client.post(reverse("profiles:reconciliation", args=[profile.pk]))
    assert not ReconciliationRun.objects.exists() and response.status_code == 302


def test_a_reconciliation_run_is_a_job_with_the_others_states(plain_profile, superuser):
    from jobs.models import Job, JobStatus

    run = ReconciliationRun.objects.create(profile=plain_profile, requested_by=superuser)
    assert isinstance(run, Job) and run.status == JobStatus.QUEUED and run.is_active
    assert run.job_type == "Reconciliation run"
    assert run.get_absolute_url() == reverse("profiles:reconciliation", args=[plain_profile.pk])
    run_reconciliation(run)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED and run.is_finished and run.finished_at
    assert run.started_at and run.duration is not None


def test_a_large_ledger_is_checked_ten_numbers_a_request_with_progress(plain_profile, almad):
    bibs = [make_bib(oclc=f"(OCoLC){9000 + i}") for i in range(45)]
    WorldCatRecord.objects.bulk_create(WorldCatRecord(oclc_number=9000 + i) for i in range(45))
    for bib in bibs:
        ledger(plain_profile, bib)
    seen = []
    with WorldCatClient.for_profile(plain_profile.worldcat_api) as client:
        result = reconcile(
            plain_profile, client=client, progress=lambda done, total: seen.append((done, total))
        )
        assert client.requests == 5  # 45 numbers, ten a request
    assert result.counts[MISSING] == 45 and seen[-1] == (45, 45)


def test_republish_these_creates_an_itemized_set_and_a_republish_job(
    make_profile, almad, client, superuser, sftp_connection_row, oclc_api
):
    profile = make_profile(sftp_connection_row)
    oclc_api.attach(profile)
    WorldCatRecord.objects.create(oclc_number=601)
    missing = make_bib(oclc="(OCoLC)601")
    fine = make_bib(oclc="(OCoLC)602")
    stale = make_bib(oclc="(OCoLC)603")
    ledger(profile, missing)
    ledger(profile, fine)
    ledger(profile, stale, status="deleted")
    hold(almad, 602, fine)
    hold(almad, 603, stale)

    client.force_login(superuser)
    run_page(client, profile)
    response = client.post(
        reverse("profiles:reconciliation", args=[profile.pk]), {"action": "republish"}
    )
    job = PublishingJob.objects.get()
    assert response["Location"] == reverse("profiles:job", args=[job.pk])
    assert job.kind == PublishingJob.Kind.REPUBLISH_SET and job.requested_by == superuser
    assert job.bib_set.kind == BibSet.Kind.ITEMIZED
    # The stale holding's bib goes too: the set sends its delete again.
    assert sorted(job.bib_set.bibs().values_list("pk", flat=True)) == [missing.pk, stale.pk]
    entry = AuditEntry.objects.get(action="profiles.reconcile.republished")
    assert entry.actor == superuser and entry.data["job"] == job.pk

    # A second request while that job is queued is refused, and leaves no new set behind.
    sets = BibSet.objects.count()
    with pytest.raises(JobRefused, match="already has job"):
        republish_differences(profile, actor=superuser)
    assert BibSet.objects.count() == sets and PublishingJob.objects.count() == 1


def test_nothing_to_republish_is_refused_plainly(plain_profile, almad):
    bib = make_bib(oclc="(OCoLC)701")
    ledger(plain_profile, bib, status="deleted")
    # A holding no bib of this catalogue accounts for: a republish cannot fix it.
    hold(almad, 702)
    assert check(plain_profile, export=export_of(almad)).counts[UNKNOWN] == 1
    with pytest.raises(JobRefused, match="nothing a republish can fix"):
        republish_differences(plain_profile)
    assert not BibSet.objects.exists()


@pytest.fixture
def sftp_connection_row(db):
    from ftp.models import SftpConnection

    return SftpConnection.objects.create(
        name="OCLC", server="127.0.0.1", username="u", password="p", host_key_sha256="SHA256:x"
    )


def test_republishing_retries_a_job_that_failed_after_writing_first(
    make_profile, almad, client, superuser, sftp_connection_row, tmp_path, oclc_api
):
    from django.utils import timezone

    from profiles.models import JobFile

    profile = make_profile(sftp_connection_row)
    oclc_api.attach(profile)
    missing = make_bib(oclc="(OCoLC)801")
    ledger(profile, missing)
    # An Incremental that wrote its file and failed while uploading it.
    failed = PublishingJob.objects.create(
        profile=profile,
        kind=PublishingJob.Kind.INCREMENTAL,
        status=PublishingJob.Status.FAILED,
        written_at=timezone.now(),
        finished_at=timezone.now(),
    )
    written = tmp_path / "1234567.ALMAD.failed.001.mrc"
    written.write_bytes(b"x" * 10)
    JobFile.objects.create(
        job=failed, sequence=1, name=written.name, bytes=10, sha256="0" * 64, local_path=written
    )

    client.force_login(superuser)
    run_page(client, profile)
    response = client.post(
        reverse("profiles:reconciliation", args=[profile.pk]), {"action": "republish"}
    )

    assert response["Location"] == reverse("profiles:job", args=[failed.pk])
    failed.refresh_from_db()
    assert failed.status == PublishingJob.Status.QUEUED
    # The republish waits for the retry: no job of its own yet, but its set is made.
    assert not PublishingJob.objects.filter(kind=PublishingJob.Kind.REPUBLISH_SET).exists()
    assert list(BibSet.objects.get().bibs().values_list("pk", flat=True)) == [missing.pk]
    entry = AuditEntry.objects.get(action="profiles.reconcile.republished")
    assert entry.data["retry"] == failed.pk
    assert f"job {failed.pk} retried first" in entry.message


def test_a_run_whose_worker_died_or_that_no_worker_took_is_given_up_for_a_new_one(
    plain_profile,
):
    from datetime import timedelta

    from django.utils import timezone

    from jobs import liveness
    from profiles.worldcat.runs import ReconciliationRefused, request_reconciliation

    # Running, its worker gone: its lock is free on PostgreSQL (at once), its heartbeat old on
    # SQLite.
    dead = ReconciliationRun.objects.create(profile=plain_profile, status="running")
    ReconciliationRun.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=3), progress_done=40, progress_total=90
    )
    queued = request_reconciliation(plain_profile, enqueue=False)
    dead.refresh_from_db()
    assert (dead.status, dead.failure_category) == ("failed", "worker")
    assert "stopped after checking 40 of 90" in dead.message
    # Queued, and no worker took it for 30 minutes: no cluster is running.
    ReconciliationRun.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - timedelta(minutes=31)
    )
    running = request_reconciliation(plain_profile, enqueue=False)
    queued.refresh_from_db()
    assert queued.status == "failed" and "given up" in queued.message
    # A run whose worker is alive is never given up: a second request is refused.
    with liveness.running(running, lambda: True):
        ReconciliationRun.objects.filter(pk=running.pk).update(
            status="running", heartbeat_at=timezone.now()
        )
        with pytest.raises(ReconciliationRefused, match="already queued or running"):
            request_reconciliation(plain_profile, enqueue=False)
        running.refresh_from_db()
        assert running.status == "running"
