"""The catalogue's background jobs (a MARC import, Synchronize with External Catalog) under a
worker SIGKILLed in the middle: like a publishing job, the job's liveness lock (jobs.liveness)
is free the moment its worker dies, so its page shows it failed, "worker stopped", within
seconds, instead of Running for good. The worker is held by a real lock (a table lock its
writes wait for), found by the connection it waits on, and killed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEntry
from records import actions
from records.jobs import enqueue
from records.models import Bib, BibSet, BibSetMember, ImportJob, SyncJob
from tests.profiles.conftest import marc_record

from .conftest import wait_for
from .test_worker_faults import kill_worker_holding, waiting_backend_port

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def progress_status(client, job) -> str:
    """What the job's page polls, as staff see it."""
    return client.get(job.get_absolute_url() + "progress/").json()["status"]


def killed_while_writing(client, cluster, job, lock):
    """The cluster's worker has started `job` and waits for the bib table `lock` holds: kill
    it, then let go of the table."""
    port = wait_for(lambda: waiting_backend_port("records_bib"), what="the blocked job")
    assert progress_status(client, job) == "running"
    kill_worker_holding(cluster, port)
    lock.rollback()
    # The page finds the job orphaned within seconds (polled: another process's state).
    wait_for(lambda: progress_status(client, job) == "failed", timeout=10, what="Failed")
    job.refresh_from_db()
    assert job.is_finished and job.finished_at is not None
    assert AuditEntry.objects.filter(
        action=job.FAILED_ACTION, target_id=str(job.pk), message__contains="worker stopped"
    ).exists()
    return job


def test_a_worker_killed_during_an_import_leaves_it_failed_not_running(
    client,
    superuser,
    start_cluster,
    held_table,
    shared_marc,
    settings,
    tmp_path,
):
    client.force_login(superuser)
    settings.UPLOAD_DIR = tmp_path
    cluster = start_cluster()
    upload = SimpleUploadedFile("chabon.mrc", (shared_marc / "marc4j/chabon.mrc").read_bytes())
    lock = held_table("records_bib")
    client.post(reverse("admin:records_importjob_add"), {"file": upload})
    job = ImportJob.objects.get()
    job = killed_while_writing(client, cluster, job, lock)
    assert job.status == "failed"
    assert "The worker running this import stopped" in job.message
    assert not Bib.objects.exists()  # the chunk it was writing is not in the catalogue
    page = client.get(job.get_absolute_url()).content.decode()
    assert "The worker running this import stopped" in page


def test_a_worker_killed_during_a_synchronize_leaves_it_failed_not_running(
    client,
    superuser,
    start_cluster,
    held_table,
):
    client.force_login(superuser)
    bibs = [actions.create_bib(marc_record(f"Title {i}")) for i in range(3)]
    bib_set = BibSet.objects.create(name="To withhold")
    BibSetMember.objects.bulk_create([BibSetMember(bib_set=bib_set, bib=b) for b in bibs])
    cluster = start_cluster()
    lock = held_table("records_bib")
    job = SyncJob.objects.create(bib_set=bib_set, value="dont_publish", requested_by=superuser)
    enqueue("records.tasks.synchronize_job", job.pk)
    job = killed_while_writing(client, cluster, job, lock)
    assert job.status == "failed" and "The worker running this job stopped" in job.message
    assert set(Bib.objects.values_list("export_tag", flat=True)) != {"dont_publish"}
