"""An Incremental's changes delivered through the WorldCat Metadata API instead of a file, for a
profile whose "Delivery of Incremental changes" is the API (profiles.worldcat.models).

While the job writes (pipeline._write), a new or changed record with an OCLC number, and a
deleted record whose ledger row holds the numbers last sent, is staged here (api.tsv beside the
files) instead of going into a file; every other record still goes into a file of the same job.
Then, before the files are uploaded (pipeline.publish):

1. Each staged record is one call: set the holding on the record's first OCLC number (n, c),
   or unset it on the first number last sent (d), with cascadeDelete false: a scheduled job
   never deletes the library's local bibliographic data or local holdings records at OCLC.
   OCLC refuses to unset a holding that has them; the record is reported failed with OCLC's
   words, and "Unset holding now" (with cascadeDelete, asked of a person) does it.
2. A call OCLC answered with success, or with "already set" / "already unset" (WorldCat is as
   wanted), writes the record's ledger row at once, in a transaction of its own. Nothing is
   recorded before OCLC's answer, and a job that fails half-way (OCLC throttling beyond the
   client's back-off, an outage, a dropped network) leaves the ledger exactly as WorldCat is:
   the calls made are recorded, the others not. A retry of the job skips what its ledger rows
   show done; a new Incremental finds those records unchanged.
3. A call OCLC refuses for that record (a number it does not know, a blocked unset) is the
   record's failure (reason "Refused by the WorldCat Metadata API"); the job ends Completed
   with errors, as for an invalid record. Refusals that concern every call (authentication,
   configuration) and exhausted retries fail the job.
4. The staged outcomes (outcomes.tsv) are rewritten with each call's result and the job's
   counts recounted from them; the commit (commit.py) then records outcomes as for files. Its
   ledger column is "-" for these records: their rows were written by step 2.

A dry run stages and reports what it would call, and calls nothing.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from records.models import Bib

from ..models import FailureCategory, JobRecord, PublishedRecord, PublishingJob
from .kinds import BIB, kind_of
from .writer import NULL, STAGE_COLUMNS, STAGE_FILE, escape, job_directory, read_stage

logger = logging.getLogger("profiles.engine")

API_FILE = "api.tsv"
VIA_API = "WorldCat Metadata API"
Outcome = JobRecord.Outcome
SENT = (Outcome.NEW.value, Outcome.CHANGED.value, Outcome.DELETED.value)
ALREADY = {"set": "WorldCat Holding already set.", "unset": "WorldCat Holding already unset."}
# Failures that every other call would meet too: the job stops and fails.
JOB_CATEGORIES = {"auth", "config", "network"}


def _error(message: str, category: str):
    from .pipeline import PublishError

    return PublishError(message, category)


def _api_of(profile):
    from ..worldcat.models import WorldCatApi

    return WorldCatApi.objects.filter(profile=profile).first()


def uses_api(job: PublishingJob) -> bool:
    """Whether this job delivers (part of) its changes through the API."""
    return job.kind == PublishingJob.Kind.INCREMENTAL and incremental_by_api(job.profile)


def incremental_by_api(profile) -> bool:
    """Whether the profile's Incremental jobs deliver (part of) their changes through the API."""
    # Bibliographic records only: another record kind's changes are not one holding each.
    if kind_of(profile).code != BIB.code:
        return False
    api = _api_of(profile)
    return api is not None and api.incremental_delivery == api.Delivery.API


def check_ready(job: PublishingJob, api=None) -> None:
    """Refuse, before anything is written or called, an API the job cannot or may not use."""
    api = api or _api_of(job.profile)
    if not api.is_usable:
        raise _error(
            "The profile delivers Incremental changes through the WorldCat Metadata API, but its "
            "WorldCat Metadata API section is incomplete (base URL, token URL, WSKey, secret). "
            "Nothing was sent.",
            FailureCategory.CONFIG,
        )
    if api.needs_confirmation and not job.dry_run:
        raise _error(
            f"The profile's WorldCat Metadata API is OCLC's real one ({api.base_url}) and its use "
            "has not been confirmed: open the profile's Test WorldCat API… and confirm, then "
            "retry. Nothing was sent.",
            FailureCategory.CONFIG,
        )


def goes_by_api(status: str, oclc_numbers: str, ledger_oclc: str | None) -> bool:
    """A record sent (n, c, d) goes to the API when it has a number to call it on: its own for
    n and c, the numbers last sent for d. Otherwise it goes in a file."""
    return bool(api_number(status, oclc_numbers, ledger_oclc))


