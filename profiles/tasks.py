"""django-q2 tasks: load by id, call the engine's one way in (profiles.engine.runs), nothing else.

The names are kept: queued tasks and profiles' Schedules refer to them by dotted path.
"""

from __future__ import annotations

from .engine import run_queued, run_scheduled


def run_job(job_id: int, attempts: int | None = None) -> str:
    return run_queued(job_id, attempts=attempts)


def run_job_then(job_id: int, follow_up: dict, attempts: int | None = None) -> str:
    """A failed job's retry that goes first; the requested job is queued once it commits."""
    return run_queued(job_id, follow_up=follow_up, attempts=attempts)


def run_scheduled_profile(profile_id: int) -> str:
    return run_scheduled(profile_id)
