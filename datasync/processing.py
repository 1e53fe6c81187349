"""Processing one incoming file under its Data Sync collection, by OCLC's rules.

1. Read the file record by record (`marcread`); an unreadable record becomes an exception and the
   rest go on.
2. For each record take the local system number (001) and the OCLC number (035 $a "(OCoLC)").
3. LDR/05 = d with "use record status" on cancels the institution's holding; anything else sets
   it, on the surviving record when the number was merged.
4. No usable OCLC number (an original record): with "limit added records to WorldCat staging"
   on, it is "unresolved" and added to Staging with a provisional number (unresolved
   cross-reference). With it off, an original that meets the standard (it has a 245) is added
   to WorldCat under a new OCLC number ("create"), the holding is set and the cross-reference
   gives the new number; one that does not (a sparse record) is unresolved and goes to Staging
   all the same. A delete without a number is unresolved and changes nothing.
5. Write OCLC's four reports, store them, and count what happened.

Everything for one file happens in one transaction, under a row lock on the institution, so two
files of one institution are never processed at once and a failure changes no holding.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pymarc
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.log import record as audit

from .marcread import Problem, ReadRecord, read_records
from .models import Collection, Holding, IncomingFile, Institution, Report, WorldCatRecord
from .names import InvalidOclcNumber, normalize_oclc_number, record_key, report_file_name

# Provisional (Staging) numbers are drawn above every real OCLC number.
PROVISIONAL_BASE = 8_000_000_000
CHUNK_SIZE = 500
PENDING = (IncomingFile.Status.RECEIVED, IncomingFile.Status.HELD)
# Control characters and the column separator would break a report line; PostgreSQL refuses NUL.
_NOT_IN_REPORTS = re.compile(r"[\x00-\x1f\x7f|]")


def _report_value(value: str) -> str:
    return _NOT_IN_REPORTS.sub("?", value)


class ProcessingError(Exception):
    """The file as a whole could not be processed (the reason is stored on the file)."""


@dataclass
class Entry:
    """One readable record, reduced to what matching needs."""

    seq: int
    lsn: str
    ocn: int | None
    incoming_ocn: str
    is_delete: bool
    title: str
    sparse: bool = False
    # 852 $a: the holding libraries' symbols (several libraries); empty: the sender's holding.
    symbols: tuple[str, ...] = ()


@dataclass
class Outcome:
    records: int = 0
    holdings_set: int = 0
    holdings_deleted: int = 0
    unresolved: int = 0
    staged: int = 0
    created: int = 0
    exceptions: int = 0
    processing: list[str] = field(default_factory=list)
    exception_lines: list[str] = field(default_factory=list)
    xref: list[str] = field(default_factory=list)
    unresolved_xref: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "records": self.records,
            "holdings_set": self.holdings_set,
            "holdings_deleted": self.holdings_deleted,
            "unresolved": self.unresolved,
            "staged": self.staged,
            "created": self.created,
            "exceptions": self.exceptions,
        }


def _location(spec: str) -> tuple[str, str | None]:
    """'035 $a' -> ('035', 'a'); '001' -> ('001', None)."""
    tag, _, code = spec.partition(" $")
    return tag, code or None


def _values(record: pymarc.Record, spec: str) -> list[str]:
    tag, code = _location(spec)
    values = []
    for fld in record.get_fields(tag):
        if fld.is_control_field():
            values.append(fld.data or "")
        elif code:
            values.extend(fld.get_subfields(code))
    return values


class FileProcessor:
    """Applies one file's records to the emulated WorldCat (steps 2 to 4 of the module doc)."""

    def __init__(self, incoming: IncomingFile, collection: Collection, now: datetime):
        self.incoming = incoming
        self.collection = collection
        self.institution = incoming.institution
        self.now = now
        self.outcome = Outcome()
        self._next_provisional: int | None = None
        self._next_number: int | None = None
        self._holders: dict[str, Institution] | None = None

    def key(self, seq: int) -> str:
        return record_key(
            sender_symbol=self.institution.symbol,
            collection_id=self.collection.collection_id,
            when=self.now,
            seq=seq,
        )

    def add_exception(self, seq: int, problem: Problem, lsn: str = "", ocn: str = "") -> None:
        self.outcome.exceptions += 1
        self.outcome.exception_lines.append(
            "|".join(
                [
                    self.key(seq),
                    _report_value(lsn),
                    _report_value(ocn),
                    _report_value(ocn),
                    problem.type,
                    problem.severity,
                    _NOT_IN_REPORTS.sub(" ", problem.message),
                ]
            )
        )

    def add_result(self, entry: Entry, resulting: str, action: str) -> None:
        self.outcome.processing.append(
            "|".join(
                [
                    self.key(entry.seq),
                    _report_value(entry.lsn),
                    entry.incoming_ocn,
                    resulting,
                    action,
                ]
            )
        )

    def run(self, path: Path) -> Outcome:
        chunk: list[Entry] = []
        for read in read_records(path):
            self.outcome.records += 1
            try:
                entry = self.entry(read)
            except Exception as exc:  # noqa: BLE001 - one bad record never stops the file
                self.add_exception(
                    read.seq,
                    Problem("Processing Error", "CRITICAL", f"Record not processed: {exc!r}"),
                )
                entry = None
            if entry is not None:
                chunk.append(entry)
            if len(chunk) >= CHUNK_SIZE:
                self.apply(chunk)
                chunk = []
        if chunk:
            self.apply(chunk)
        return self.outcome

    def entry(self, read: ReadRecord) -> Entry | None:
        """Validate one record; None (and an exception line) when it cannot be processed."""
        if read.record is None:
            self.add_exception(read.seq, read.problem, read.salvaged_lsn)
            return None
        record = read.record
        salvaged_lsn = next(iter(_values(record, "001")), "").strip()
        if read.problem is not None:
            self.add_exception(read.seq, read.problem, salvaged_lsn)
        lsn = next(
            (
                v.strip()
                for v in _values(record, self.collection.local_system_number_location)
                if v.strip()
            ),
            "",
        )
        ocn, incoming_ocn = None, ""
        tag, _ = _location(self.collection.oclc_number_location)
        for value in _values(record, self.collection.oclc_number_location):
            try:
                number = normalize_oclc_number(value, prefixed=tag == "035")
            except InvalidOclcNumber:
                self.add_exception(
                    read.seq,
                    Problem("Validation Error", "MINOR", f"Invalid OCLC number {value!r} ignored."),
                    lsn,
                )
                continue
            if number is not None:
                ocn, incoming_ocn = number, str(number)
                break
        if not lsn:
            self.add_exception(
                read.seq,
                Problem(
                    "Data Error",
                    "SEVERE",
                    f"Local system number ({self.collection.local_system_number_location}) "
                    "is missing.",
                ),
                "",
                incoming_ocn,
            )
            return None
        title = (record.title or "")[:500]
        if "\x00" in lsn or "\x00" in title:
            # What is kept of a record (its 001, its title) cannot hold a NUL: the record is
            # refused alone, as OCLC refuses characters outside MARC 21's repertoire.
            self.add_exception(
                read.seq,
                Problem("Data Error", "SEVERE", "invalid_characters_present"),
                lsn,
                incoming_ocn,
            )
            return None
        sparse = not record.get_fields("245")
        if sparse:
            self.add_exception(
                read.seq,
                Problem("Validation Error", "MINOR", "Record is sparse."),
                lsn,
                incoming_ocn,
            )
        status = str(record.leader)[5:6]
        symbols = tuple(
            dict.fromkeys(v.strip().upper() for v in _values(record, "852 $a") if v.strip())
        )
        return Entry(
            seq=read.seq,
            lsn=lsn,
            ocn=ocn,
            incoming_ocn=incoming_ocn,
            is_delete=self.collection.use_record_status and status == "d",
            title=title,
            sparse=sparse,
            symbols=symbols,
        )

    def apply(self, chunk: list[Entry]) -> None:
        """Apply a chunk: numbers are looked up and holdings written in bulk, in file order."""
        numbers = {e.ocn for e in chunk if e.ocn is not None}
        known = {
            r.oclc_number: r
            for r in WorldCatRecord.objects.filter(oclc_number__in=numbers).select_related(
                "merged_into"
            )
        }
        survivors = {n: r.surviving() for n, r in known.items()}
        original = {
            h.record_id: h
            for h in Holding.objects.filter(
                institution=self.institution, record__in={r.pk for r in survivors.values()}
            )
        }
        state: dict[int, Holding | None] = {}
        for entry in chunk:
            if entry.ocn is None and self.creates(entry):
                entry.ocn = self.new_oclc_number()
                survivors[entry.ocn] = WorldCatRecord.objects.create(
                    oclc_number=entry.ocn,
                    title=entry.title,
                    source=WorldCatRecord.Source.INCOMING,
                    created_by_file=self.incoming,
                )
                self.outcome.created += 1
            if entry.ocn is None:
                self.unresolved(entry)
            elif entry.is_delete:
                survivor = survivors.get(entry.ocn)
                if survivor is None:
                    self.add_result(entry, entry.incoming_ocn, "delete")
                    continue
                if entry.symbols:
                    self.apply_symbols(entry, survivor, state, original)
                    continue
                current = state.get(survivor.pk, original.get(survivor.pk))
                if current is not None:
                    self.outcome.holdings_deleted += 1
                state[survivor.pk] = None
                self.add_result(entry, str(survivor.oclc_number), "delete")
                self.outcome.xref.append(f"{_report_value(entry.lsn)}\t{survivor.oclc_number}")
            else:
                survivor = survivors.get(entry.ocn)
                if survivor is None:
                    survivor = WorldCatRecord.objects.create(
                        oclc_number=entry.ocn,
                        title=entry.title,
                        source=WorldCatRecord.Source.INCOMING,
                        created_by_file=self.incoming,
                    )
                    survivors[entry.ocn] = survivor
                if entry.symbols:
                    self.apply_symbols(entry, survivor, state, original)
                    continue
                holding = state.get(survivor.pk) or original.get(survivor.pk)
                if holding is None:
                    holding = Holding(record=survivor, institution=self.institution)
                holding.local_system_number = entry.lsn[:64]
                holding.set_by_file = self.incoming
                holding.set_at = self.now
                state[survivor.pk] = holding
                self.outcome.holdings_set += 1
                merged = survivor.oclc_number != entry.ocn
                if not entry.incoming_ocn:
                    action = "create"
                elif self.collection.replace_records and not merged:
                    action = "replace"
                else:
                    action = "match"
                self.add_result(entry, str(survivor.oclc_number), action)
                self.outcome.xref.append(f"{_report_value(entry.lsn)}\t{survivor.oclc_number}")
        self.flush(state, original)

    def apply_symbols(self, entry: Entry, survivor, state, original) -> None:
        """A record naming its holding libraries in 852 $a (a group of symbols): the holding of
        each named symbol's institution is set, or for a delete removed; no other is touched.
        The sender's own holding goes through the chunk's state like any other record's."""
        if self._holders is None:
            self._holders = {i.symbol.upper(): i for i in Institution.objects.all()}
        for symbol in entry.symbols:
            holder = self._holders.get(symbol)
            if holder is None:
                self.add_exception(
                    entry.seq,
                    Problem("Validation Error", "CRITICAL", f"Invalid symbol {symbol} in 852 $a."),
                    entry.lsn,
                    entry.incoming_ocn,
                )
                continue
            if holder.pk == self.institution.pk:
                current = state.get(survivor.pk, original.get(survivor.pk))
                if entry.is_delete:
                    if current is not None:
                        self.outcome.holdings_deleted += 1
                    state[survivor.pk] = None
                else:
                    holding = current or Holding(record=survivor, institution=self.institution)
                    holding.local_system_number = entry.lsn[:64]
                    holding.set_by_file, holding.set_at = self.incoming, self.now
                    state[survivor.pk] = holding
                    self.outcome.holdings_set += 1
            elif entry.is_delete:
                gone, _ = Holding.objects.filter(institution=holder, record=survivor).delete()
                self.outcome.holdings_deleted += gone
            else:
                Holding.objects.update_or_create(
                    institution=holder,
                    record=survivor,
                    defaults={
                        "local_system_number": entry.lsn[:64],
                        "set_by_file": self.incoming,
                        "set_at": self.now,
                    },
                )
                self.outcome.holdings_set += 1
        action = "delete" if entry.is_delete else "match"
        self.add_result(entry, str(survivor.oclc_number), action)
        self.outcome.xref.append(f"{_report_value(entry.lsn)}\t{survivor.oclc_number}")

    def flush(self, state: dict[int, Holding | None], original: dict[int, Holding]) -> None:
        gone = [original[pk].pk for pk, h in state.items() if h is None and pk in original]
        if gone:
            Holding.objects.filter(pk__in=gone).delete()
        new = [h for h in state.values() if h is not None and h.pk is None]
        Holding.objects.bulk_create(new)
        changed = [h for h in state.values() if h is not None and h.pk is not None]
        Holding.objects.bulk_update(changed, ["local_system_number", "set_by_file", "set_at"])

    def creates(self, entry: Entry) -> bool:
        """Whether an original record (no OCLC number) is added to WorldCat itself: only with
        Staging not limiting added records, and only a record that meets the standard."""
        return not (self.collection.limit_to_staging or entry.is_delete or entry.sparse)

    def unresolved(self, entry: Entry) -> None:
        self.outcome.unresolved += 1
        if entry.is_delete:
            self.add_result(entry, "", "unresolved")
            return
        staged = WorldCatRecord.objects.create(
            oclc_number=self.provisional_number(),
            title=entry.title,
            source=WorldCatRecord.Source.STAGING,
            created_by_file=self.incoming,
        )
        self.outcome.staged += 1
        self.add_result(entry, str(staged.oclc_number), "unresolved")
        self.outcome.unresolved_xref.append(f"{_report_value(entry.lsn)}\t{staged.oclc_number}")

    def new_oclc_number(self) -> int:
        """The next OCLC number WorldCat gives a record it creates: above every real number
        (provisional Staging numbers are drawn apart, from PROVISIONAL_BASE up)."""
        if self._next_number is None:
            highest = WorldCatRecord.objects.filter(oclc_number__lt=PROVISIONAL_BASE).aggregate(
                n=Max("oclc_number")
            )["n"]
            self._next_number = (highest or 0) + 1
        if self._next_number >= PROVISIONAL_BASE:
            raise ProcessingError("The emulated WorldCat has run out of OCLC numbers.")
        number = self._next_number
        self._next_number += 1
        return number

    def provisional_number(self) -> int:
        if self._next_provisional is None:
            highest = WorldCatRecord.objects.filter(oclc_number__gte=PROVISIONAL_BASE).aggregate(
                n=Max("oclc_number")
            )["n"]
            self._next_provisional = (highest or PROVISIONAL_BASE) + 1
        number = self._next_provisional
        self._next_provisional += 1
        return number


