"""Closing the loop: OCLC's cross-reference reports written back into the bibs' 035.

OCLC answers every processed file with reports in /xfer/metacoll/reports. Two matter here:

- `…xrefrpt.txt`: tab-delimited, no header, "local system number (MMS ID) <TAB> OCLC number" for
  every record whose holding was set or deleted. The number is the record's OCLC number *now*: a
  number OCLC merged arrives as the surviving one.
- `…unresxrefrpt.txt`: records OCLC could not match, with the provisional number it gave them in
  WorldCat Staging. A provisional number only fills a record that has no OCLC number at all
  (action "staged"); it never replaces a real number. Once the record is sent again with it,
  OCLC sets the holding on the Staging record, and a later merge arrives in an xrefrpt.

OCLC names each report after the collection it processed the file under and the file's own
name. A file whose collection ID OCLC did not know is processed under the institution's default
collection, and says so only there: `files_in_another_collection` reads that back from the
reports a fetch applied, so the profile and job pages can say it plainly.

`fetch_reports(profile)` lists the reports folder over the profile's S/FTP connection, downloads
every report it has not applied before (a ProcessedReport row per profile, name, size and
sha256, so an old report is never applied twice), and `apply_xref` writes each number back through
records.actions.update_marc:

- a bib without an OCLC number gets a 035 $a "(OCoLC)<number>";
- a bib that already carries the number is left alone (never a duplicate 035);
- a bib with another number (a merge) has its (OCoLC) 035 replaced; old -> new is audited;
- a bib whose OCLC numbers were changed by hand since this profile last sent it is not touched
  and is reported as skipped, as are deleted bibs and bibs this profile never sent.
"""

from __future__ import annotations

import copy
import hashlib
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pymarc
from django.db import transaction

from audit.log import record as audit
from audit.models import AuditEntry
from records import actions
from records.marc import normalize_oclc_number
from records.models import Bib, pk_from_mms_id

from .models import (
    DEFAULT_REPORTS_DIRECTORY,
    JobFile,
    ProcessedReport,
    PublishedRecord,
    PublishingProfile,
)

REPORTS_DIRECTORY = DEFAULT_REPORTS_DIRECTORY
XREF = "xrefrpt"
UNRESOLVED = "unresxrefrpt"
APPLIED_ACTION = "profiles.xref.report_applied"
WRITTEN_ACTION = "profiles.xref.number_written"
# Results kept per fetch for display and --json; the counts stay exact beyond it.
MAX_LISTED = 1000
_NUMBER = re.compile(r"^\d{1,15}$")
# OCLC's report names: <SENDER>-<SYMBOL>.<collection ID>.IN.BIB.D<date>.T<time>.<file>.<report>.txt
_REPORT_NAME = re.compile(
    r"^[^.]+\.(?P<collection>\d+)\.IN\.[A-Z]+\.D\d{8}\.T\d{9}\.(?P<file>.+)\.[A-Za-z]+\.txt$"
)


class XrefError(Exception):
    """The reports cannot be fetched (no connection, bad folder, server refused)."""


def report_kind(name: str) -> str | None:
    """XREF, UNRESOLVED or None, from OCLC's report file name."""
    if name.endswith(f".{UNRESOLVED}.txt"):
        return UNRESOLVED
    if name.endswith(f".{XREF}.txt"):
        return XREF
    return None


@dataclass
class RecordResult:
    mms_id: str
    action: str  # added, replaced, present, staged, skipped
    number: str = ""
    old: str = ""
    detail: str = ""
    report: str = ""


@dataclass
class ReportResult:
    name: str
    kind: str
    size: int
    sha256: str
    status: str  # applied, already processed
    lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class FetchSummary:
    profile: str
    directory: str
    reports: list[ReportResult] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "added": 0,
            "replaced": 0,
            "present": 0,
            "staged": 0,
            "skipped": 0,
        }
    )

    @property
    def applied_reports(self) -> list[ReportResult]:
        return [r for r in self.reports if r.status == "applied"]

    def add(self, result: RecordResult) -> None:
        self.counts[result.action] = self.counts.get(result.action, 0) + 1
        if len(self.results) < MAX_LISTED:
            self.results.append(result)

    def as_dict(self) -> dict:
        return asdict(self)


def report_subject(name: str) -> tuple[str, str] | None:
    """(collection ID OCLC processed the file under, the file's name) from a report's name."""
    match = _REPORT_NAME.match(name)
    return (match["collection"], match["file"]) if match else None


@dataclass(frozen=True)
class ReportedFile:
    """A file of a profile and the collection OCLC's reports say it was processed under."""

    name: str
    job_id: int
    sent_to: str
    processed_under: str

    @property
    def elsewhere(self) -> bool:
        """OCLC did not know the collection ID and used the institution's default collection."""
        return self.processed_under != self.sent_to


