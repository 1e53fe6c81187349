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
from .models import PublishingJob, PublishingProfile
from .scheduling import sync_schedule

logger = logging.getLogger("profiles.tasks")


def run_job(job_id: int) -> str:
    job = PublishingJob.objects.select_related("profile").get(pk=job_id)
    job = run_job_now(job, raise_errors=True)
    return job.status


def run_scheduled_profile(profile_id: int) -> str:
    """The profile's Schedule fires this: one job in the profile's current mode."""
    recover_stale_jobs()
    profile = PublishingProfile.objects.get(pk=profile_id)
    # django-q2 moves next_run by whole local days from the slot that fired; a slot that had
    # to shift (02:00 on the spring-forward day runs at 03:00) would stay shifted for good.
    # Re-aligning here puts the next run back on the chosen hour.
    sync_schedule(profile)
    if not profile.is_scheduled:
        return "not scheduled"
    try:
        job = request_job(
            profile,
            profile.publishing_mode,
            trigger=PublishingJob.Trigger.SCHEDULE,
            enqueue=False,
        )
    except JobRefused as exc:
        logger.warning("Scheduled run of %s skipped: %s", profile, exc)
        return f"skipped: {exc}"
    return run_job_now(job, raise_errors=True).status
