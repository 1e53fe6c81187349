"""The publishing engine. Its public names are those of runs.py, the one way to ask for work
(run now, Republish set, the schedule's run, retry, dry run, a worker's part); each applies the
one-job-per-profile and retry-first rules. The other modules are its inside:

- jobs.py: a job row through its states (create, claim, execute, fail, requeue, orphans)
- pipeline.py: publish(job), the numbered steps
- selection.py: which bibs, and what to do with each; marcout.py: the bytes sent
- writer.py: files and their names; commit.py: the one transaction at the end
- api_delivery.py: an Incremental's holdings set and unset through the WorldCat Metadata API
"""

from __future__ import annotations

from .runs import (
    DryRun,
    JobAlreadyActive,
    JobRefused,
    ModeChanged,
    RunRequest,
    dry_run,
    find_orphans,
    job_to_retry_first,
    republish_set,
    retry,
    run_now,
    run_queued,
    run_scheduled,
)

__all__ = [
    "DryRun",
    "JobAlreadyActive",
    "JobRefused",
    "ModeChanged",
    "RunRequest",
    "dry_run",
    "find_orphans",
    "job_to_retry_first",
    "republish_set",
    "retry",
    "run_now",
    "run_queued",
    "run_scheduled",
]
