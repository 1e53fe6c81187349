"""The publishing pipeline: one job from selection to commit."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC
from itertools import chain

from django.db import connection as db_connection
from django.utils import timezone

from jobs.liveness import HEARTBEAT_EVERY_S
from records.changes import current_horizon

from ..models import FailureCategory, JobFile, JobRecord, PublishingJob
from . import api_delivery
from .commit import CommitAhead, commit_job
from .kinds import kind_of
from .marcout import OutputError
from .selection import streamed
from .writer import NULL, STAGE_FILE, WRITE_BUFFER, FileSplitter, escape, job_directory

logger = logging.getLogger("profiles.engine")

CHUNK = 2000
Stage = PublishingJob.Stage
Outcome = JobRecord.Outcome


class PublishError(Exception):
    """A job cannot go on; `category` is one of FailureCategory."""

    def __init__(self, message: str, category: str = FailureCategory.INTERNAL):
        super().__init__(message)
        self.category = category


@dataclass
class PublishResult:
    job: PublishingJob
    counts: dict[str, int] = field(default_factory=dict)
    files: list[JobFile] = field(default_factory=list)


def publish(
    job: PublishingJob,
    *,
    clock: Callable = timezone.now,
    sleep: Callable[[float], object] = time.sleep,
) -> PublishResult:
    """Run a claimed (running) job to its end. Raises on failure; the caller records it.

    1. Horizon: on the first attempt, take records.changes.current_horizon() *before*
       selecting; it becomes the profile's watermark only if the job succeeds.
    2. Select and write (skipped when a previous attempt already wrote the files): stream the
       candidates with the ledger joined, decide each record, patch its bytes, append it to the
       current file (split by Max. file size and records per file), stage its outcome in
       outcomes.tsv beside the files, and beat the heartbeat every chunk.
    3. Register the files. A run with nothing to send has none: no empty file ever goes to
       OCLC, whatever the connection's Min. Number of Files says (see the README).
    4. Deliver: first the changes staged for the WorldCat Metadata API (a profile delivering
       its Incremental changes by API, see api_delivery.py), then the files through
       ftp.transfer (not for a dry run or a Baseline, which send nothing). A retry of the same
       job resends exactly these bytes under these names.
    5. Commit in one transaction: per-record outcomes, ledger, watermark, job status, and the
       switch of a Baseline/Full profile to Incremental (see commit.py). On PostgreSQL the
       transaction is opened and loaded while step 4 uploads, and committed only once every
       file is verified (commit.CommitAhead).
    """
    job.refresh_from_db()
    if job.horizon is None:
        job.horizon = current_horizon()
        job.save(update_fields=["horizon"])
    with closing(_SessionAhead(job)) as ahead:
        if job.written_at is None:
            _write(job, clock=clock, ahead=ahead)
            files = list(job.files.order_by("sequence"))
        else:
            files = _verified_files(job)
        if api_delivery.staged(job):
            ahead.close()  # a session opened while writing would idle through the calls
            api_delivery.deliver(job, clock=clock, sleep=sleep)
        if files and not job.dry_run:
            with closing(_commit_ahead(job, clock)) as committing:
                _deliver(job, files, clock=clock, sleep=sleep, ahead=ahead.take())
                _commit(job, clock=clock, committing=committing)
        else:
            _commit(job, clock=clock)
    job.refresh_from_db()
    return PublishResult(job=job, counts=job.counts(), files=list(job.files.all()))


class _NoCommitAhead:
    def close(self) -> None:
        pass


def _commit_ahead(job: PublishingJob, clock: Callable):
    """The commit loaded while the files upload, on PostgreSQL. Not on SQLite: it has one
    writer at a time, and the job's progress is written while the commit's transaction waits."""
    if db_connection.vendor != "postgresql":
        return _NoCommitAhead()
    return CommitAhead(job, clock=clock)


def _commit(job: PublishingJob, *, clock: Callable, committing=None) -> None:
    """Step 5, or its end when the commit was loaded while uploading."""
    _set_stage(job, Stage.COMMITTING, clock)
    if isinstance(committing, CommitAhead):
        committing.commit()
    else:
        commit_job(job, clock=clock)


class _SessionAhead:
    """The S/FTP session of a small job, opened on a background thread while it writes.

    For an Incremental or a Republish set the SSH handshake and login are a visible share of
    the job's time, so the session is opened as soon as the first record to send is found
    (a job with nothing to send never connects). A Full or Baseline connects when its files
    are ready: it writes for minutes, and servers drop sessions left idle that long. A session
    nobody takes (the job failed while writing) is closed.
    """

    KINDS = (PublishingJob.Kind.INCREMENTAL, PublishingJob.Kind.REPUBLISH_SET)

    def __init__(self, job: PublishingJob):
        connection = job.profile.ftp_connection
        self._job = job if (job.kind in self.KINDS and not job.dry_run and connection) else None
        self._opening = None

    def start(self) -> None:
        if self._job is None or self._opening is not None:
            return
        from ftp.transfer import OpeningTransfer

        profile = self._job.profile
        self._opening = OpeningTransfer(profile.ftp_connection, sub_directory=profile.sub_directory)

    def take(self):
        opening, self._opening, self._job = self._opening, None, None
        return opening

    def close(self) -> None:
        opening = self.take()
        if opening is not None:
            opening.close()


def _set_stage(job: PublishingJob, stage: str, clock: Callable, **extra) -> None:
    job.stage = stage
    job.heartbeat_at = clock()
    for name, value in extra.items():
        setattr(job, name, value)
    PublishingJob.objects.filter(pk=job.pk).update(
        stage=stage, heartbeat_at=job.heartbeat_at, **extra
    )


def _write(job: PublishingJob, *, clock: Callable, ahead: _SessionAhead | None = None) -> None:
    """Steps 2-3: select, decide, write files and staged outcomes."""
    profile = job.profile
    connection = profile.ftp_connection
    directory = job_directory(job)
    # An earlier attempt that failed while writing sent nothing: start the files afresh.
    JobFile.objects.filter(job=job).delete()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    if not job.run_stamp:
        job.run_stamp = (job.started_at or clock()).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        job.save(update_fields=["run_stamp"])

    # Refuses, before anything is selected, an API the profile delivers by but may not use.
    api = api_delivery.ApiPlan(job, directory)
    _set_stage(job, Stage.SELECTING, clock, progress_total=None, progress_done=0)
    record_kind = kind_of(profile)
    queryset = record_kind.candidates(job)
    counting = _count_ahead(job, queryset)

    max_bytes = connection.max_file_size_bytes if connection is not None else None
    splitter = FileSplitter(job, directory, max_bytes, profile.records_per_file)
    counts: Counter[str] = Counter()
    done = 0
    # closing(splitter): a failure while writing (a full disk) must not leak the open file.
    with (
        open(directory / STAGE_FILE, "w", encoding="utf-8", buffering=WRITE_BUFFER) as stage,
        streamed(queryset, chunk_size=CHUNK, types=record_kind.copy_types) as values,
        closing(splitter),
        closing(api),
    ):
        rows = record_kind.rows(values, profile)
        # Selecting lasts until the database has produced the first candidate (or none).
        first = next(rows, None)
        _set_stage(job, Stage.WRITING, clock, **counting.stage_fields())
        kind, add, write_stage = job.kind, splitter.add, stage.write
        decide, output = record_kind.decide, record_kind.output
        for row in chain((first,), rows) if first is not None else ():
            outcome, reason, status, ledger = decide(kind, row)
            detail, sequence, oclc = "", NULL, row.oclc_numbers
            if status and api.takes(status, oclc, row.ledger_oclc):
                # A holding to set or unset through the API: its ledger row is written when
                # OCLC answers (api_delivery), not at commit.
                oclc = row.ledger_oclc if status == "d" else oclc
                api.add(row, status, oclc)
                ledger = "-"
            elif status:
                if ahead is not None:
                    ahead.start()
                if row.marc is None:
                    # selection.bytes_not_needed withheld the bytes of a record decide sends.
                    raise PublishError(
                        f"Internal error: the bytes of {row.mms_id} were not selected, yet it "
                        "is to be sent. Nothing was sent; report this."
                    )
                if status == "d":
                    oclc = row.ledger_oclc or ""
                try:
                    data, records, group = output(row, status, oclc)
                    if not splitter.fits_alone(len(data)):
                        raise OutputError(
                            f"record is {len(data):,} bytes, more than the connection's "
                            f"Max. file size ({max_bytes:,} bytes)"
                        )
                except OutputError as exc:
                    outcome, reason, detail, ledger, status = (
                        Outcome.FAILED.value,
                        JobRecord.Reason.INVALID.value,
                        escape(str(exc)),
                        "-",
                        "",
                    )
                else:
                    if records:
                        sequence = add(data, records, group)
            counts[outcome] += 1
            write_stage(
                f"{row.bib_id}\t{row.mms_id}\t{outcome}\t{reason}\t{detail}\t{sequence}\t"
                f"{row.content_hash}\t{oclc}\t{status}\t{ledger}\t"
                f"{row.sent_note if ledger == 'P' else ''}\n"
            )
            done += 1
            if done % CHUNK == 0:
                _beat(job, done, clock)
    counting.join()
    written = splitter.close()
    JobFile.objects.bulk_create(
        [
            JobFile(
                job=job,
                sequence=f.sequence,
                name=f.name,
                records=f.records,
                bytes=f.bytes,
                sha256=f.sha256,
                local_path=str(f.path),
            )
            for f in written
        ]
    )
    job.written_at = clock()
    fields = {
        "written_at": job.written_at,
        "progress_done": done,
        "heartbeat_at": job.written_at,
        "count_new": counts[Outcome.NEW],
        "count_changed": counts[Outcome.CHANGED],
        "count_deleted": counts[Outcome.DELETED],
        "count_unchanged": counts[Outcome.UNCHANGED],
        "count_skipped": counts[Outcome.SKIPPED],
        "count_failed": counts[Outcome.FAILED],
    }
    PublishingJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


class _Counted:
    def __init__(self, total: int) -> None:
        self.total = total

    def stage_fields(self) -> dict:
        return {"progress_total": self.total}

    def join(self) -> None:
        pass


class _CountAhead:
    """The candidates' count for the progress bar, made on a database connection of its own
    while the rows stream: the same scan and join as the selection (the whole catalogue for a
    Full), which the job does not have to wait for; the bar shows the total a moment later.
    Only progress depends on it, so a failure is logged, not raised."""

    def __init__(self, job: PublishingJob, queryset) -> None:
        self._thread = threading.Thread(
            target=self._count, args=(job.pk, queryset), name=f"count-{job.pk}", daemon=True
        )
        self._thread.start()

    def _count(self, job_id: int, queryset) -> None:
        try:
            total = queryset.count()
            PublishingJob.objects.filter(pk=job_id).update(progress_total=total)
        except Exception:
            logger.exception("Counting the candidates of job %s failed", job_id)
        finally:
            db_connection.close()

    def stage_fields(self) -> dict:
        return {}  # the thread writes the total itself, whenever it has it

    def join(self) -> None:
        self._thread.join()


def _count_ahead(job: PublishingJob, queryset):
    if db_connection.vendor == "postgresql":
        return _CountAhead(job, queryset)
    return _Counted(queryset.count())


def _beat(job: PublishingJob, done: int, clock: Callable) -> None:
    job.progress_done = done
    job.heartbeat_at = clock()
    PublishingJob.objects.filter(pk=job.pk).update(
        progress_done=done, heartbeat_at=job.heartbeat_at
    )


def _verified_files(job: PublishingJob) -> list[JobFile]:
    """The job's files, checked unchanged on disk (a retry must resend the same bytes)."""
    files = list(job.files.order_by("sequence"))
    for f in files:
        digest = hashlib.sha256()
        try:
            with open(f.local_path, "rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
        except FileNotFoundError:
            raise PublishError(
                f"File {f.name} of this job is missing from the publishing folder, so the job "
                "cannot resend what it wrote. Start a new job instead."
            ) from None
        if digest.hexdigest() != f.sha256:
            # Kept for inspection, but out of the way: with a file missing, new jobs of the
            # profile no longer wait for this one to be retried (runs.job_to_retry_first).
            aside = f"{f.local_path}.changed-on-disk"
            os.replace(f.local_path, aside)
            raise PublishError(
                f"File {f.name} changed on disk since it was written, so this job cannot "
                "resend what it wrote; this attempt sent nothing. The file was moved aside to "
                f"{aside}. Start a new job: it will send the records' current state."
            )
    return files


def _deliver(
    job: PublishingJob, files: list[JobFile], *, clock: Callable, sleep, ahead=None
) -> None:
    """Step 4: upload through ftp.transfer; record remote paths and size checks per file.
    `ahead`: the session _SessionAhead opened meanwhile, if any; closed here in every case."""
    try:
        _upload(job, files, clock=clock, sleep=sleep, ahead=ahead)
    finally:
        if ahead is not None:
            ahead.close()  # deliver closes what it took; this covers a failure before it


def _upload(job: PublishingJob, files: list[JobFile], *, clock: Callable, sleep, ahead) -> None:
    from pathlib import Path

    from ftp.transfer import TransferError, deliver

    connection = job.profile.ftp_connection
    if connection is None:
        raise PublishError(
            "The profile has no FTP configuration: choose one in Submission Format.",
            FailureCategory.CONFIG,
        )
    _set_stage(job, Stage.UPLOADING, clock)
    by_name = {f.name: f for f in files}

    def delivered(remote) -> None:
        record = by_name.get(remote.name)
        if record is None:
            return
        now = clock()
        record.delivered_at = now
        record.remote_path = remote.path
        record.remote_size = remote.size
        record.verified = remote.size == record.bytes
        record.save(update_fields=["delivered_at", "remote_path", "remote_size", "verified"])
        PublishingJob.objects.filter(pk=job.pk).update(heartbeat_at=now)
        beat["last"] = now

    beat = {"last": clock()}

    def uploading(path, sent: int, total: int) -> None:
        # A large file takes minutes: keep the heartbeat fresh (where no liveness lock can
        # tell, it is how a live worker is told from a dead one), without a query per block.
        now = clock()
        if (now - beat["last"]).total_seconds() >= HEARTBEAT_EVERY_S:
            beat["last"] = now
            PublishingJob.objects.filter(pk=job.pk).update(heartbeat_at=now)

    try:
        deliver(
            connection,
            [Path(f.local_path) for f in files],
            sub_directory=job.profile.sub_directory,
            sleep=sleep,
            on_file_delivered=delivered,
            on_progress=uploading,
            ahead=ahead,
        )
    except TransferError as exc:
        category = exc.category if exc.category in FailureCategory.values else "internal"
        raise PublishError(f"Upload failed: {exc}", category) from exc
    unverified = [f.name for f in files if not f.verified]
    if unverified:
        raise PublishError(
            "The server reports a different size for " + ", ".join(unverified),
            FailureCategory.REMOTE_REJECTED,
        )
