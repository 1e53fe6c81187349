"""What a profile publishes, as a parameter of the engine: the record kind.

The pipeline, the commit, the ledger, the job pages and the dry run are the same for every kind;
a kind supplies only what differs: which rows a job looks at (the selection, read as one stream),
what it decides for each, the MARC it sends for a row, the record type named in files, and the
default folder on OCLC's server. The ledger is kept per (profile, bib) for every kind: a bib's
holdings are published together (OCLC replaces an institution's holdings per OCLC number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import holdings, libraries
from .marcout import publish_bytes
from .selection import COPY_TYPES, candidates, decide, iter_rows


@dataclass(frozen=True)
class RecordKind:
    code: str
    label: str
    # The job's candidate rows as a queryset of value tuples: candidates(job, read_bytes=...).
    candidates: Callable[..., Any]
    # PostgreSQL types of the candidate columns, for reading COPY's binary format.
    copy_types: tuple[str, ...]
    # Rows from value tuples: rows(values, profile) -> iterator of rows.
    rows: Callable[[Any, Any], Iterator[Any]]
    # decide(job kind, row) -> selection.Decision.
    decide: Callable[[str, Any], Any]
    # output(row, status, oclc numbers) -> (MARC bytes, records in them, group): OutputError
    # when the row cannot be sent; a file is never split inside a group (None: no group).
    output: Callable[[Any, str, str], tuple[bytes, int, Any]]
    # Default sub-directory on OCLC's server (/xfer/metacoll/in/<folder>).
    folder: str


def _bib_output(row, status: str, oclc: str) -> tuple[bytes, int, None]:
    numbers = oclc.split() if status == "d" else None
    return publish_bytes(row.marc, status, numbers, row.gated), 1, None


def _bib_rows(values, profile):
    return iter_rows(values)


BIB = RecordKind(
    code="bib",
    label="bibliographic records",
    candidates=candidates,
    copy_types=COPY_TYPES,
    rows=_bib_rows,
    decide=decide,
    output=_bib_output,
    folder="bib",
)

HOLDINGS = RecordKind(
    code="holdings",
    label="local holdings records",
    candidates=holdings.candidates,
    copy_types=holdings.COPY_TYPES,
    rows=holdings.rows,
    decide=holdings.decide,
    output=holdings.output,
    folder="lhr",
)

# Bibs of an institution with several libraries (Institution OCLC Symbol has rows): the same
# records, ledger and decisions, sent with each holding library's symbol (engine/libraries.py).
BIB_LIBRARIES = RecordKind(
    code="bib",
    label="bibliographic records",
    candidates=libraries.library_candidates,
    copy_types=libraries.LIBRARY_COPY_TYPES,
    rows=libraries.library_rows,
    decide=decide,
    output=libraries.library_output,
    folder="bib",
)

KINDS = {BIB.code: BIB, HOLDINGS.code: HOLDINGS}


def kind_of(profile) -> RecordKind:
    """The record kind a profile publishes (bibs with their libraries' symbols when the
    Institution OCLC Symbol table has rows)."""
    kind = KINDS[getattr(profile, "record_kind", BIB.code)]
    if kind is BIB:
        from ..models import InstitutionOclcSymbol

        if InstitutionOclcSymbol.objects.exists():
            return BIB_LIBRARIES
    return kind