def api_number(status: str, oclc_numbers: str, ledger_oclc: str | None) -> str:
    """The OCLC number the API is called on for a record sent as `status`, or ""."""
    numbers = ((ledger_oclc or "") if status == "d" else oclc_numbers).split()
    return numbers[0] if status and numbers else ""


class ApiPlan:
    """What the writing loop asks of API delivery: does a record go to the API, and if so, stage
    it. For a job that does not use the API, `takes` is always False."""

    def __init__(self, job: PublishingJob, directory: Path):
        self.enabled = uses_api(job)
        self._path = directory / API_FILE
        self._handle = None
        if self.enabled:
            check_ready(job)

    def takes(self, status: str, oclc_numbers: str, ledger_oclc: str | None) -> bool:
        return self.enabled and goes_by_api(status, oclc_numbers, ledger_oclc)

    def add(self, row, status: str, numbers: str) -> None:
        if self._handle is None:
            self._handle = open(self._path, "w", encoding="utf-8")  # noqa: SIM115 - close()
        self._handle.write(
            f"{row.bib_id}\t{row.mms_id}\t{status}\t{api_number(status, numbers, numbers)}\t"
            f"{numbers}\t"
            f"{row.content_hash}\n"
        )

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass
class Call:
    bib_id: int
    mms_id: int
    status: str
    number: int
    numbers: str
    content_hash: str

    @property
    def verb(self) -> str:
        return "unset" if self.status == "d" else "set"


@dataclass
class Result:
    # None: what the job decided (new, changed, deleted, and why) stands.
    outcome: str | None
    reason: str | None
    detail: str


@dataclass
class ApiSummary:
    """What a job did through the API, for its page: holdings set and unset (its ledger rows,
    so exact for a job that failed half-way too), of the calls it staged."""

    staged: int
    set: int
    unset: int

    @property
    def done(self) -> int:
        return self.set + self.unset


def summary(job: PublishingJob) -> ApiSummary | None:
    """None for a job that staged nothing for the API."""
    path = job_directory(job) / API_FILE
    try:
        with open(path, encoding="utf-8") as handle:
            staged_calls = sum(1 for _ in handle)
    except FileNotFoundError:
        return None
    done = Counter(
        PublishedRecord.objects.filter(
            profile_id=job.profile_id, job_id=job.pk, file_name=VIA_API
        ).values_list("status", flat=True)
    )
    return ApiSummary(
        staged_calls, done[PublishedRecord.Status.PUBLISHED], done[PublishedRecord.Status.DELETED]
    )


def staged(job: PublishingJob) -> bool:
    return (job_directory(job) / API_FILE).exists()


def _calls(job: PublishingJob) -> list[Call]:
    calls = []
    with open(job_directory(job) / API_FILE, encoding="utf-8") as handle:
        for line in handle:
            bib_id, mms_id, status, number, numbers, content_hash = line.rstrip("\n").split("\t")
            calls.append(Call(int(bib_id), int(mms_id), status, int(number), numbers, content_hash))
    return calls