def reported_files(profile: PublishingProfile, *, job_id: int | None = None) -> list[ReportedFile]:
    """The profile's files (or one job's) that OCLC's applied reports speak of, newest job first.

    The collection a file was meant for is the first part of its own name, so a file sent before
    the profile's Collection ID was corrected is judged by what it carried, not by today's ID."""
    subjects: dict[str, str] = {}
    for name in ProcessedReport.objects.filter(profile=profile).values_list("name", flat=True):
        subject = report_subject(name)
        if subject:
            subjects.setdefault(subject[1], subject[0])
    files = JobFile.objects.filter(job__profile=profile, name__in=list(subjects))
    if job_id is not None:
        files = files.filter(job_id=job_id)
    return [
        ReportedFile(name, file_job, name.split(".", 1)[0], subjects[name])
        for name, file_job in files.order_by("-job_id", "sequence").values_list("name", "job_id")
    ]


def latest_in_another_collection(profile: PublishingProfile) -> list[ReportedFile]:
    """Files of the newest job OCLC reported on that went to another collection (else none)."""
    files = reported_files(profile)
    latest = [f for f in files if f.job_id == files[0].job_id] if files else []
    return [f for f in latest if f.elsewhere]


def processed(profile: PublishingProfile, name: str, size: int, sha256: str) -> bool:
    return ProcessedReport.objects.filter(
        profile=profile, name=name, size=size, sha256=sha256
    ).exists()


def _reports_connection(profile: PublishingProfile, directory: str):
    """The profile's connection pointed at the reports folder (an unsaved copy)."""
    from ftp.models import path_problem

    if profile.ftp_connection_id is None:
        raise XrefError(
            f"Profile “{profile}” has no FTP configuration: choose one in Submission Format."
        )
    directory = (directory or "").strip()
    problem = path_problem(directory, absolute=None)
    if problem or not directory:
        raise XrefError(
            f"Reports directory: {problem or 'enter a folder, e.g. ' + REPORTS_DIRECTORY}"
        )
    if overlap := profile.reports_folder_problem(directory):
        raise XrefError(overlap)
    connection = copy.copy(profile.ftp_connection)
    connection.sub_directory = directory
    connection.is_full_path = directory.startswith("/")
    return connection


def fetch_reports(
    profile: PublishingProfile,
    *,
    directory: str | None = None,
    actor=None,
    open_transfer: Callable | None = None,
) -> FetchSummary:
    """Download and apply every new cross-reference report of the profile's reports folder."""
    from ftp.transfer import TransferError
    from ftp.transfer import open_transfer as default_open

    directory = directory or profile.reports_directory
    connection = _reports_connection(profile, directory)
    summary = FetchSummary(profile=profile.name, directory=directory)
    opener = open_transfer or default_open
    try:
        with tempfile.TemporaryDirectory() as tmp, opener(connection) as transfer:
            names = [n for n in transfer.listdir() if report_kind(n)]
            # Cross-references before unresolved ones; within a kind, OCLC's names sort by time.
            for name in sorted(names, key=lambda n: (report_kind(n) != XREF, n)):
                local = Path(tmp) / name
                transfer.download(name, local)
                data = local.read_bytes()
                _apply_report(profile, name, data, summary, actor=actor)
    except TransferError as exc:
        raise XrefError(f"Fetching the reports failed: {exc}") from exc
    audit(
        "profiles.xref.fetched",
        actor=actor,
        target=profile,
        message=f"OCLC reports fetched for {profile} from {directory}: "
        f"{len(summary.applied_reports)} new report(s) applied, "
        + ", ".join(f"{k} {v}" for k, v in summary.counts.items()),
        data={
            "directory": directory,
            "counts": summary.counts,
            "reports": [r.name for r in summary.applied_reports],
        },
    )
    return summary


