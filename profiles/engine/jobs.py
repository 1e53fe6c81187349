"""Jobs as rows with explicit states: request, claim, run, fail, retry, recover.

The UI, the `publish` command and the django-q2 tasks call these; none of them runs the pipeline
any other way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.log import record as audit

from ..models import STALE_AFTER, FailureCategory, PublishingJob, PublishingProfile
from .notify import notify
from .pipeline import PublishError, publish

logger = logging.getLogger("profiles.engine")
RUN_TASK = "profiles.tasks.run_job"


class JobRefused(Exception):
    """A job cannot be requested; the message says why, for the screen and the command line."""

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


def enqueue_job(job: PublishingJob, *, task: str = RUN_TASK, **kwargs) -> None:
    """Hand the job to the worker cluster: `task(job id, **kwargs)`, plain values only."""
    from django_q.tasks import async_task

    job_id = job.pk
    # Ids only, and only once the row is committed: the worker loads it by id.
    transaction.on_commit(
        lambda: async_task(task, job_id, task_name=f"publishing-job-{job_id}", **kwargs)
    )


def request_job(
    profile: PublishingProfile,
    kind: str,
    *,
    bib_set=None,
    requested_by=None,
    trigger: str = PublishingJob.Trigger.RUN_NOW,
    dry_run: bool = False,
    enqueue: bool = True,
) -> PublishingJob:
    """Create a queued job for the profile and (by default) hand it to the worker cluster.

    Raises JobRefused with a readable reason (JobAlreadyActive when one is queued or running).
    """
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
    if enqueue:
        enqueue_job(job)
    return job


def claim(job: PublishingJob, *, clock: Callable = timezone.now) -> bool:
    """queued -> running, by a conditional update: only one worker can win it."""
    now = clock()
    won = PublishingJob.objects.filter(pk=job.pk, status=PublishingJob.Status.QUEUED).update(
        status=PublishingJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        attempts=F("attempts") + 1,
        failure_category="",
        failure_message="",
    )
    job.refresh_from_db()
    return bool(won)


def run_job_now(
    job: PublishingJob,
    *,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
    raise_errors: bool = False,
) -> PublishingJob:
    """Claim and run a queued job in this process; returns it finished (succeeded or failed).

    A failure is stored on the job (category and message), audited and notified; it is
    re-raised only with raise_errors (the worker task, so django-q2 records it too).
    """
    if not claim(job, clock=clock):
        logger.info("Job %s is %s, not queued: not run", job.pk, job.status)
        return job
    try:
        publish(job, clock=clock, sleep=sleep)
    except Exception as exc:
        fail_job(job, exc)
        if raise_errors:
            raise
    job.refresh_from_db()
    notify(job)
    return job


def fail_job(job: PublishingJob, exc: BaseException) -> None:
    if isinstance(exc, PublishError):
        category, message = exc.category, str(exc)
    else:
        logger.exception("Publishing job %s failed", job.pk)
        category = FailureCategory.INTERNAL
        message = f"Internal error ({type(exc).__name__}): {exc}"
    if not connection.in_atomic_block:
        # The failure may be the lost database connection itself: record it on a new one,
        # or the job would stay "running" until it is recovered as stale.
        connection.close_if_unusable_or_obsolete()
    job.refresh_from_db()
    if job.status != PublishingJob.Status.RUNNING:
        return  # already recorded, e.g. recovered as stale meanwhile
    job.mark_failed(category, message)
    audit(
        "profiles.job.failed",
        actor=job.requested_by,
        target=job,
        message=f"{job} failed ({job.get_failure_category_display()}): {job.failure_message}",
        data={"category": category, "stage": job.stage, "attempts": job.attempts},
    )


def retry_job(job: PublishingJob, *, requested_by=None, enqueue: bool = True) -> PublishingJob:
    """Queue a failed job again. It resends the files it already wrote, under the same names;
    a job that failed before its files were complete selects and writes them again."""
    if job.status != PublishingJob.Status.FAILED:
        raise JobRefused(f"Only a failed job can be retried; job {job.pk} is {job.status}.")
    try:
        with transaction.atomic():
            updated = PublishingJob.objects.filter(
                pk=job.pk, status=PublishingJob.Status.FAILED
            ).update(status=PublishingJob.Status.QUEUED, finished_at=None)
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
    if enqueue:
        enqueue_job(job)
    return job


def recover_stale_jobs(*, now=None) -> list[PublishingJob]:
    """Mark running jobs whose worker stopped beating as failed, so they can be retried.

    Nothing of a stale job was committed (commit is one transaction), so a retry resends its
    files and loses nothing.
    """
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    recovered = []
    stale = PublishingJob.objects.filter(
        status=PublishingJob.Status.RUNNING, heartbeat_at__lt=cutoff
    ).select_related("profile")
    for job in stale:
        with transaction.atomic():
            locked = PublishingJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != PublishingJob.Status.RUNNING or not locked.is_stale(now):
                continue
            last = timezone.localtime(locked.heartbeat_at).strftime("%Y-%m-%d %H:%M %Z")
            locked.mark_failed(
                FailureCategory.INTERNAL,
                f"The worker running this job stopped responding (last heartbeat {last}). "
                "Nothing was committed; retry the job to resend its files.",
            )
            audit(
                "profiles.job.failed",
                target=locked,
                message=f"{locked} marked failed: its worker stopped responding",
                data={"category": "internal", "stale": True, "stage": locked.stage},
            )
        recovered.append(locked)
    return recovered
