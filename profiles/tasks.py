"""django-q2 tasks: load by id, call the engine, nothing else.

`request_job`, `run_job_now`, `retry_job` and `recover_stale_jobs` are re-exported here for the
screens; they live in profiles.engine.jobs.
"""

from __future__ import annotations

import logging

from .engine.jobs import (  # noqa: F401 - public entry points for the UI
    JobAlreadyActive,
    JobRefused,
    recover_stale_jobs,
    request_job,
    retry_job,
    run_job_now,
)
from .engine.runs import FollowUp, run_now, run_then
from .models import PublishingJob, PublishingProfile
from .scheduling import sync_schedule

logger = logging.getLogger("profiles.tasks")


def run_job(job_id: int) -> str:
    job = PublishingJob.objects.select_related("profile").get(pk=job_id)
    job = run_job_now(job, raise_errors=True)
    return job.status


def run_job_then(job_id: int, follow_up: dict) -> str:
    """A failed job's retry that goes first; the requested job is queued once it commits."""
    job = PublishingJob.objects.select_related("profile").get(pk=job_id)
    result = run_then(job, FollowUp(**follow_up), enqueue=True, raise_errors=True)
    return result.retry.status


def run_scheduled_profile(profile_id: int) -> str:
    """The profile's Schedule fires this: one job in the profile's current mode, after a
    retry of the profile's last job when it failed after writing its files."""
    recover_stale_jobs()
    profile = PublishingProfile.objects.get(pk=profile_id)
    # django-q2 moves next_run by whole local days from the slot that fired; a slot that had
    # to shift (02:00 on the spring-forward day runs at 03:00) would stay shifted for good.
    # Re-aligning here puts the next run back on the chosen hour.
    sync_schedule(profile)
    if not profile.is_scheduled:
        return "not scheduled"
    try:
        result = run_now(
            profile,
            profile.publishing_mode,
            trigger=PublishingJob.Trigger.SCHEDULE,
            raise_errors=True,
        )
    except JobRefused as exc:
        logger.warning("Scheduled run of %s skipped: %s", profile, exc)
        return f"skipped: {exc}"
    if result.job is None:
        return f"retry of job {result.retry.pk} {result.retry.status}"
    return result.job.status