def deliver(
    job: PublishingJob,
    *,
    clock: Callable,
    sleep: Callable[[float], object],
    client_options: dict | None = None,
) -> None:
    """Steps 1-4 of the module's docstring, for every call staged by the job."""
    from ..worldcat.client import WorldCatApiError, WorldCatClient
    from .pipeline import _set_stage

    calls = _calls(job)
    results: dict[int, Result] = {}
    if job.dry_run:
        for call in calls:
            results[call.bib_id] = Result(
                None,
                None,
                f"Dry run: would {call.verb} the holding on {call.number} through the {VIA_API}",
            )
        _restage(job, results)
        return
    api = _api_of(job.profile)
    if api is None:
        raise _error(
            "The profile's WorldCat Metadata API section was removed while the job ran. "
            "Nothing more was sent.",
            FailureCategory.CONFIG,
        )
    check_ready(job, api)
    done = _done_before(job, calls)
    _set_stage(
        job, PublishingJob.Stage.API, clock, progress_total=len(calls), progress_done=len(done)
    )

    def waiting(seconds: float, attempt: int) -> None:
        # OCLC asked to wait (429) or is unavailable (503): the job is alive meanwhile.
        PublishingJob.objects.filter(pk=job.pk).update(heartbeat_at=clock())

    try:
        client = WorldCatClient.for_profile(
            api, sleep=sleep, on_wait=waiting, **(client_options or {})
        )
    except WorldCatApiError as exc:
        raise _error(str(exc), exc.category) from exc
    count = len(done)
    with client:
        for call in calls:
            if call.bib_id in done:
                results[call.bib_id] = Result(
                    None,
                    None,
                    f"Holding {call.verb} on {call.number} through the {VIA_API} by an earlier "
                    "attempt of this job",
                )
                continue
            try:
                if call.verb == "set":
                    answer = client.set_holding(call.number)
                else:
                    answer = client.unset_holding(call.number, cascade=False)
            except WorldCatApiError as exc:
                if exc.category in JOB_CATEGORIES or (exc.status or 0) >= 500:
                    raise _error(
                        f"{VIA_API}: {exc} ({count} of {len(calls)} holdings done and recorded; "
                        "a retry does the rest)",
                        exc.category if exc.category in FailureCategory.values else "network",
                    ) from exc
                results[call.bib_id] = Result(
                    Outcome.FAILED.value, JobRecord.Reason.API_REFUSED.value, str(exc)
                )
                continue
            if answer.success or answer.message == ALREADY[call.verb]:
                _record(job, call, clock())
                count += 1
                on = answer.current or call.number
                results[call.bib_id] = Result(
                    None,
                    None,
                    f"Holding {call.verb} on {on} through the {VIA_API}: {answer.message}",
                )
            else:
                results[call.bib_id] = Result(
                    Outcome.FAILED.value,
                    JobRecord.Reason.API_REFUSED.value,
                    f"{call.verb} on {call.number}: {answer.message}",
                )
            PublishingJob.objects.filter(pk=job.pk).update(
                progress_done=len(results), heartbeat_at=clock()
            )
    logger.info(
        "Job %s: %d of %d holdings changed through the WorldCat Metadata API (%d requests, "
        "%d waits)",
        job.pk,
        count,
        len(calls),
        client.requests,
        client.waits,
    )
    _restage(job, results)


def _done_before(job: PublishingJob, calls: list[Call]) -> set[int]:
    """Records an earlier attempt of this job already set or unset (their ledger rows say so)."""
    rows = PublishedRecord.objects.filter(
        profile_id=job.profile_id,
        bib_id__in=[c.bib_id for c in calls],
        job_id=job.pk,
        file_name=VIA_API,
    ).values_list("bib_id", "ldr05", "content_hash")
    wanted = {c.bib_id: (c.status, c.content_hash) for c in calls}
    return {bib for bib, ldr05, content in rows if wanted.get(bib) == (ldr05, content)}


def _record(job: PublishingJob, call: Call, now) -> None:
    """The ledger row of one call OCLC answered with success, committed at once."""
    if not Bib.objects.filter(pk=call.bib_id).exists():
        return  # hard-deleted while the job ran: no ledger row (as commit.py)
    with transaction.atomic():
        PublishedRecord.objects.update_or_create(
            profile_id=job.profile_id,
            bib_id=call.bib_id,
            defaults={
                "status": PublishedRecord.Status.DELETED
                if call.status == "d"
                else PublishedRecord.Status.PUBLISHED,
                "content_hash": call.content_hash,
                "oclc_numbers": call.numbers,
                "ldr05": call.status,
                "job_id": job.pk,
                "file_name": VIA_API,
                "sent_at": now,
            },
        )


def _restage(job: PublishingJob, results: dict[int, Result]) -> None:
    """Rewrite the staged outcomes with the calls' results; recount the job from them."""
    path = job_directory(job) / STAGE_FILE
    temporary = path.with_suffix(".tmp")
    counts: Counter[str] = Counter()
    with open(temporary, "w", encoding="utf-8") as out:
        for row in read_stage(path):
            result = results.get(int(row["bib_id"]))
            if result is not None:
                row.update(detail=result.detail, ledger="-")
                if result.outcome is not None:
                    row.update(outcome=result.outcome, reason=result.reason)
            counts[row["outcome"]] += 1
            out.write(
                "\t".join(NULL if row[c] is None else escape(row[c]) for c in STAGE_COLUMNS) + "\n"
            )
    os.replace(temporary, path)
    # The job's count fields are named after the outcomes: count_new, ..., count_failed.
    fields = {f"count_{outcome}": counts[outcome] for outcome in Outcome.values}
    PublishingJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
