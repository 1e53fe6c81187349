"""Step 5 of the pipeline: everything a successful job changes, in one transaction.

Per-record outcomes and the ledger are loaded from the staged outcomes file in bulk: on
PostgreSQL by COPY into a temporary table, then one INSERT for the outcomes and one
INSERT ... ON CONFLICT for the ledger; elsewhere by bulk_create in batches. The number of queries
does not depend on the number of records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import islice

from django.db import connection, transaction

from audit.log import record as audit
from records.models import Bib

from ..models import (
    JobAttempt,
    JobFile,
    JobRecord,
    PublishedRecord,
    PublishingJob,
    PublishingProfile,
)
from .writer import STAGE_FILE, job_directory, read_stage

BATCH = 5000
Kind = PublishingJob.Kind
# Job kinds whose selection covers every change below the horizon: only these may move the
# watermark (a Republish set looks at a few records and must not hide other changes).
ADVANCES_WATERMARK = (Kind.BASELINE, Kind.FULL, Kind.INCREMENTAL)


def commit_job(job: PublishingJob, *, clock: Callable) -> None:
    """Step 5 in one transaction: outcomes and ledger loaded, then the job finished."""
    now = clock()
    with transaction.atomic():
        file_names = load_outcomes(job, now)
        finish_job(job, file_names, now)


def _lock_running(job: PublishingJob) -> None:
    """The row lock makes commit and jobs.liveness.fail_orphans exclusive: a job marked failed as
    orphaned can no longer commit, and one committing is not marked orphaned. An attempt that
    was taken for dead while a later attempt runs does not commit either."""
    locked = PublishingJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != PublishingJob.Status.RUNNING or locked.attempts != job.attempts:
        from .pipeline import PublishError

        raise PublishError(
            f"Attempt {job.attempts} of the job is no longer the running one (the job is "
            f"{locked.get_status_display().lower()}, attempt {locked.attempts}): not committed."
        )


def load_outcomes(job: PublishingJob, now) -> dict[int, str]:
    """Per-record outcomes and (unless a dry run) the ledger, from the staged outcomes file,
    in the caller's transaction. Returns the job's file names by sequence."""
    stage_path = job_directory(job) / STAGE_FILE
    file_names = dict(JobFile.objects.filter(job=job).values_list("sequence", "name"))
    write_ledger = not job.dry_run
    if connection.vendor == "postgresql":
        _load_postgresql(job, stage_path, write_ledger, now)
    else:
        _load_batches(job, stage_path, file_names, write_ledger, now)
    return file_names


def finish_job(job: PublishingJob, file_names: dict[int, str], now) -> None:
    """The job's status, the profile's watermark and mode, the audit row: the end of step 5,
    in the caller's transaction, the job row locked."""
    _lock_running(job)
    status = (
        PublishingJob.Status.COMPLETED_WITH_ERRORS
        if job.count_failed
        else PublishingJob.Status.SUCCEEDED
    )
    PublishingJob.objects.filter(pk=job.pk).update(
        status=status,
        stage=PublishingJob.Stage.DONE,
        finished_at=now,
        heartbeat_at=now,
        failure_category="",
        failure_message="",
    )
    job.status, job.stage, job.finished_at = status, PublishingJob.Stage.DONE, now
    JobAttempt.objects.filter(job=job, number=job.attempts).update(
        status=status, stage=job.stage, finished_at=now
    )
    profile = PublishingProfile.objects.select_for_update().get(pk=job.profile_id)
    if not job.dry_run:
        _advance_profile(profile, job)
    audit(
        "profiles.job.succeeded",
        actor=job.requested_by,
        target=job,
        message=f"{job} {job.get_status_display().lower()}: "
        + ", ".join(f"{k} {v}" for k, v in job.counts().items() if v)
        + (" (dry run, nothing uploaded)" if job.dry_run else ""),
        data={"counts": job.counts(), "files": sorted(file_names.values())},
    )


class CommitAhead:
    """Step 5 begun while step 4 uploads (PostgreSQL only).

    A thread with a database connection of its own opens the commit's transaction and loads
    the outcomes and the ledger: the database server does that work in its own process, on
    another CPU, while this process encrypts and sends the files. Then it waits. Only when every
    file is verified on the server does `commit()` let it lock the job, finish it and commit;
    when the upload fails, `close()` rolls everything back. So nothing is recorded as published
    before its file is verified, exactly as when the steps run one after the other: the rows
    loaded early are invisible to everyone until that commit.

    Locks while it waits: the new outcome rows hold a key-share lock on the job row (their
    foreign key), which lets the job's heartbeat and stage updates through; the job row itself
    is locked only in `commit()`, after the upload. The job's `counts` must be final (they are
    once the files are written).
    """

    def __init__(self, job: PublishingJob, *, clock: Callable) -> None:
        self._job = job
        self._clock = clock
        self._go = threading.Event()
        self._commit = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"commit-{job.pk}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                file_names = load_outcomes(self._job, self._clock())
                self._go.wait()
                if not self._commit:
                    raise _NotDelivered
                finish_job(self._job, file_names, self._clock())
        except _NotDelivered:
            pass
        except BaseException as exc:  # handed to commit(), in the job's thread
            self._error = exc
        finally:
            thread_connection.close()

    def commit(self) -> None:
        """Every file is verified: finish the job and commit; raises what the thread raised."""
        self._commit = True
        self._go.set()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Roll back unless committed (the upload failed, or commit() was never reached)."""
        self._go.set()
        self._thread.join()


class _NotDelivered(Exception):
    """The upload did not complete: the loaded rows are rolled back."""


def _advance_profile(profile: PublishingProfile, job: PublishingJob) -> None:
    update = ["last_successful_job", "updated_at"]
    profile.last_successful_job = job
    if job.kind in ADVANCES_WATERMARK and job.horizon is not None:
        profile.watermark = job.horizon
        update.append("watermark")
    switch = job.kind in (Kind.BASELINE, Kind.FULL) and profile.publishing_mode == job.kind
    if switch:
        old = profile.get_publishing_mode_display()
        profile.publishing_mode = PublishingProfile.Mode.INCREMENTAL
        update.append("publishing_mode")
    profile.save(update_fields=update)
    if switch:
        audit(
            "profiles.profile.mode_switched",
            actor=None,
            target=profile,
            message=f"Publishing mode of {profile} switched from {old} to Incremental after "
            f"job {job.pk} completed",
            data={"old": job.kind, "new": PublishingProfile.Mode.INCREMENTAL, "job": job.pk},
        )


_TEMP_TABLE = """
CREATE TEMP TABLE publish_stage (
    bib_id bigint, mms_id bigint, outcome text, reason text, detail text, file_seq integer,
    content_hash text, oclc_numbers text, ldr05 text, ledger text, holdings_sent text
) ON COMMIT DROP
"""

_INSERT_OUTCOMES = f"""
INSERT INTO {JobRecord._meta.db_table}
    (job_id, bib_id, mms_id, outcome, reason, detail, file_sequence)
