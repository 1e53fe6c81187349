"""Processing one file of local holdings records (MFHD) under an LHR collection, as OCLC does.

1. Read the file record by record; each LHR needs its 001 (the library's holdings number), an
   OCLC number in 014 $a (the WorldCat record it is attached to) and a symbol in 852 $a that
   belongs to a registered institution. A record without them is an exception; the rest go on.
2. Per OCLC number, **replace all**: when the file has LHRs (not deletes) on a number, every LHR
   of the sending institution on that record that is not in the file is removed, and those of the
   file are kept (created or replaced). This is OCLC's behaviour that wipes the LHRs of another
   bib with the same number when only one bib's holdings are sent.
3. LDR/05 d removes that LHR (its symbol, its 001).
4. Holdings follow LHRs: a symbol with an LHR left on the record holds it (set); a symbol whose
   last LHR on the record went unholds it.
5. Reports, under the names OCLC's LHR collections use as far as we could tell (see README):
   LhrProcessingReport (LHR_CREATE, LHR_REPLACE, LHR_DELETE, LHR_REMOVED for one removed by
   the replace-all) and LhrExceptionReport.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .marcread import Problem, read_records
from .models import Collection, Holding, IncomingFile, Institution, LocalHoldingsRecord
from .models import WorldCatRecord as Record
from .names import InvalidOclcNumber, normalize_oclc_number


@dataclass
class LhrEntry:
    seq: int
    control_number: str
    bib_local_number: str
    ocn: int
    symbol: str
    is_delete: bool
    values: dict


def _first(record, tag: str, code: str) -> str:
    for field in record.get_fields(tag):
        for value in field.get_subfields(code):
            if value.strip():
                return value.strip()
    return ""


class LhrProcessor:
    """Applies one LHR file to the emulated WorldCat (steps 1 to 4 of the module doc)."""

    def __init__(self, incoming: IncomingFile, collection: Collection, now: datetime, base):
        self.incoming = incoming
        self.collection = collection
        self.institution = incoming.institution
        self.now = now
        # The bib processor: report keys, exception lines and the outcome are shared.
        self.base = base
        self.outcome = base.outcome

    def run(self, path: Path):
        entries: list[LhrEntry] = []
        for read in read_records(path):
            self.outcome.records += 1
            entry = self.entry(read)
            if entry is not None:
                entries.append(entry)
        self.apply(entries)
        return self.outcome

    def entry(self, read) -> LhrEntry | None:
        if read.record is None:
            self.base.add_exception(read.seq, read.problem, read.salvaged_lsn)
            return None
        record = read.record
        control = next((f.data.strip() for f in record.get_fields("001")), "")
        bib = next((f.data.strip() for f in record.get_fields("004")), "")
        raw_ocn = _first(record, "014", "a")
        symbol = _first(record, "852", "a")
        try:
            ocn = normalize_oclc_number(raw_ocn, prefixed=False) if raw_ocn else None
        except InvalidOclcNumber:
            ocn = None
        problem = None
        if not control:
            problem = "The LHR has no control number (001)."
        elif ocn is None:
            problem = f"No valid OCLC number in 014 $a ({raw_ocn!r})."
        elif not symbol:
            problem = "No holding library symbol in 852 $a."
        if problem:
            self.base.add_exception(
                read.seq, Problem("Data Error", "SEVERE", problem), control, raw_ocn
            )
            return None
        values = {
            "bib_local_number": bib[:64],
            "library": _first(record, "852", "b")[:100],
            "location": _first(record, "852", "c")[:100],
            "call_number": _first(record, "852", "h")[:200],
            "textual_holdings": _first(record, "866", "a")[:500],
            "supplements": _first(record, "867", "a")[:500],
            "indexes_statement": _first(record, "868", "a")[:500],
        }
        return LhrEntry(
            seq=read.seq,
            control_number=control[:64],
            bib_local_number=bib[:64],
            ocn=ocn,
            symbol=symbol,
            is_delete=self.collection.use_record_status and record.leader[5] == "d",
            values=values,
        )

    def apply(self, entries: list[LhrEntry]) -> None:
        holders = {
            i.symbol.upper(): i
            for i in Institution.objects.filter(symbol__in={e.symbol for e in entries})
        }
        known = {
            r.oclc_number: r.surviving()
            for r in Record.objects.filter(oclc_number__in={e.ocn for e in entries})
        }
        by_record: dict[int, tuple[Record, list[LhrEntry]]] = {}
        for entry in entries:
            if entry.symbol.upper() not in holders:
                self.exception(entry, f"Invalid symbol {entry.symbol} in 852 $a.")
            elif entry.ocn not in known:
                self.exception(entry, f"OCLC number {entry.ocn} is not in WorldCat.")
            else:
                record = known[entry.ocn]
                by_record.setdefault(record.pk, (record, []))[1].append(entry)
        for record, group in by_record.values():
            self.apply_record(record, group, holders)

    def exception(self, entry: LhrEntry, message: str) -> None:
        self.base.add_exception(
            entry.seq,
            Problem("Validation Error", "CRITICAL", message),
            entry.control_number,
            str(entry.ocn),
        )

    def apply_record(self, record: Record, group: list[LhrEntry], holders) -> None:
        mine = LocalHoldingsRecord.objects.filter(institution=self.institution, record=record)
        existing = {(h.symbol.upper(), h.control_number): h for h in mine}
        kept = {(e.symbol.upper(), e.control_number): e for e in group if not e.is_delete}
        touched = {e.symbol.upper() for e in group}
        if kept:
            removed = [h for key, h in existing.items() if key not in kept]
            for lhr in removed:
                self.result(record, lhr.control_number, lhr.symbol, "LHR_REMOVED")
                touched.add(lhr.symbol.upper())
            LocalHoldingsRecord.objects.filter(pk__in=[h.pk for h in removed]).delete()
            for key, entry in kept.items():
                lhr = existing.get(key)
                action = "LHR_REPLACE" if lhr is not None else "LHR_CREATE"
                if lhr is None:
                    lhr = LocalHoldingsRecord(
                        institution=self.institution,
                        record=record,
                        symbol=entry.symbol,
                        control_number=entry.control_number,
                    )
                for name, value in entry.values.items():
                    setattr(lhr, name, value)
                lhr.set_by_file, lhr.set_at = self.incoming, self.now
                lhr.save()
                self.result(record, entry.control_number, entry.symbol, action, entry.seq)
        for entry in group:
            if entry.is_delete and (entry.symbol.upper(), entry.control_number) not in kept:
                mine.filter(
                    symbol__iexact=entry.symbol, control_number=entry.control_number
                ).delete()
                self.result(record, entry.control_number, entry.symbol, "LHR_DELETE", entry.seq)
        for symbol in touched:
            if symbol not in holders:  # an LHR of a symbol this file does not name, removed
                holders[symbol] = (
                    Institution.objects.filter(symbol__iexact=symbol).first() or self.institution
                )
            self.follow(record, holders[symbol], symbol, group)

    def follow(self, record: Record, holder: Institution, symbol: str, group) -> None:
        """The symbol holds the record exactly when an LHR of it is left there."""
        left = LocalHoldingsRecord.objects.filter(record=record, symbol__iexact=symbol).exists()
        holding = Holding.objects.filter(institution=holder, record=record).first()
        if left and holding is None:
            local = next((e.bib_local_number for e in group if e.symbol.upper() == symbol), "")
            Holding.objects.create(
                institution=holder,
                record=record,
                local_system_number=local,
                set_by_file=self.incoming,
                set_at=self.now,
            )
            self.outcome.holdings_set += 1
        elif not left and holding is not None:
            holding.delete()
            self.outcome.holdings_deleted += 1

    def result(self, record: Record, control: str, symbol: str, action: str, seq: int = 0):
        self.outcome.processing.append(
            "|".join([self.base.key(seq), control, symbol, str(record.oclc_number), action])
        )
