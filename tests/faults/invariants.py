"""The invariant every fault scenario ends with: nothing lost, nothing sent twice.

`observe(...)` gathers the facts as they really are: the files as the SFTP server received them
(read back with pymarc from the server's own folder), the job and file rows, the ledger, and
which bibs are still pending for the next Incremental (change marker at or above the profile's
watermark). `expectations(...)` says, from the catalogue and the ledger *before* a job, what each
changed bib must become (sent, sent as a delete, or nothing), by a rule written here
independently of the engine. `violations(facts, expected)` is a pure function of the two, so the
checker itself can be tested by feeding it deliberately broken facts.

The rules:
1. no file name is used twice, by any two jobs or twice in one job;
2. every file on the server is a file some job wrote, and every file of a committed job that
   sends is on the server;
3. no record is in two received files of the jobs under test, nor twice in one file;
4. every change made before the jobs is in exactly one received file of those jobs, with the
   right LDR/05 (n/c to send, d to delete), or is still pending for the next job; a change that
   must send nothing is in no file; a record OCLC already has unchanged is in at most one;
5. nothing is in the ledger that was not delivered: every ledger row written by a job under
   test names a received file of that job holding the record with the matching status, and
   only committed jobs wrote ledger rows.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pymarc

from profiles.models import JobFile, PublishedRecord, PublishingJob, PublishingProfile
from records.models import Bib, ExportTag, Holding

REMOTE_DIR = "/xfer/metacoll/in/bib"
SEND, DELETE, NOTHING, KEEP = "send", "delete", "nothing", "keep"
COMMITTED = (PublishingJob.Status.SUCCEEDED, PublishingJob.Status.COMPLETED_WITH_ERRORS)


@dataclass(frozen=True)
class LedgerRow:
    status: str  # PublishedRecord.Status
    job_id: int | None
    file_name: str


@dataclass
class Facts:
    # File name -> [(MMS ID, LDR/05)] in file order, as the server received it.
    received: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Files left half-written under a temporary name (".part"): never processed by OCLC.
    partial: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # Every job's file names (all profiles), by job id.
    job_files: dict[int, list[str]] = field(default_factory=dict)
    # The jobs under test; those that committed; those whose files are meant to be sent.
    scope: set[int] = field(default_factory=set)
    committed: set[int] = field(default_factory=set)
    sending: set[int] = field(default_factory=set)
    ledger: dict[str, LedgerRow] = field(default_factory=dict)  # MMS ID -> row
    pending: set[str] = field(default_factory=set)  # MMS IDs the next Incremental will look at


def read_received(folder: Path) -> tuple[dict[str, list[tuple[str, str]]], list[str], list[str]]:
    received: dict[str, list[tuple[str, str]]] = {}
    partial, unreadable = [], []
    if not folder.is_dir():
        return received, partial, unreadable
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".part"):
            partial.append(path.name)
            continue
        records = []
        for record in pymarc.MARCReader(io.BytesIO(path.read_bytes()), to_unicode=True):
            if record is None or record["001"] is None:
                unreadable.append(path.name)
                continue
            records.append((record["001"].data, record.leader[5]))
        received[path.name] = records
    return received, partial, unreadable


def observe(
    profile: PublishingProfile,
    server_folder: Path,
    jobs: Iterable[PublishingJob | int],
) -> Facts:
    """The facts after some jobs, read from the server folder and the database."""
    profile.refresh_from_db()
    scope = {j if isinstance(j, int) else j.pk for j in jobs}
    received, partial, unreadable = read_received(server_folder)
    job_files: dict[int, list[str]] = defaultdict(list)
    for job_id, name in JobFile.objects.order_by("job", "sequence").values_list("job", "name"):
        job_files[job_id].append(name)
    rows = PublishingJob.objects.filter(pk__in=scope).values_list("pk", "status", "dry_run", "kind")
    committed = {pk for pk, status, _dry, _kind in rows if status in COMMITTED}
    sending = {pk for pk, _s, dry, kind in rows if not dry and kind != "baseline"}
    mms_of = dict(Bib.objects.values_list("pk", "mms_id"))
    ledger = {
        str(mms_of[bib_id]): LedgerRow(status, job_id, file_name)
        for bib_id, status, job_id, file_name in PublishedRecord.objects.filter(
            profile=profile
        ).values_list("bib_id", "status", "job_id", "file_name")
    }
    pending = {
        str(m)
        for m in Bib.objects.filter(change_marker__gte=profile.watermark).values_list(
            "mms_id", flat=True
        )
    }
    return Facts(
        received=received,
        partial=partial,
        unreadable=unreadable,
        job_files=dict(job_files),
        scope=scope,
        committed=committed,
        sending=sending,
        ledger=ledger,
        pending=pending,
    )


def expectations(profile: PublishingProfile, bibs: Iterable[Bib | int]) -> dict[str, str]:
    """What each bib must become at OCLC, decided from the catalogue and the ledger now.

    Eligible (records.models.PUBLISHABLE, the rule the engine selects with; its holdings count
    is checked against the holdings rows here): SEND, or KEEP when
    the ledger already holds it as published with the same content (OCLC has it; an
    Incremental need not send it again, a Full may). Not eligible and the ledger holds it as
    published by this profile: DELETE. Otherwise NOTHING (never sent as deleted when never
    published; Publish holdings only is left to holdings publishing).
    """
    ids = [b if isinstance(b, int) else b.pk for b in bibs]
    published = dict(
        PublishedRecord.objects.filter(
            profile=profile, bib_id__in=ids, status=PublishedRecord.Status.PUBLISHED
        ).values_list("bib_id", "content_hash")
    )
    held = set(Holding.objects.filter(bib_id__in=ids).values_list("bib_id", flat=True))
    eligible = set(Bib.objects.filter(pk__in=ids).publishable().values_list("pk", flat=True))
    out = {}
    for bib in Bib.objects.filter(pk__in=ids):
        # The rule reads the bib's kept holdings count: it must agree with the rows.
        assert (bib.holdings_count > 0) == (bib.pk in held), f"holdings_count of {bib.mms_id}"
        if bib.export_tag == ExportTag.HOLDINGS_ONLY:
            out[str(bib.mms_id)] = NOTHING
        elif bib.pk in eligible:
            same = published.get(bib.pk) == bib.content_hash
            out[str(bib.mms_id)] = KEEP if same else SEND
        else:
            out[str(bib.mms_id)] = DELETE if bib.pk in published else NOTHING
    return out


def violations(facts: Facts, expected: dict[str, str]) -> list[str]:
    """Every broken rule, as a sentence; an empty list when all hold."""
    problems: list[str] = []
    owners: dict[str, list[int]] = defaultdict(list)
    for job_id, names in facts.job_files.items():
        for name in names:
            owners[name].append(job_id)
    # 1. File names never repeat.
    for name, jobs in owners.items():
        if len(jobs) > 1:
            problems.append(f"file name {name} was used {len(jobs)} times (jobs {jobs})")
    # 2. Server files and job files agree.
    for name in facts.received:
        if name not in owners:
            problems.append(f"{name} is on the server but no job wrote it")
    for name in facts.unreadable:
        problems.append(f"{name} holds a record pymarc cannot read (or one without 001)")
    for job_id in sorted(facts.scope & facts.committed & facts.sending):
        for name in facts.job_files.get(job_id, []):
            if name not in facts.received:
                problems.append(f"{name} of committed job {job_id} is not on the server")
    # 3. No record twice in the files of the jobs under test.
    in_scope = {
        name: records
        for name, records in facts.received.items()
        if any(j in facts.scope for j in owners.get(name, []))
    }
    where: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, records in in_scope.items():
        for mms, status in records:
            where[mms].append((name, status))
    for mms, places in sorted(where.items()):
        if len(places) > 1:
            files = sorted(Counter(n for n, _ in places).items())
            problems.append(f"record {mms} was received {len(places)} times: {files}")
    # 4. Each change: in exactly one file with the right status, or still pending.
    for mms, want in sorted(expected.items()):
        places = where.get(mms, [])
        if want == NOTHING:
            if places:
                problems.append(f"record {mms} must not be sent but is in {places}")
            continue
        wanted = "d" if want == DELETE else "nc"
        if want == KEEP:
            places = places or [("(already at OCLC)", "c")]
        wrong = [(n, s) for n, s in places if s not in wanted]
        if wrong:
            problems.append(f"record {mms} must be sent as {want} but arrived as {wrong}")
        if not places and mms not in facts.pending:
            problems.append(f"record {mms} ({want}) was lost: in no file and not pending")
    # 5. The ledger only holds what was delivered, and only committed jobs wrote it.
    kind_of = {"published": "nc", "deleted": "d"}
    for mms, row in sorted(facts.ledger.items()):
        if row.job_id not in facts.scope or row.job_id not in facts.sending:
            continue
        if row.job_id not in facts.committed:
            problems.append(f"ledger row of {mms} was written by job {row.job_id}, not committed")
        records = facts.received.get(row.file_name)
        if records is None:
            problems.append(f"ledger says {mms} went in {row.file_name!r}: not on the server")
            continue
        if row.file_name not in facts.job_files.get(row.job_id, []):
            problems.append(f"ledger names {row.file_name} for {mms}, not a file of its job")
        statuses = [s for m, s in records if m == mms]
        if not statuses:
            problems.append(f"ledger says {mms} went in {row.file_name}, which lacks it")
        elif any(s not in kind_of[row.status] for s in statuses):
            problems.append(f"ledger says {mms} {row.status}, {row.file_name} has {statuses}")
    return problems


def assert_invariants(facts: Facts, expected: dict[str, str]) -> None:
    problems = violations(facts, expected)
    assert not problems, "invariants broken:\n  " + "\n  ".join(problems)


def check(profile, sshd, jobs, expected, remote_dir: str = REMOTE_DIR) -> Facts:
    """observe + assert in one call; returns the facts for further assertions."""
    facts = observe(profile, sshd.local_path(remote_dir), jobs)
    assert_invariants(facts, expected)
    return facts