SELECT %s, bib_id, mms_id, outcome, reason, detail, file_seq FROM publish_stage
"""  # noqa: S608

_UPSERT_LEDGER = f"""
INSERT INTO {PublishedRecord._meta.db_table}
    (profile_id, bib_id, status, content_hash, oclc_numbers, ldr05, job_id, file_name, sent_at,
     holdings_sent)
SELECT %(profile)s, s.bib_id,
       CASE s.ledger WHEN 'P' THEN 'published' ELSE 'deleted' END,
       s.content_hash, s.oclc_numbers, s.ldr05, %(job)s, COALESCE(f.name, ''), %(now)s,
       s.holdings_sent
FROM publish_stage s
LEFT JOIN {JobFile._meta.db_table} f ON f.job_id = %(job)s AND f.sequence = s.file_seq
WHERE s.ledger <> '-'
  -- A bib hard-deleted while the job ran gets no ledger row (there is no FK to refuse it).
  -- EXISTS on the key lets the planner read the primary-key index, never the wide bib rows.
  AND EXISTS (SELECT 1 FROM {Bib._meta.db_table} b WHERE b.id = s.bib_id)
ON CONFLICT (profile_id, bib_id) DO UPDATE SET
    status = EXCLUDED.status, content_hash = EXCLUDED.content_hash,
    oclc_numbers = EXCLUDED.oclc_numbers, ldr05 = EXCLUDED.ldr05, job_id = EXCLUDED.job_id,
    file_name = EXCLUDED.file_name, sent_at = EXCLUDED.sent_at,
    holdings_sent = EXCLUDED.holdings_sent
"""  # noqa: S608


def _load_postgresql(job: PublishingJob, stage_path, write_ledger: bool, now) -> None:
    with connection.cursor() as cursor:
        # For this transaction only: JIT compiling these plain bulk statements costs more than
        # it saves (PostgreSQL would do it for a Full's row counts), and a Full's hash of bib
        # ids for the ledger's key check fits in memory instead of spilling to disk in batches.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_TEMP_TABLE)
        with open(stage_path, "rb") as handle:
            with cursor.cursor.copy("COPY publish_stage FROM STDIN") as copy:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    copy.write(block)
        # Row counts for the planner: a nested loop for a few changes, a merge for a Full.
        cursor.execute("ANALYZE publish_stage")
        cursor.execute(_INSERT_OUTCOMES, [job.pk])
        if write_ledger:
            cursor.execute(_UPSERT_LEDGER, {"profile": job.profile_id, "job": job.pk, "now": now})


def _load_batches(job, stage_path, file_names, write_ledger: bool, now) -> None:
    rows = read_stage(stage_path)
    while batch := list(islice(rows, BATCH)):
        JobRecord.objects.bulk_create(
            [
                JobRecord(
                    job_id=job.pk,
                    bib_id=int(r["bib_id"]),
                    mms_id=int(r["mms_id"]),
                    outcome=r["outcome"],
                    reason=r["reason"] or "",
                    detail=r["detail"] or "",
                    file_sequence=int(r["file_seq"]) if r["file_seq"] else None,
                )
                for r in batch
            ]
        )
        if not write_ledger:
            continue
        ledger = [
            PublishedRecord(
                profile_id=job.profile_id,
                bib_id=int(r["bib_id"]),
                status=(
                    PublishedRecord.Status.PUBLISHED
                    if r["ledger"] == "P"
                    else PublishedRecord.Status.DELETED
                ),
                content_hash=r["content_hash"] or "",
                oclc_numbers=r["oclc_numbers"] or "",
                ldr05=r["ldr05"] or "",
                job_id=job.pk,
                file_name=file_names.get(int(r["file_seq"])) if r["file_seq"] else "",
                sent_at=now,
                holdings_sent=r["holdings_sent"] or "",
            )
            for r in batch
            if r["ledger"] != "-"
        ]
        if ledger:
            PublishedRecord.objects.bulk_create(
                ledger,
                update_conflicts=True,
                unique_fields=["profile", "bib"],
                update_fields=[
                    "status",
                    "content_hash",
                    "oclc_numbers",
                    "ldr05",
                    "job",
                    "file_name",
                    "sent_at",
                    "holdings_sent",
                ],
            )