def parse_report(data: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """(MMS ID, number) pairs and the problems of lines that are not such a pair."""
    text = data.decode("utf-8", errors="replace")
    pairs, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 2 or not parts[0] or not _NUMBER.match(parts[1]) or int(parts[1]) == 0:
            problems.append(f"line {number}: not “MMS ID <tab> OCLC number”: {line[:80]!r}")
            continue
        pairs.append((parts[0], str(int(parts[1]))))
    return pairs, problems


def _apply_report(
    profile: PublishingProfile, name: str, data: bytes, summary: FetchSummary, *, actor
) -> None:
    size, sha256 = len(data), hashlib.sha256(data).hexdigest()
    kind = report_kind(name)
    pairs, problems = parse_report(data)
    with transaction.atomic():
        # The profile row lock makes two fetches of one profile apply a report once.
        PublishingProfile.objects.select_for_update().get(pk=profile.pk)
        if processed(profile, name, size, sha256):
            summary.reports.append(ReportResult(name, kind, size, sha256, "already processed"))
            return
        before = dict(summary.counts)
        for problem in problems:
            summary.add(RecordResult("", "skipped", detail=problem, report=name))
        results = apply_xref(
            profile, pairs, report=name, actor=actor, provisional=kind == UNRESOLVED
        )
        for result in results:
            summary.add(result)
        counts = {k: v - before.get(k, 0) for k, v in summary.counts.items()}
        summary.reports.append(
            ReportResult(name, kind, size, sha256, "applied", len(pairs) + len(problems), counts)
        )
        ProcessedReport.objects.create(
            profile=profile, name=name, size=size, sha256=sha256, counts=counts
        )
        audit(
            APPLIED_ACTION,
            actor=actor,
            target=profile,
            message=f"OCLC report {name} applied to {profile}: "
            + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
            data={"name": name, "size": size, "sha256": sha256, "kind": kind, "counts": counts},
        )


def _last_written(bib_ids: Iterable[int]) -> dict[int, list[str]]:
    """The numbers this module last wrote into each bib (newest entry wins)."""
    written: dict[int, list[str]] = {}
    entries = (
        AuditEntry.objects.filter(
            action=WRITTEN_ACTION,
            target_type=Bib._meta.label_lower,
            target_id__in=[str(pk) for pk in bib_ids],
        )
        .order_by("created_at", "id")
        .values_list("target_id", "data")
    )
    for target_id, data in entries:
        written[int(target_id)] = list((data or {}).get("new", []))
    return written


def apply_xref(
    profile: PublishingProfile,
    pairs: list[tuple[str, str]],
    *,
    report: str,
    actor=None,
    provisional: bool = False,
    chunk: int = 1000,
) -> list[RecordResult]:
    """Write the report's numbers into the bibs it names; one result per pair, in order.

    `provisional`: the numbers are WorldCat Staging numbers (unresxrefrpt), written only into
    bibs without any OCLC number."""
    results: list[RecordResult] = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        pks = {pk for pk in (pk_from_mms_id(mms) for mms, _ in part) if pk}
        bibs = {b.pk: b for b in Bib.objects.filter(pk__in=pks)}
        ledger = {
            row.bib_id: row
            for row in PublishedRecord.objects.filter(profile=profile, bib_id__in=pks)
        }
        written = _last_written(pks)
        for mms, number in part:
            pk = pk_from_mms_id(mms)
            bib = bibs.get(pk) if pk else None
            results.append(
                _apply_one(
                    bib,
                    mms,
                    number,
                    ledger,
                    written,
                    report=report,
                    actor=actor,
                    provisional=provisional,
                )
            )
    return results


def _apply_one(bib, mms, number, ledger, written, *, report, actor, provisional) -> RecordResult:
    def skipped(detail: str) -> RecordResult:
        return RecordResult(mms, "skipped", number, detail=detail, report=report)

    if bib is None or str(bib.mms_id) != mms:
        return skipped("No record with this MMS ID in the catalogue.")
    if bib.deleted_at is not None:
        return skipped("The record is deleted.")
    sent = ledger.get(bib.pk)
    if sent is None:
        return skipped("This profile never sent the record.")
    current = bib.oclc_number_list
    if current not in (sent.oclc_numbers.split(), written.get(bib.pk)):
        return skipped(
            "OCLC numbers changed by hand since the record was last sent "
            f"(sent: {sent.oclc_numbers or 'none'}; now: {' '.join(current) or 'none'})."
        )
    if number in current:
        return RecordResult(mms, "present", number, report=report)
    if provisional and current:
        return skipped(
            f"The record has OCLC number {' '.join(current)}: a provisional Staging number "
            "never replaces it."
        )
    record = bib.record()
    old = _replace_oclc_035(record, number)
    source = f"OCLC cross-reference report {report}"
    actions.update_marc(bib, record, actor=actor, source=source)
    action = "staged" if provisional else ("replaced" if old else "added")
    written[bib.pk] = bib.oclc_number_list
    audit(
        WRITTEN_ACTION,
        actor=actor,
        target=bib,
        message=(
            f"OCLC number of {bib.mms_id} {action}: "
            + (f"{' '.join(old)} → {number}" if old else f"(OCoLC){number}")
            + f" ({source})"
        ),
        data={
            "old": old,
            "new": bib.oclc_number_list,
            "profile": sent.profile_id,
            "report": report,
        },
    )
    return RecordResult(mms, action, number, old=" ".join(old), report=report)


def _replace_oclc_035(record: pymarc.Record, number: str) -> list[str]:
    """Put "(OCoLC)<number>" where the record's (OCoLC) 035s were; returns the old numbers."""
    old: list[str] = []
    for fld in record.get_fields("035"):
        numbers = [n for n in map(normalize_oclc_number, fld.get_subfields("a")) if n]
        if numbers:
            old.extend(n for n in numbers if n not in old)
            record.remove_field(fld)
    record.add_ordered_field(
        pymarc.Field(
            tag="035",
            indicators=pymarc.Indicators(" ", " "),
            subfields=[pymarc.Subfield("a", f"(OCoLC){number}")],
        )
    )
    return old
