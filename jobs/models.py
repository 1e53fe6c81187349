"""What every background job has in common (MARC import, Synchronize with External Catalog,
publishing): one state vocabulary in Alma's words and one row shape, so a Monitor Jobs list can
show jobs of every kind side by side. No tables of its own: the base is abstract."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    """A job's state, named as Alma's Monitor Jobs names it."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Completed successfully"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED)
# Finished with its work done (with or without per-record errors).
COMPLETED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.COMPLETED_WITH_ERRORS)


class Job(models.Model):
    """A background job's row: its state, who asked, when it was asked for, started, last seen
    alive and finished. Subclasses add what the job does and counts."""

    Status = JobStatus
    ACTIVE_STATUSES = ACTIVE_STATUSES
    FINISHED_STATUSES = FINISHED_STATUSES

    status = models.CharField(max_length=24, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written while the job runs; how a dead worker is noticed where no database lock can tell
    # (SQLite, see jobs.liveness).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    # The audit action of the job's failure (the worker-stopped one included).
    FAILED_ACTION = "jobs.job.failed"

    def mark_worker_stopped(self) -> None:
        """Running -> Failed because the process running the job died (jobs.liveness found its
        lock free). Called under the job's row lock; each kind says what the dead worker left
        behind in its own fields."""
        raise NotImplementedError

    def failed_elsewhere(self) -> None:
        """Called once a failure the job's own worker could not report (its worker stopped) is
        committed: say so where this kind of job says it fails. Nothing by default."""

    @property
    def job_type(self) -> str:
        """What a Monitor Jobs list shows in its "Job" column."""
        return str(self._meta.verbose_name).capitalize()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at
