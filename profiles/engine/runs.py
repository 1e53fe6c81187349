"""The one way to ask for publishing work. Screens, the `publish` command, the schedule's and the
queue's django-q2 tasks, bench/ and the tests all come through here:

- run_now(profile, ...): the profile's mode now (Run now, the command line; a dry run too);
- republish_set(profile, bib_set, ...): "Bib OCLC Republish Set of Titles";
- run_scheduled(profile_id): what the profile's Schedule fires;
- retry(job, ...): a failed job again, with the files it wrote;
- dry_run(profile, ...): what a job would do, counted with examples, nothing written or sent;
- run_queued(job_id, ...): a worker's part, called by profiles.tasks with the job's id.

Two rules hold for every request:

1. One job per profile: a second queued or running job is refused (JobAlreadyActive), by the
   database's one-active-job constraint. A running job whose worker has died (jobs.liveness)
   is first marked failed, "worker stopped", so it does not block the profile.
2. Retry first: a job that failed after it wrote its files may already have delivered some of
   them. A new job would send those records again under new file names (a duplicate at OCLC),
   while a retry resends the same bytes under the same names (OCLC keeps the last file of a name
   per day). So when the profile has such a job, a request retries it first, with its frozen
   selection, and only once the retry commits is the requested job created and run.

Work runs on the worker cluster (queued; the screens) or, with in_process=True, here before the
call returns (the command line, the schedule's task, bench/, tests).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from jobs import liveness
from jobs.models import COMPLETED_STATUSES

from ..models import JobRecord, PublishingJob, PublishingProfile
from . import api_delivery, jobs
from .commit import ADVANCES_WATERMARK
from .jobs import JobAlreadyActive, JobRefused  # noqa: F401 - raised to the callers of runs
from .kinds import kind_of
from .pipeline import CHUNK

logger = logging.getLogger("profiles.engine")
RUN_TASK = "profiles.tasks.run_job"
THEN_TASK = "profiles.tasks.run_job_then"
Kind = PublishingJob.Kind
Trigger = PublishingJob.Trigger


class ModeChanged(JobRefused):
    """The profile's publishing mode is no longer the one the person confirmed (a stale page)."""


@dataclass(frozen=True)
class FollowUp:
    """The job that was asked for, to create once the retry has committed (task arguments)."""

    kind: str
    trigger: str
    bib_set_id: int | None = None
    requested_by_id: int | None = None
    dry_run: bool = False

    @classmethod
    def of(cls, kind, *, trigger, bib_set=None, requested_by=None, dry_run=False) -> FollowUp:
        return cls(
            kind=Kind(kind).value,
            trigger=Trigger(trigger).value,
            bib_set_id=getattr(bib_set, "pk", None),
            requested_by_id=getattr(requested_by, "pk", None),
            dry_run=bool(dry_run),
        )

    @property
    def label(self) -> str:
        return Kind(self.kind).label

    def requester(self):
        from django.contrib.auth import get_user_model

        if not self.requested_by_id:
            return None
        return get_user_model().objects.filter(pk=self.requested_by_id).first()

    def create(self, profile: PublishingProfile) -> PublishingJob:
        from records.models import BibSet

        bib_set = BibSet.objects.filter(pk=self.bib_set_id).first() if self.bib_set_id else None
        return jobs.create(
            profile,
            self.kind,
            bib_set=bib_set,
            requested_by=self.requester(),
            trigger=self.trigger,
            dry_run=self.dry_run,
        )


@dataclass
class RunRequest:
    """What a request started: the requested job, or the retry that goes first (the requested
    job is then None until the retry commits; in process, None when the retry failed again)."""

    job: PublishingJob | None = None
    retry: PublishingJob | None = None
    follow_up: FollowUp | None = None
    # Jobs found running without a live worker and marked failed on the way.
    orphans: list[PublishingJob] = field(default_factory=list)

    @property
    def message(self) -> str:
        """For the screen or the command line: what happened first, and why."""
        parts = [
            f"Job {o.pk} had lost its worker (the process running it stopped): marked failed."
            for o in self.orphans
        ]
        if self.retry is not None:
            parts.append(
                f"Retrying job {self.retry.pk} first: it failed after writing its files, which "
                f"are resent under the same names. The {self.follow_up.label} job runs after "
                "it succeeds."
            )
        return " ".join(parts)


