"""Reconciliation runs: asked for on the page, run by a django-q2 worker through the API client.

A run streams the ledger through `profiles.reconcile.reconcile`, storing its differences in
batches and its progress on the row, so the page shows a progress bar and the worker's memory
stays bounded. One run at a time per profile (the database refuses a second queued/running row).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.log import record as audit
from jobs import liveness

from ..reconcile import Difference, reconcile
from .client import WorldCatApiError, WorldCatClient
from .export import ExportUnreadable, read_export
from .models import ReconciliationDifference, ReconciliationRun

logger = logging.getLogger(__name__)
STORE_EVERY = 500
# A queued run that no worker has taken for this long has no worker cluster to go to.
STALE_AFTER = timedelta(minutes=30)


class ReconciliationRefused(Exception):
    """Nothing was started; the message says why."""


def give_up_abandoned(profile, *, now=None) -> int:
    """Mark failed the profile's active runs that nobody works on any more; returns how many.

    A running run whose worker died is found at once (jobs.liveness: its lock is free; "worker
    stopped"). A queued run that no worker took for STALE_AFTER is given up: no worker cluster
    is running (a cluster that dies gives its queued tasks back, jobs/broker.py)."""
    found = len(liveness.fail_orphans(ReconciliationRun.objects.filter(profile=profile)))
    now = now or timezone.now()
    abandoned = ReconciliationRun.objects.filter(
        profile=profile,
        status=ReconciliationRun.Status.QUEUED,
        created_at__lt=now - STALE_AFTER,
    )
    return found + abandoned.update(
        status=ReconciliationRun.Status.FAILED,
        failure_category="internal",
        message="No worker took this run for 30 minutes (no worker running): it was given up. "
        "Run the reconciliation again.",
        finished_at=now,
    )


def request_reconciliation(profile, *, actor=None, export=None, enqueue: bool = True):
    """A queued run (with the uploaded holdings export, if any), handed to a worker on commit."""
    give_up_abandoned(profile)
    api = getattr(profile, "worldcat_api", None)
    if api is None or not api.is_usable:
        raise ReconciliationRefused(
            "Reconciliation asks OCLC through the WorldCat Metadata API: fill in the profile's "
            "“WorldCat Metadata API” section first."
        )
    path, name = "", ""
    if export is not None:
        folder = Path(settings.UPLOAD_DIR) / "holdings-exports"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{uuid.uuid4().hex}.export"
        with target.open("wb") as out:
            for chunk in export.chunks():
                out.write(chunk)
        path, name = str(target), export.name[:255]
    try:
        with transaction.atomic():
            run = ReconciliationRun.objects.create(
                profile=profile,
                requested_by=actor if getattr(actor, "pk", None) else None,
                export_path=path,
                export_name=name,
            )
            audit(
                "profiles.reconcile.requested",
                actor=actor,
                target=profile,
                message=f"Reconciliation {run.pk} of {profile} requested"
                + (f" with the holdings export {name}" if name else " (no holdings export)"),
            )
            if enqueue:
                from django_q.tasks import async_task

                transaction.on_commit(
                    lambda: async_task(
                        "profiles.worldcat.tasks.run_reconciliation",
                        run.pk,
                        task_name=f"reconciliation:{run.pk}",
                    )
                )
    except IntegrityError:
        if path:
            Path(path).unlink(missing_ok=True)
        raise ReconciliationRefused(
            "A reconciliation of this profile is already queued or running."
        ) from None
    return run


def _claim(run: ReconciliationRun) -> bool:
    now = timezone.now()
    return bool(
        ReconciliationRun.objects.filter(pk=run.pk, status=ReconciliationRun.Status.QUEUED).update(
            status=ReconciliationRun.Status.RUNNING, started_at=now, heartbeat_at=now
        )
    )


def run_reconciliation(run: ReconciliationRun, **client_options) -> ReconciliationRun:
    """Reconcile the run's profile through its API client, storing what it finds. The run's
    liveness lock (jobs.liveness) is held until its end is recorded."""
    with liveness.running(run, lambda: _claim(run)) as mine:
        run.refresh_from_db()
        if mine:
            _reconcile(run, **client_options)
    return run


def _reconcile(run: ReconciliationRun, **client_options) -> None:
    pending: list[ReconciliationDifference] = []

    def store() -> None:
        ReconciliationDifference.objects.bulk_create(pending)
        pending.clear()

    def sink(d: Difference) -> None:
        pending.append(
            ReconciliationDifference(
                run=run,
                kind=d.kind,
                oclc_number=d.oclc_number,
                current_number=d.current_number,
                bib_id=d.bib_id,
                mms_id=d.mms_id,
                title=d.title[:500],
                detail=d.detail,
            )
        )
        if len(pending) >= STORE_EVERY:
            store()

    def progress(done: int, total: int) -> None:
        ReconciliationRun.objects.filter(pk=run.pk).update(
            progress_done=done, progress_total=total, heartbeat_at=timezone.now()
        )

    export = read_export(Path(run.export_path)) if run.export_path else None
    try:
        with WorldCatClient.for_profile(run.profile.worldcat_api, **client_options) as client:
            try:
                result = reconcile(
                    run.profile, client=client, export=export, progress=progress, sink=sink
                )
            finally:
                run.api_requests, run.api_waits = client.requests, client.waits
        store()
    except (WorldCatApiError, ExportUnreadable) as exc:
        category = getattr(exc, "category", "config")
        run.status = ReconciliationRun.Status.FAILED
        run.failure_category = category
        run.message = str(exc)
        run.finished_at = timezone.now()
        run.save()
        audit(
            "profiles.reconcile.failed",
            actor=run.requested_by,
            target=run.profile,
            message=f"Reconciliation {run.pk} of {run.profile} failed: {exc}",
            data={"category": category},
        )
        return
    finally:
        if run.export_path:
            Path(run.export_path).unlink(missing_ok=True)
    run.refresh_from_db(fields=["progress_done", "progress_total"])
    run.status = ReconciliationRun.Status.SUCCEEDED
    run.published, run.deleted = result.published, result.deleted
    run.without_number, run.holdings = result.without_number, result.holdings
    run.count_missing = result.counts["missing"]
    run.count_stale = result.counts["stale"]
    run.count_unknown = result.counts["unknown"]
    run.finished_at = timezone.now()
    run.message = (
        ""
        if result.unknown_available
        else "Unknown holdings were not looked for: no WorldCat holdings export was given."
    )
    run.save()
    unknown = (
        f"{result.counts['unknown']} unknown" if result.unknown_available else "unknown not checked"
    )
    audit(
        "profiles.reconcile.finished",
        actor=run.requested_by,
        target=run.profile,
        message=f"Reconciliation {run.pk} of {run.profile}: {result.counts['missing']} missing, "
        f"{result.counts['stale']} stale, {unknown}",
        data={"counts": result.counts, "requests": run.api_requests, "waits": run.api_waits},
    )
