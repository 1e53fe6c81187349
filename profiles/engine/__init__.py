"""The publishing engine: plain functions that take a job from request to commit.

- jobs.py: request_job, run_job_now, retry_job, recover_stale_jobs (rows with explicit states)
- pipeline.py: publish(job), the numbered steps
- selection.py: which bibs, and what to do with each; marcout.py: the bytes sent
- writer.py: files and their names; commit.py: the one transaction at the end
"""

from __future__ import annotations

from .jobs import (
    JobAlreadyActive,
    JobRefused,
    claim,
    recover_stale_jobs,
    request_job,
    retry_job,
    run_job_now,
)
from .pipeline import PublishError, PublishResult, publish

__all__ = [
    "JobAlreadyActive",
    "JobRefused",
    "PublishError",
    "PublishResult",
    "claim",
    "publish",
    "recover_stale_jobs",
    "request_job",
    "retry_job",
    "run_job_now",
]