def process_file(incoming: IncomingFile, *, now: datetime | None = None) -> IncomingFile:
    """Process a received (or formerly held) file; a file already processed is left alone."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            Institution.objects.select_for_update().get(pk=incoming.institution_id)
            incoming = (
                IncomingFile.objects.select_for_update(of=("self",))
                .select_related("collection__institution", "institution")
                .get(pk=incoming.pk)
            )
            if incoming.status not in PENDING:
                return incoming
            collection = incoming.collection
            if collection is None or not collection.is_accepted:
                raise ProcessingError("The file has no accepted collection to be processed under.")
            processor = FileProcessor(incoming, collection, now)
            if incoming.used_default_collection:
                processor.add_exception(
                    0, Problem("Processing Error", "MINOR", incoming.note), "", ""
                )
            if collection.data_sync_type == Collection.DataSyncType.LHR:
                from .lhr import LhrProcessor

                outcome = LhrProcessor(incoming, collection, now, processor).run(
                    Path(incoming.stored_path)
                )
            else:
                outcome = processor.run(Path(incoming.stored_path))
            for name, value in outcome.counts().items():
                setattr(incoming, name, value)
            incoming.status = IncomingFile.Status.PROCESSED
            incoming.processed_at = now
            incoming.error = ""
            incoming.save()
            reports = store_reports(incoming, collection, outcome, now)
            audit(
                "datasync.file.processed",
                target=incoming,
                message=f"Processed {incoming.file_name} under collection "
                f"{collection.collection_id}: {outcome.holdings_set} holdings set, "
                f"{outcome.holdings_deleted} deleted, {outcome.created} created, "
                f"{outcome.unresolved} unresolved, "
                f"{outcome.exceptions} exceptions.",
                data=outcome.counts(),
            )
    except Exception as exc:
        # Whatever went wrong, the file says so and no holding was changed (the transaction rolled
        # back); the error still reaches the caller.
        mark_failed(incoming, f"{type(exc).__name__}: {exc}")
        raise
    write_report_files(incoming, reports)
    return incoming


def mark_failed(incoming: IncomingFile, message: str) -> None:
    # Whatever raised may have named the file by its place on the server: staff and reports see
    # the file's name only.
    for path, shown in (
        (incoming.stored_path, incoming.file_name),
        (incoming.reports_dir, "the reports folder"),
    ):
        if path:
            message = message.replace(path, shown)
    IncomingFile.objects.filter(pk=incoming.pk).update(
        status=IncomingFile.Status.FAILED, error=message[:2000]
    )
    audit(
        "datasync.file.failed",
        target=incoming,
        message=f"{incoming.file_name} could not be processed: {message}",
    )


def store_reports(
    incoming: IncomingFile, collection: Collection, outcome: Outcome, now: datetime
) -> list[Report]:
    lhr = collection.data_sync_type == Collection.DataSyncType.LHR
    if lhr:
        # OCLC writes cross-references only for bibliographic and delete collections.
        contents = {
            Report.Kind.LHR_PROCESSING: outcome.processing,
            Report.Kind.LHR_EXCEPTION: outcome.exception_lines,
        }
    else:
        contents = {
            Report.Kind.PROCESSING: outcome.processing,
            Report.Kind.EXCEPTION: outcome.exception_lines,
            Report.Kind.XREF: outcome.xref,
            Report.Kind.UNRESOLVED_XREF: outcome.unresolved_xref,
        }
    reports = [
        Report(
            incoming_file=incoming,
            kind=kind,
            file_name=report_file_name(
                sender_symbol=incoming.institution.symbol,
                collection_symbol=collection.institution.symbol,
                collection_id=collection.collection_id,
                original_name=incoming.file_name,
                report=kind.value,
                when=now,
                sub_directory="IN.LHR" if lhr else "IN.BIB",
            ),
            lines=len(lines),
            content="".join(f"{line}\n" for line in lines),
            created_at=now,
        )
        for kind, lines in contents.items()
    ]
    return Report.objects.bulk_create(reports)


def write_report_files(incoming: IncomingFile, reports: list[Report]) -> None:
    """Put the reports in the account's /xfer/metacoll/reports, each written whole or not at all."""
    folder = Path(incoming.reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for report in reports:
        target = folder / report.file_name
        partial = folder / f".{report.file_name}.part"
        partial.write_text(report.content, encoding="utf-8")
        os.replace(partial, target)