# --- asking for work ---------------------------------------------------------------------------


def run_now(
    profile: PublishingProfile,
    *,
    confirmed_mode: str | None = None,
    mode: str | None = None,
    requested_by=None,
    dry_run: bool = False,
    trigger: str = Trigger.RUN_NOW,
    in_process: bool = False,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> RunRequest:
    """Run the profile in its publishing mode now (a failed job's retry first, see above).

    `confirmed_mode`: the mode the person saw and confirmed; refused with ModeChanged when the
    profile's mode is no longer that one (a Full that just switched it to Incremental). `mode`:
    run this mode instead of the profile's (the command line's --mode). `dry_run`: the job
    writes its files but uploads nothing and changes no ledger. Raises JobRefused.
    """
    current = PublishingProfile.objects.values_list("publishing_mode", flat=True).get(pk=profile.pk)
    if confirmed_mode is not None and confirmed_mode not in PublishingProfile.Mode.values:
        raise JobRefused(f"“{confirmed_mode}” is not a publishing mode: nothing was started.")
    if confirmed_mode is not None and confirmed_mode != current:
        raise ModeChanged(
            f"The publishing mode of “{profile}” is now {PublishingProfile.Mode(current).label}, "
            f"not {PublishingProfile.Mode(confirmed_mode).label} as on the page you confirmed: "
            "nothing was started. Check the mode and confirm again."
        )
    follow_up = FollowUp.of(
        mode or current, trigger=trigger, requested_by=requested_by, dry_run=dry_run
    )
    return _start(profile, follow_up, in_process=in_process, clock=clock, sleep=sleep)


def republish_set(
    profile: PublishingProfile,
    bib_set,
    *,
    requested_by=None,
    dry_run: bool = False,
    trigger: str = Trigger.REPUBLISH,
    in_process: bool = False,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> RunRequest:
    """ "Bib OCLC Republish Set of Titles": every record of the set sent as new/changed (or its
    delete sent again), whatever the ledger says. Raises JobRefused."""
    if bib_set is None:
        raise JobRefused("Choose the set of titles to republish.")
    follow_up = FollowUp.of(
        Kind.REPUBLISH_SET,
        trigger=trigger,
        bib_set=bib_set,
        requested_by=requested_by,
        dry_run=dry_run,
    )
    return _start(profile, follow_up, in_process=in_process, clock=clock, sleep=sleep)


def run_scheduled(profile_id: int) -> str:
    """What the profile's Schedule fires: one job in the profile's current mode, in this
    process (a worker of the cluster), after a retry when one is due. Returns a short outcome
    for django-q2's task result."""
    from ..scheduling import sync_schedule

    profile = PublishingProfile.objects.get(pk=profile_id)
    # django-q2 moves next_run by whole local days from the slot that fired; a slot that had
    # to shift (02:00 on the spring-forward day runs at 03:00) would stay shifted for good.
    # Re-aligning here puts the next run back on the chosen hour.
    sync_schedule(profile)
    if not profile.is_scheduled:
        return "not scheduled"
    follow_up = FollowUp.of(profile.publishing_mode, trigger=Trigger.SCHEDULE)
    try:
        result = _start(profile, follow_up, in_process=True, raise_errors=True)
    except JobRefused as exc:
        logger.warning("Scheduled run of %s skipped: %s", profile, exc)
        return f"skipped: {exc}"
    if result.job is None:
        return f"retry of job {result.retry.pk} {result.retry.status}"
    return result.job.status


def retry(
    job: PublishingJob,
    *,
    requested_by=None,
    in_process: bool = False,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> PublishingJob:
    """Run a failed job again: it resends the files it wrote, under the same names (one that
    failed before its files were complete selects and writes again). Raises JobRefused."""
    find_orphans(profile=job.profile)
    job = jobs.requeue(job, requested_by=requested_by)
    if in_process:
        return jobs.execute(job, clock=clock, sleep=sleep)
    jobs.enqueue(job, RUN_TASK)
    return job


def run_queued(job_id: int, follow_up: dict | None = None, *, attempts: int | None = None) -> str:
    """A worker's part (profiles.tasks): run the queued job with this id; when it is a retry
    that went first, create and queue the requested job once it commits. `attempts`: the
    job's count when this task was queued."""
    job = PublishingJob.objects.select_related("profile").get(pk=job_id)
    if job.status != PublishingJob.Status.QUEUED or attempts not in (None, job.attempts):
        # A task delivered late (a dead cluster's, given back by jobs/broker.py): its job has
        # run, or is running, or was queued again by a newer task that runs it (with the
        # follow-up that one carries). Running it here would create a follow-up twice, or none.
        logger.info("Job %s: a late task, not run (the job is %s)", job.pk, job.status)
        return job.status
    if follow_up is None:
        return jobs.execute(job, raise_errors=True).status
    result = _retry_then(job, FollowUp(**follow_up), in_process=False, raise_errors=True)
    return result.retry.status


def find_orphans(
    *, profile: PublishingProfile | None = None, job: PublishingJob | None = None
) -> list[PublishingJob]:
    """Mark failed ("worker stopped") the running jobs (of a profile, or one job, or all)
    whose worker has died; returns them. Safe to call anywhere, any time: a live job is never
    touched."""
    qs = PublishingJob.objects.all()
    if profile is not None:
        qs = qs.filter(profile=profile)
    if job is not None:
        qs = qs.filter(pk=job.pk)
    return liveness.fail_orphans(qs)


# --- the two rules -----------------------------------------------------------------------------


def job_to_retry_first(profile: PublishingProfile) -> PublishingJob | None:
    """The latest job of the profile that failed after writing its files (and so may have
    delivered some of them) since its last committed Full or Incremental, when those files are
    still on disk to resend.

    Not only the very latest job: a later job that failed before writing anything, or a
    Republish set, does not make the earlier failed job's delivered records safe to resend
    under new names; only a committed Full or Incremental (which resends or supersedes them)
    does.
    """
    done = PublishingJob.objects.filter(profile=profile, dry_run=False)
    last_good = (
        done.filter(kind__in=ADVANCES_WATERMARK, status__in=COMPLETED_STATUSES)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    failed = done.filter(status=PublishingJob.Status.FAILED, written_at__isnull=False).exclude(
        kind=Kind.BASELINE
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


def _start(
    profile: PublishingProfile,
    follow_up: FollowUp,
    *,
    in_process: bool,
    raise_errors: bool = False,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> RunRequest:
    orphans = find_orphans(profile=profile)
    failed = None if follow_up.dry_run else job_to_retry_first(profile)
    if failed is None:
        job = follow_up.create(profile)
        if in_process:
            job = jobs.execute(job, clock=clock, sleep=sleep, raise_errors=raise_errors)
        else:
            jobs.enqueue(job, RUN_TASK)
        return RunRequest(job=job, orphans=orphans)
    actor = follow_up.requester()
    again = jobs.requeue(failed, requested_by=actor)
    audit(
        "profiles.job.retry_first",
        actor=actor,
        target=again,
        message=f"Retrying job {again.pk} first before the requested {follow_up.label} job of "
        f"{profile}: it failed after writing its files, and a new job would send what it "
        "delivered again under new names",
        data=asdict(follow_up),
    )
    if not in_process:
        jobs.enqueue(again, THEN_TASK, follow_up=asdict(follow_up))
        return RunRequest(retry=again, follow_up=follow_up, orphans=orphans)
    result = _retry_then(
        again, follow_up, in_process=True, raise_errors=raise_errors, clock=clock, sleep=sleep
    )
    result.orphans = orphans
    return result


def _retry_then(
    again: PublishingJob,
    follow_up: FollowUp,
    *,
    in_process: bool,
    raise_errors: bool,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> RunRequest:
    """Run the queued retry; when it commits, create the requested job (run here in process,
    else queued on the cluster). A retry that fails again leaves the requested job uncreated:
    the next request retries it first again."""
    again = jobs.execute(again, clock=clock, sleep=sleep, raise_errors=raise_errors)
    result = RunRequest(retry=again, follow_up=follow_up)
    if again.status not in COMPLETED_STATUSES:
        return result
    job = follow_up.create(again.profile)
    if in_process:
        job = jobs.execute(job, clock=clock, sleep=sleep, raise_errors=raise_errors)
    else:
        jobs.enqueue(job, RUN_TASK)
    result.job = job
    return result


# --- dry run: what a job would do --------------------------------------------------------------


@dataclass
class Example:
    bib_id: int
    mms_id: int
    title: str = ""


@dataclass
class DryRun:
    """What a job of `kind` would do now, by the selection and decisions the job itself uses;
    nothing is written, sent or recorded. `counts` by outcome (JobRecord.Outcome), `reasons` by
    (outcome, reason), `examples` a few records for each (outcome, reason)."""

    profile: PublishingProfile
    kind: str
    bib_set: object = None
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[Example]] = field(default_factory=dict)
    # A Baseline's records the profile's ledger does not hold as published: recorded as
    # published although this profile never sent them, or last sent them as deleted (WorldCat
    # may not hold them), with a few examples.
    never_sent: int = 0
    never_sent_examples: list[Example] = field(default_factory=list)
    # With `bibs`: each bib's decision (outcome, reason); a bib the job would not even look at
    # (an Incremental's unchanged records) is absent.
    decisions: dict[int, tuple[str, str]] = field(default_factory=dict)
    # Of the records to send, those an Incremental of a profile delivering by API would set or
    # unset through the WorldCat Metadata API instead of sending in a file (api_delivery.py).
    by_api: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def records_to_send(self) -> int:
        return sum(self.counts[o] for o in ("new", "changed", "deleted")) if self.sends else 0

    @property
    def sends(self) -> bool:
        return self.kind != Kind.BASELINE


def dry_run(
    profile: PublishingProfile,
    *,
    mode: str | None = None,
    bib_set=None,
    examples: int = 3,
    bibs: list[int] | None = None,
) -> DryRun:
    """Count what a job would do: the profile's mode (or `mode`), or a Republish set of
    `bib_set`. Reads no MARC; memory stays flat, however big the catalogue. With `bibs` (bib
    ids), only those records are looked at, each decision kept in `decisions` (the record
    page's "what the next job will do")."""
    kind = Kind.REPUBLISH_SET if bib_set is not None else Kind(mode or profile.publishing_mode)
    profile.refresh_from_db(fields=["watermark", "publishing_mode"])
    probe = PublishingJob(profile=profile, kind=kind, bib_set=bib_set)
    result = DryRun(profile=profile, kind=kind, bib_set=bib_set)
    picked: dict[tuple[str, str], list[Example]] = defaultdict(list)
    never_sent = str(JobRecord.Reason.BASELINE)
    # The job's own query, on this connection, so a dry run sees what its caller sees; inside
    # a transaction Django streams it through a server-side cursor (flat memory).
    with transaction.atomic():
        record_kind = kind_of(profile)
        query = record_kind.candidates(probe, read_bytes=False)
        if bibs is not None:
            query = query.filter(pk__in=bibs)
        by_api = api_delivery.goes_by_api if api_delivery.uses_api(probe) else None
        for row in record_kind.rows(query.iterator(chunk_size=CHUNK), profile):
            decision = record_kind.decide(kind, row)
            if by_api and by_api(decision.status, row.oclc_numbers, row.ledger_oclc):
                result.by_api += 1
            key = (str(decision.outcome), str(decision.reason))
            result.counts[key[0]] += 1
            result.reasons[key] += 1
            if bibs is not None:
                result.decisions[row.bib_id] = key
            if len(picked[key]) < examples:
                picked[key].append(Example(row.bib_id, row.mms_id))
            if key[1] == never_sent and not row.published:
                result.never_sent += 1
                if len(result.never_sent_examples) < examples:
                    result.never_sent_examples.append(Example(row.bib_id, row.mms_id))
    from records.models import Bib

    found_examples = [e for found in picked.values() for e in found]
    found_examples += result.never_sent_examples
    titles = dict(
        Bib.objects.filter(pk__in={e.bib_id for e in found_examples}).values_list("pk", "title")
    )
    for example in found_examples:
        example.title = titles.get(example.bib_id, "")
    result.examples = dict(picked)
    return result
