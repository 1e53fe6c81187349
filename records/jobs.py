"""The catalogue's background jobs: a MARC import from an upload, and "Synchronize Bib Records
with External Catalog" over a set. Each runs from a job row (records.models.ImportJob, SyncJob)
that shows its progress; the django-q2 tasks in records.tasks only load the row and call these.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.log import record as audit
from jobs import liveness
from jobs.models import JobStatus

from .actions import set_export_tag
from .importer import Importer, ImportResult, parse_holdings_option
from .models import Bib, ExportTag, ImportJob, SyncJob

logger = logging.getLogger(__name__)
SYNC_BATCH = 1000


def _claim(model, pk: int) -> bool:
    """Move a queued job to running; False if another worker already has it (or it is done).
    Called under the job's liveness lock (jobs.liveness.running)."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, heartbeat_at=now
        )
    )


def enqueue(task: str, job_id: int) -> None:
    """Hand a job to the django-q2 workers once the transaction that created its row commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(task, job_id, task_name=f"{task}:{job_id}"))


def run_import(job: ImportJob) -> ImportJob:
    """Import the job's stored file, saving counts and progress on the row as it goes."""
    with liveness.running(job, lambda: _claim(ImportJob, job.pk)) as mine:
        job.refresh_from_db()
        if mine:
            _import(job)
    return job


def _import(job: ImportJob) -> None:
    def progress(result: ImportResult) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            bytes_read=result.bytes_read,
            imported=result.imported,
            updated=result.updated,
            failed=result.failed,
            heartbeat_at=timezone.now(),
        )

    try:
        importer = Importer(
            export_tag=job.export_tag or None,
            default_holdings=parse_holdings_option(job.holdings),
            actor=job.requested_by,
            progress=progress,
        )
        importer.import_path(job.path, name=job.original_name)
        importer.finish()
    except Exception as exc:
        job.status = JobStatus.FAILED
        job.message = f"The import stopped: {exc}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "finished_at"])
        audit(
            "records.import.failed",
            actor=job.requested_by,
            target=job,
            message=f"Import of {job.original_name} failed: {exc}",
        )
        raise
    result = importer.result
    job.imported, job.updated, job.failed = result.imported, result.updated, result.failed
    if importer.refused_files:
        # The file as a whole is not MARC (or a container): nothing was read, the job failed.
        (error,) = result.errors[:1] or [{"message": "the file is not a MARC file"}]
        job.status = JobStatus.FAILED
        job.errors = result.errors[: ImportJob.MAX_STORED_ERRORS]
        job.message = f"Nothing was imported: {error['message']}"
        job.finished_at = timezone.now()
        job.save()
        audit(
            "records.import.failed",
            actor=job.requested_by,
            target=job,
            message=f"Import of {job.original_name} failed: {error['message']}",
        )
        return
    job.bytes_read = job.total_bytes
    job.errors = result.errors[: ImportJob.MAX_STORED_ERRORS]
    job.status = JobStatus.COMPLETED_WITH_ERRORS if result.failed else JobStatus.SUCCEEDED
    job.message = (
        f"{result.imported} imported, {result.updated} updated, {result.failed} failed"
        + (
            f" (the first {ImportJob.MAX_STORED_ERRORS} errors are listed)"
            if result.failed > ImportJob.MAX_STORED_ERRORS
            else ""
        )
    )
    job.finished_at = timezone.now()
    job.save()


def synchronize(job: SyncJob) -> SyncJob:
    """Set "Export to WorldCat" to the job's value on every record of its set.

    Records already carrying the value are counted as unchanged and not touched, so running the
    job again is harmless. Each changed record gets its own audit entry (records.tag.changed).
    """
    with liveness.running(job, lambda: _claim(SyncJob, job.pk)) as mine:
        job.refresh_from_db()
        if mine:
            _synchronize(job)
    return job


def _synchronize(job: SyncJob) -> None:
    value = ExportTag(job.value)
    source = f"Synchronize with External Catalog job {job.pk} on set {job.bib_set.name}"
    try:
        ids = list(job.bib_set.bibs().order_by("pk").values_list("pk", flat=True))
        SyncJob.objects.filter(pk=job.pk).update(total=len(ids))
        for start in range(0, len(ids), SYNC_BATCH):
            batch = ids[start : start + SYNC_BATCH]
            changed = set_export_tag(
                Bib.objects.filter(pk__in=batch), value, actor=job.requested_by, source=source
            )
            SyncJob.objects.filter(pk=job.pk).update(
                processed=F("processed") + len(batch),
                changed=F("changed") + changed,
                unchanged=F("unchanged") + len(batch) - changed,
                heartbeat_at=timezone.now(),
            )
    except Exception as exc:
        SyncJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, message=str(exc), finished_at=timezone.now()
        )
        audit(
            "records.sync.failed",
            actor=job.requested_by,
            target=job.bib_set,
            message=f"Synchronize with External Catalog on {job.bib_set} failed: {exc}",
        )
        raise
    job.refresh_from_db()
    job.status = JobStatus.SUCCEEDED
    job.finished_at = timezone.now()
    job.message = (
        f"{job.processed} records: {job.changed} set to {value.label}, "
        f"{job.unchanged} already had it"
    )
    job.save(update_fields=["status", "finished_at", "message"])
    audit(
        "records.sync.finished",
        actor=job.requested_by,
        target=job.bib_set,
        message=f"Synchronize with External Catalog on {job.bib_set} ({value.label}): "
        + job.message,
        data={"job": job.pk, "changed": job.changed, "unchanged": job.unchanged},
    )
