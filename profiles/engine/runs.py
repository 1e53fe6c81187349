"""Starting a run of a profile (schedule, Run now, Republish, `publish`): a failed job first.

A job that failed after it wrote its files may already have delivered some of them. A new job
would send those records again under new file names (a duplicate at OCLC), while a retry of the
failed job resends the same bytes under the same names (OCLC keeps the last file of a name per
day). So when the profile's latest sending job failed after writing, a run request retries that
job first, with its frozen selection, and only when the retry commits is the requested job
created and run.

`request_run` is for the screens (queued on the worker cluster); `run_now` is for the schedule's
task and the command line (in this process).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.utils import timezone

from audit.log import record as audit

from ..models import PublishingJob, PublishingProfile
from .commit import ADVANCES_WATERMARK
from .jobs import enqueue_job, request_job, retry_job, run_job_now

THEN_TASK = "profiles.tasks.run_job_then"
COMMITTED = (PublishingJob.Status.SUCCEEDED, PublishingJob.Status.COMPLETED_WITH_ERRORS)


@dataclass(frozen=True)
class FollowUp:
    """The job that was asked for, to request once the retry has committed (task arguments)."""

    kind: str
    trigger: str
    bib_set_id: int | None = None
    requested_by_id: int | None = None
    dry_run: bool = False

    @classmethod
    def of(cls, kind, *, trigger, bib_set=None, requested_by=None, dry_run=False) -> FollowUp:
        return cls(
            kind=PublishingJob.Kind(kind).value,
            trigger=PublishingJob.Trigger(trigger).value,
            bib_set_id=getattr(bib_set, "pk", None),
            requested_by_id=getattr(requested_by, "pk", None),
            dry_run=bool(dry_run),
        )

    def request(self, profile: PublishingProfile, *, enqueue: bool) -> PublishingJob:
        from django.contrib.auth import get_user_model

        from records.models import BibSet

        user = (
            get_user_model().objects.filter(pk=self.requested_by_id).first()
            if self.requested_by_id
            else None
        )
        bib_set = BibSet.objects.filter(pk=self.bib_set_id).first() if self.bib_set_id else None
        return request_job(
            profile,
            self.kind,
            bib_set=bib_set,
            requested_by=user,
            trigger=self.trigger,
            dry_run=self.dry_run,
            enqueue=enqueue,
        )


@dataclass
class RunRequest:
    """What a run request started: the requested job, or the retry that goes first."""

    job: PublishingJob | None = None
    retry: PublishingJob | None = None
    follow_up: FollowUp | None = None

    @property
    def message(self) -> str:
        if self.retry is None:
            return ""
        return (
            f"Retrying job {self.retry.pk} first: it failed after writing its files, which are "
            "resent under the same names. The "
            f"{PublishingJob.Kind(self.follow_up.kind).label} job runs after it succeeds."
        )


def job_to_retry_first(profile: PublishingProfile) -> PublishingJob | None:
    """The latest job of the profile that failed after writing its files (and so may have
    delivered some of them) since its last committed Full or Incremental, when those files are
    still on disk to resend.

    Not only the very latest job: a later job that failed before writing anything, or a
    Republish set, does not make the earlier failed job's delivered records safe to resend
    under new names; only a committed Full or Incremental (which resends or supersedes them)
    does.
    """
    jobs = PublishingJob.objects.filter(profile=profile, dry_run=False)
    last_good = (
        jobs.filter(kind__in=ADVANCES_WATERMARK, status__in=COMMITTED)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    failed = jobs.filter(status=PublishingJob.Status.FAILED, written_at__isnull=False).exclude(
        kind=PublishingJob.Kind.BASELINE
    )
    if last_good is not None:
        failed = failed.filter(created_at__gt=last_good)
    latest = failed.order_by("-created_at", "-id").first()
    if latest is None:
        return None
    files = list(latest.files.values_list("local_path", "bytes"))
    # Files gone from the publishing folder, or changed in size since they were written,
    # cannot be resent as they were: the new job goes ahead instead of a retry that could
    # only fail again. (A same-size change is caught by the retry's checksum, which moves the
    # file aside; see pipeline._verified_files.)
    if not files or not all(_same_size(Path(path), size) for path, size in files):
        return None
    return latest


def _same_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _retry_first(profile, follow_up: FollowUp, actor) -> PublishingJob | None:
    if follow_up.dry_run:
        return None  # a dry run sends nothing, so it duplicates nothing
    failed = job_to_retry_first(profile)
    if failed is None:
        return None
    retry = retry_job(failed, requested_by=actor, enqueue=False)
    audit(
        "profiles.job.retry_first",
        actor=actor,
        target=retry,
        message=f"Retrying job {retry.pk} first before the requested "
        f"{PublishingJob.Kind(follow_up.kind).label} job of {profile}: it failed after writing "
        "its files, and a new job would send what it delivered again under new names",
        data=asdict(follow_up),
    )
    return retry


def request_run(profile: PublishingProfile, kind: str, **options) -> RunRequest:
    """Queue the requested job on the cluster, or the failed job's retry followed by it.

    `options`: bib_set, requested_by, trigger, dry_run (as for request_job). Raises JobRefused
    like request_job (JobAlreadyActive while a job is queued or running).
    """
    options.setdefault("trigger", PublishingJob.Trigger.RUN_NOW)
    follow_up = FollowUp.of(kind, **options)
    retry = _retry_first(profile, follow_up, options.get("requested_by"))
    if retry is None:
        return RunRequest(job=follow_up.request(profile, enqueue=True))
    enqueue_job(retry, task=THEN_TASK, follow_up=asdict(follow_up))
    return RunRequest(retry=retry, follow_up=follow_up)


def run_then(
    retry: PublishingJob,
    follow_up: FollowUp,
    *,
    enqueue: bool,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
    raise_errors: bool = False,
) -> RunRequest:
    """Run the queued retry; when it commits, request the follow-up job (queued on the cluster
    with `enqueue`, else run here). A retry that fails again leaves the follow-up unrequested:
    the next run retries it first again."""
    retry = run_job_now(retry, clock=clock, sleep=sleep, raise_errors=raise_errors)
    result = RunRequest(retry=retry, follow_up=follow_up)
    if retry.status not in COMMITTED:
        return result
    job = follow_up.request(retry.profile, enqueue=enqueue)
    if not enqueue:
        job = run_job_now(job, clock=clock, sleep=sleep, raise_errors=raise_errors)
    result.job = job
    return result


def run_now(
    profile: PublishingProfile,
    kind: str,
    *,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
    raise_errors: bool = False,
    **options,
) -> RunRequest:
    """Run the requested job in this process, after retrying a failed one first if needed.

    `options` as for request_run. `result.job` is the requested job, finished, or None when the
    retry failed again (then `result.retry` says why). Raises JobRefused like request_job.
    """
    options.setdefault("trigger", PublishingJob.Trigger.COMMAND)
    follow_up = FollowUp.of(kind, **options)
    retry = _retry_first(profile, follow_up, options.get("requested_by"))
    if retry is None:
        job = follow_up.request(profile, enqueue=False)
        return RunRequest(job=run_job_now(job, clock=clock, sleep=sleep, raise_errors=raise_errors))
    return run_then(
        retry, follow_up, enqueue=False, clock=clock, sleep=sleep, raise_errors=raise_errors
    )
