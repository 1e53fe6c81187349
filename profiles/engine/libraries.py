"""Bib publishing for an institution with several libraries (Institution OCLC Symbol filled in).

OCLC reads the holding library's symbol in 852 $a of a bib. With the mapping table filled in,
each bib is sent with one 852 $a per symbol of the libraries holding it (a library not listed has
the profile's symbol); the ledger keeps the symbols sent (holdings_sent). When a library loses
its last holdings of a bib while others keep theirs, the bib goes as changed (c) with the symbols
left, followed by the same bib as deleted (d) carrying only the lost symbols: OCLC deletes that
library's holding and no other.

A separate record kind (kinds.BIB_LIBRARIES), chosen only while the table has rows, so the
single-library path keeps its selection and bytes exactly. The content hash a row is compared by
covers the symbols too: the first job after the table is filled sends every bib again, with its
symbols, which is what OCLC needs to learn them.
"""

from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

import pymarc
from django.db import connection
from django.db.models import F, TextField
from django.db.models.expressions import RawSQL

from records.marc import MarcStructureError, parse
from records.models import Bib, Holding

from ..models import InstitutionOclcSymbol, PublishedRecord
from .marcout import MAX_RECORD_LENGTH, OutputError, publish_bytes
from .selection import COPY_TYPES, candidates

PUBLISHED = PublishedRecord.Status.PUBLISHED


class LibrariesRow(NamedTuple):
    """selection.Row with the symbols of the bib's libraries and those last sent."""

    bib_id: int
    mms_id: int
    marc: bytes | None
    content_hash: str
    oclc_numbers: str
    export_tag: str
    why_not: str
    ledger_status: str | None
    ledger_hash: str | None
    ledger_oclc: str | None
    gated: bool
    symbols: str
    ledger_symbols: str | None

    @property
    def published(self) -> bool:
        return self.ledger_status == PUBLISHED

    @property
    def sent_note(self) -> str:
        return self.symbols


def _libraries():
    """The distinct library codes of the bib's holdings, as a JSON array."""
    table = Holding._meta.db_table
    bib = f'"{Bib._meta.db_table}"."id"'
    if connection.vendor == "postgresql":
        sql = f"(SELECT json_agg(DISTINCT h.library)::text FROM {table} h WHERE h.bib_id = {bib})"  # noqa: S608
    else:
        sql = f"(SELECT json_group_array(DISTINCT h.library) FROM {table} h WHERE h.bib_id = {bib})"  # noqa: S608
    # Only names from the models, no value from outside: nothing to inject.
    return RawSQL(sql, [], output_field=TextField())  # noqa: S611


def library_candidates(job, *, read_bytes: bool = True):
    return candidates(
        job,
        read_bytes=read_bytes,
        extra={"libraries": _libraries(), "ledger_symbols": F("ledger__holdings_sent")},
    )


LIBRARY_COPY_TYPES = (*COPY_TYPES, "text", "text")


def library_rows(values, profile):
    symbols = InstitutionOclcSymbol.mapping()
    default = profile.oclc_symbol.strip()
    for *base, libraries, ledger_symbols in values:
        mine = " ".join(
            sorted({symbols.get(code) or default for code in json.loads(libraries or "[]")})
        )
        base[3] = hashlib.sha256(f"{base[3]} {mine}".encode()).hexdigest()
        yield LibrariesRow(*base, mine, ledger_symbols)


def with_symbols(data: bytes, symbols: list[str]) -> bytes:
    """The record with its 852s replaced by one 852 $a per symbol."""
    try:
        record = parse(data)
    except MarcStructureError as exc:
        raise OutputError(f"cannot read the record to add its libraries' symbols: {exc}") from exc
    record.remove_fields("852")
    for symbol in symbols:
        record.add_ordered_field(
            pymarc.Field(
                tag="852",
                indicators=pymarc.Indicators(" ", " "),
                subfields=[pymarc.Subfield("a", symbol)],
            )
        )
    record.force_utf8 = True
    out = record.as_marc()
    if len(out) > MAX_RECORD_LENGTH:
        raise OutputError(f"record is {len(out):,} bytes; ISO 2709 allows at most 99,999")
    return out


def library_output(row: LibrariesRow, status: str, oclc: str) -> tuple[bytes, int, None]:
    """The bib with its libraries' symbols; when libraries lost it, also as deleted with theirs."""
    numbers = oclc.split() if status == "d" else None
    data = publish_bytes(row.marc, status, numbers, row.gated)
    sent = (row.ledger_symbols or "").split() if row.published else []
    if status == "d":
        return with_symbols(data, sent or row.symbols.split()), 1, None
    current = row.symbols.split()
    out = with_symbols(data, current)
    lost = [s for s in sent if s not in current]
    if not lost:
        return out, 1, None
    deleted = publish_bytes(row.marc, "d", (row.ledger_oclc or row.oclc_numbers).split(), row.gated)
    return out + with_symbols(deleted, lost), 2, None
