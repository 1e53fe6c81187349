"""Monitor Jobs: every background job of every kind in one list, newest first, in Alma's words.

Each kind of job keeps its own table (a MARC import, a Synchronize, a publishing job, a
reconciliation). The list is one UNION ALL of the same few columns of each table, ordered and
cut to a page by the database; only the page's rows are then read in full, one query per kind.
A kind is listed for the people who may view its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import models
from django.db.models import CharField, F, Value
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobStatus
from records.models import ImportJob, SyncJob

from ..models import PublishingJob, ReconciliationRun

STATUS_WORDS = dict(JobStatus.choices)


@dataclass
class MonitorRow:
    """One job as the list shows it."""

    kind: str
    kind_label: str
    pk: int
    name: str
    detail: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    requested_by: str
    url: str
    counts: str = ""

    @property
    def status_word(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


def _user(obj) -> str:
    return obj.requested_by.get_username() if obj.requested_by_id else "System"


def _publishing(jobs) -> dict[int, dict]:
    out = {}
    for job in jobs.select_related("profile", "bib_set", "requested_by"):
        if job.kind == PublishingJob.Kind.REPUBLISH_SET:
            name = job.get_kind_display()
            detail = f"{job.profile} · set {job.bib_set or '(deleted)'}"
        else:
            name = f"Publishing: {job.profile}"
            detail = f"Mode {job.get_kind_display()} · {job.get_trigger_display()}"
        if job.dry_run:
            detail += " · dry run"
        out[job.pk] = {
            "name": name,
            "detail": detail,
            "url": reverse("profiles:job", args=[job.pk]),
            "requested_by": _user(job),
            "counts": f"{job.count_new} new, {job.count_changed} updated, "
            f"{job.count_deleted} deleted",
        }
    return out


def _imports(jobs) -> dict[int, dict]:
    return {
        job.pk: {
            "name": "Import MARC records",
            "detail": job.original_name,
            "url": job.get_absolute_url(),
            "requested_by": _user(job),
            "counts": f"{job.imported} imported, {job.updated} updated, {job.failed} failed",
        }
        for job in jobs.select_related("requested_by")
    }


def _syncs(jobs) -> dict[int, dict]:
    return {
        job.pk: {
            "name": "Synchronize Bib Records with External Catalog",
            "detail": f"Set {job.bib_set} → {job.get_value_display()}",
            "url": job.get_absolute_url(),
            "requested_by": _user(job),
            "counts": f"{job.changed} changed, {job.unchanged} unchanged",
        }
        for job in jobs.select_related("bib_set", "requested_by")
    }


def _reconciliations(runs) -> dict[int, dict]:
    return {
        run.pk: {
            "name": "Reconciliation with WorldCat",
            "detail": str(run.profile),
            "url": reverse("profiles:reconciliation", args=[run.profile_id]),
            "requested_by": _user(run),
            "counts": f"{run.count_missing} missing, {run.count_stale} stale, "
            f"{run.count_unknown} unknown",
        }
        for run in runs.select_related("profile", "requested_by")
    }


@dataclass(frozen=True)
class JobKind:
    """A kind of job the list shows: its table, who may see it, and how a page of its rows is
    described (pk -> name, detail, url, requested_by, counts)."""

    key: str
    label: str
    model: type[models.Model]
    describe: Callable[[models.QuerySet], dict[int, dict]]

    @property
    def permission(self) -> str:
        return f"{self.model._meta.app_label}.view_{self.model._meta.model_name}"


KINDS = (
    JobKind("publishing", "Publishing", PublishingJob, _publishing),
    JobKind("import", "Import", ImportJob, _imports),
    JobKind("synchronize", "Synchronize", SyncJob, _syncs),
    JobKind("reconciliation", "Reconciliation", ReconciliationRun, _reconciliations),
)


def visible_kinds(user) -> list[JobKind]:
    return [k for k in KINDS if user.has_perm(k.permission)]


def _columns(kind: JobKind, *, status: str, since: date | None, until: date | None):
    qs = kind.model.objects.all()
    if status:
        qs = qs.filter(status=status)
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    # Every column an annotation, named alike, so the parts of the union line up.
    return (
        qs.order_by()
        .annotate(
            k=Value(kind.key, output_field=CharField()),
            i=F("pk"),
            s=F("status"),
            c=F("created_at"),
            b=F("started_at"),
            e=F("finished_at"),
        )
        .values_list("k", "i", "s", "c", "b", "e")
    )


def monitor_page(
    kinds: list[JobKind],
    *,
    status: str = "",
    since: date | None = None,
    until: date | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[MonitorRow]:
    """`limit` rows from `offset` of the jobs of `kinds`, newest first (ask for one more than a
    page to learn whether another follows: nothing counts the tables)."""
    if not kinds:
        return []
    parts = [_columns(k, status=status, since=since, until=until) for k in kinds]
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    found = list(combined.order_by("-c", "-i")[offset : offset + limit])
    by_kind = {k.key: k for k in kinds}
    details: dict[str, dict[int, dict]] = {}
    for key in {row[0] for row in found}:
        kind = by_kind[key]
        ids = [row[1] for row in found if row[0] == key]
        details[key] = kind.describe(kind.model.objects.filter(pk__in=ids))
    rows = []
    for key, pk, status_, created, started, finished in found:
        described = details[key].get(pk)
        if described is None:  # deleted between the two queries
            continue
        rows.append(
            MonitorRow(
                kind=key,
                kind_label=by_kind[key].label,
                pk=pk,
                status=status_,
                created_at=created,
                started_at=started,
                finished_at=finished,
                **described,
            )
        )
    return rows
