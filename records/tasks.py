"""django-q2 tasks: load the job row by id and hand it to records.jobs."""

from __future__ import annotations

from .jobs import run_import, synchronize
from .models import ImportJob, SyncJob


def import_marc_job(job_id: int) -> str:
    return run_import(ImportJob.objects.get(pk=job_id)).status


def synchronize_job(job_id: int) -> str:
    return synchronize(SyncJob.objects.get(pk=job_id)).status
