"""The librarian's home page (the admin index): each publishing profile at a glance (last and
next run, what the next job would send, reconciliation), the jobs that failed and will be
resent, and whether the worker cluster runs. Read-only; a few queries per profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from jobs.models import JobStatus
from records.models import Bib

from . import scheduling
from .engine import dry_run, find_orphans, job_to_retry_first
from .models import PublishingJob, PublishingProfile, ReconciliationRun

Mode = PublishingProfile.Mode
RECENT_FAILURES = timedelta(days=14)
# Whole-catalogue modes (Full, Baseline) are not counted here: their count reads every record;
# Run now's confirmation counts them. Nor is an Incremental with more changed records than this
# (a first run, a re-import): the page would read them all on every visit.
COUNTED_MODES = (Mode.INCREMENTAL,)
COUNT_AT_MOST = 20_000


@dataclass
class ProfileSummary:
    profile: PublishingProfile
    last_job: PublishingJob | None
    active_job: PublishingJob | None
    retry_first: PublishingJob | None
    next_run: object
    next_counts: dict | None
    # Why the next job is not counted here ("" when it is, or the mode needs no words).
    not_counted: str
    reconciliation: ReconciliationRun | None

    @property
    def status_word(self) -> str:
        return JobStatus(self.last_job.status).label if self.last_job else ""


@dataclass
class ClusterHealth:
    alive: bool
    clusters: list = field(default_factory=list)
    queued_tasks: int | None = None
    running_jobs: int = 0


def profile_summaries() -> list[ProfileSummary]:
    find_orphans()  # a job whose worker died shows as failed here, not as running
    out = []
    for profile in PublishingProfile.objects.select_related("ftp_connection").order_by("name"):
        jobs = PublishingJob.objects.filter(profile=profile).order_by("-created_at", "-id")
        next_counts, not_counted = None, ""
        if profile.publishing_mode in COUNTED_MODES:
            # Bounded: COUNT over at most COUNT_AT_MOST + 1 rows of the change-marker index.
            changed = Bib.objects.changed_since(profile.watermark)[: COUNT_AT_MOST + 1].count()
            if changed > COUNT_AT_MOST:
                not_counted = f"more than {COUNT_AT_MOST:,} records changed since the last job"
            else:
                counted = dry_run(profile, examples=0).counts
                next_counts = {k: counted.get(k, 0) for k in ("new", "changed", "deleted")}
        next_run = scheduling.next_run(profile)
        out.append(
            ProfileSummary(
                profile=profile,
                last_job=jobs.filter(dry_run=False).first(),
                active_job=profile.active_job(),
                retry_first=job_to_retry_first(profile),
                next_run=timezone.localtime(next_run) if next_run else None,
                next_counts=next_counts,
                not_counted=not_counted,
                reconciliation=profile.reconciliations.order_by("-created_at", "-id").first(),
            )
        )
    return out


def recent_failures(limit: int = 5) -> list[PublishingJob]:
    since = timezone.now() - RECENT_FAILURES
    return list(
        PublishingJob.objects.filter(status=JobStatus.FAILED, created_at__gte=since)
        .select_related("profile")
        .order_by("-created_at", "-id")[:limit]
    )


def cluster_health() -> ClusterHealth:
    """django-q2's own report of its clusters (what `manage.py qmonitor` shows), the tasks
    waiting in the queue, and the jobs running now."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    health = ClusterHealth(alive=scheduling.cluster_alive())
    try:
        broker = get_broker()
        health.clusters = [
            {
                "host": stat.host,
                "status": stat.status,
                "workers": len(stat.workers or ()),
                "seen": stat.timestamp,
            }
            for stat in Stat.get_all(broker=broker)
        ]
        health.queued_tasks = broker.queue_size()
    except Exception:  # noqa: BLE001 - a cache or broker that cannot answer: shown as unknown
        health.clusters, health.queued_tasks = [], None
    health.running_jobs = PublishingJob.objects.filter(status=JobStatus.RUNNING).count()
    return health
