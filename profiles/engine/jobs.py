"""A publishing job's row through its states. Internal to the engine: everything outside it asks
for work through profiles.engine.runs, which applies the retry-first rule before using these.

    create ──> Queued ──claim──> Running ──commit──> Completed successfully / with errors
                  ^                 │
                  │                 ├──fail──────────────────────> Failed
                  └──requeue────────┤                                 │
                                    └──orphaned (worker stopped)──> Failed

A worker holds the job's liveness lock (jobs.liveness) from before it claims the job until its
end is recorded, so a Running job whose lock is free has lost its worker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.log import record as audit
from jobs import liveness

from ..models import FailureCategory, JobAttempt, PublishingJob, PublishingProfile
from .notify import notify
from .pipeline import PublishError, publish

logger = logging.getLogger("profiles.engine")
Status = PublishingJob.Status


class JobRefused(Exception):
    """Work cannot be started; the message says why, for the screen and the command line."""

    def __init__(self, message: str, *, active_job: PublishingJob | None = None):
        super().__init__(message)
        self.active_job = active_job


class JobAlreadyActive(JobRefused):
    """The profile already has a queued or running job (the database refused a second)."""


def _refuse_active(profile: PublishingProfile) -> JobAlreadyActive:
    active = profile.active_job()
    detail = (
        f"job {active.pk} ({active.get_kind_display()}, {active.get_status_display().lower()})"
        if active
        else "another job"
    )
    return JobAlreadyActive(
        f"Profile “{profile}” already has {detail}. Wait for it to finish before starting another.",
        active_job=active,
    )


def _raise_if_active(profile: PublishingProfile, exc: IntegrityError) -> None:
    """Turn the one-active-job constraint's refusal into JobAlreadyActive. PostgreSQL names the
    constraint in its message, SQLite only the column, so ask for the active job instead."""
    if profile.active_job() is not None or "one_active_job_per_profile" in str(exc):
        raise _refuse_active(profile) from exc


def create(
    profile: PublishingProfile,
    kind: str,
    *,
    bib_set=None,
    requested_by=None,
    trigger: str = PublishingJob.Trigger.RUN_NOW,
    dry_run: bool = False,
) -> PublishingJob:
    """A new Queued job. Raises JobRefused with a readable reason (JobAlreadyActive when the
    profile has a queued or running job: the database's one-active-job constraint)."""
    kind = PublishingJob.Kind(kind)
    if kind == PublishingJob.Kind.REPUBLISH_SET and bib_set is None:
        raise JobRefused("Choose the set of titles to republish.")
    sends = not dry_run and kind != PublishingJob.Kind.BASELINE
    if sends and profile.ftp_connection_id is None:
        raise JobRefused(
            f"Profile “{profile}” has no FTP configuration: choose one in Submission Format "
            "(or run a dry run)."
        )
    try:
        with transaction.atomic():
            job = PublishingJob.objects.create(
                profile=profile,
                kind=kind,
                bib_set=bib_set,
                requested_by=requested_by,
                trigger=trigger,
                dry_run=dry_run,
            )
            audit(
                "profiles.job.requested",
                actor=requested_by,
                target=job,
                message=f"{job.get_kind_display()} job {job.pk} requested for {profile} "
                f"({job.get_trigger_display().lower()}"
                + (", dry run)" if dry_run else ")")
                + (f", set “{bib_set}”" if bib_set is not None else ""),
                data={"kind": kind, "trigger": trigger, "dry_run": dry_run},
            )
    except IntegrityError as exc:
        _raise_if_active(profile, exc)
        raise
    return job


def enqueue(job: PublishingJob, task: str, **kwargs) -> None:
    """Hand the job to the worker cluster: `task(job id, attempts=..., **kwargs)`, plain values
    only. `attempts`, the job's count when it was queued, tells a task delivered late (a
    cluster that died gave it back, jobs/broker.py) that a newer one has taken its turn."""
    from django_q.tasks import async_task

    job_id, attempts = job.pk, job.attempts
    # Ids only, and only once the row is committed: the worker loads it by id.
    transaction.on_commit(
        lambda: async_task(
            task, job_id, attempts=attempts, task_name=f"publishing-job-{job_id}", **kwargs
        )
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(job: PublishingJob, *, clock: Callable = timezone.now) -> bool:
    """Queued -> Running by a conditional update (only one worker can win it), and the new
    attempt's row. The caller holds the job's liveness lock."""
    now = clock()
    won = PublishingJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        attempts=F("attempts") + 1,
        failure_category="",
        failure_message="",
    )
    job.refresh_from_db()
    if won:
        JobAttempt.objects.create(
            job=job,
            number=job.attempts,
            stage=job.stage,
            requested_by=job.requested_by,
            worker=worker_name(),
            started_at=now,
        )
    return bool(won)


def execute(
    job: PublishingJob,
    *,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
    raise_errors: bool = False,
) -> PublishingJob:
    """Claim and run a queued job in this process; returns it finished (or as it was, when
    another worker has it). A failure is stored on the job and its attempt, audited and
    notified; re-raised only with raise_errors (a worker task, so django-q2 records it too)."""
    try:
        with liveness.holding(job):
            if not claim(job, clock=clock):
                logger.info("Job %s is %s, not queued: not run", job.pk, job.status)
                return job
            try:
                publish(job, clock=clock, sleep=sleep)
            except Exception as exc:
                fail(job, exc)
                if raise_errors:
                    raise
    except liveness.AlreadyRunning:
        logger.info("Job %s is being run by another worker: not run", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    notify(job)
    return job


def fail(job: PublishingJob, exc: BaseException) -> None:
    """Record an attempt's failure (category and message) unless the job has moved on."""
    if isinstance(exc, PublishError):
        category, message = exc.category, str(exc)
    else:
        logger.exception("Publishing job %s failed", job.pk)
        category = FailureCategory.INTERNAL
        message = f"Internal error ({type(exc).__name__}): {exc}"
    if not connection.in_atomic_block:
        # The failure may be the lost database connection itself: record it on a new one,
        # or the job would stay "running" until its orphan is found.
        connection.close_if_unusable_or_obsolete()
    with transaction.atomic():
        locked = PublishingJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != Status.RUNNING or locked.attempts != job.attempts:
            return  # already recorded, e.g. found orphaned meanwhile
        locked.mark_failed(category, message)
        audit(
            "profiles.job.failed",
            actor=locked.requested_by,
            target=locked,
            message=f"{locked} failed ({locked.get_failure_category_display()}): "
            f"{locked.failure_message}",
            data={"category": category, "stage": locked.stage, "attempts": locked.attempts},
        )
    job.refresh_from_db()


def requeue(job: PublishingJob, *, requested_by=None) -> PublishingJob:
    """Failed -> Queued. The next attempt resends the files the job already wrote, under the
    same names; a job that failed before its files were complete selects and writes again."""
    if job.status != Status.FAILED:
        raise JobRefused(
            f"Only a failed job can be retried; job {job.pk} is {job.get_status_display()}."
        )
    try:
        with transaction.atomic():
            updated = PublishingJob.objects.filter(pk=job.pk, status=Status.FAILED).update(
                status=Status.QUEUED, finished_at=None
            )
            if not updated:
                raise JobRefused(f"Job {job.pk} is no longer failed.")
            audit(
                "profiles.job.retried",
                actor=requested_by,
                target=job,
                message=f"{job} queued again (attempt {job.attempts + 1})",
                data={"previous_failure": job.failure_message[:500]},
            )
    except IntegrityError as exc:
        _raise_if_active(job.profile, exc)
        raise
    job.refresh_from_db()
    return job
