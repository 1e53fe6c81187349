"""Which bibs a job looks at, and what it decides for each (pure rules, no I/O beyond one query).

One streamed query per job: the candidate bibs joined to the profile's ledger row (LEFT JOIN on
(profile, bib), served by the ledger's unique index), in id order, read by COPY in PostgreSQL's
binary format. The decision for a row needs nothing else, so no per-record queries are ever made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from django.db import connection
from django.db.models import (
    BinaryField,
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Q,
    Value,
    When,
)

from records.gate import GATE_VERSION
from records.models import PUBLISHABLE, WHY_NOT_PUBLISHABLE, Bib, ExportTag

from ..models import JobRecord, PublishedRecord, PublishingJob

Kind = PublishingJob.Kind
Outcome = JobRecord.Outcome
Reason = JobRecord.Reason
PUBLISHED = PublishedRecord.Status.PUBLISHED
DELETED = PublishedRecord.Status.DELETED

COLUMNS = (
    "pk",
    "mms_id",
    "marc_to_send",
    "content_hash",
    "oclc_numbers",
    "export_tag",
    "why_not",
    "ledger__status",
    "ledger__content_hash",
    "ledger__oclc_numbers",
    "gated",
)


class Row(NamedTuple):
    """One candidate bib with the profile's ledger row. A tuple, not a dataclass: a Full makes
    a million of them, and a tuple is made several times faster."""

    bib_id: int
    mms_id: int
    # None when the row will not be sent (see bytes_not_needed): its bytes are not read.
    marc: bytes | None
    content_hash: str
    oclc_numbers: str
    export_tag: str
    # records.models.WHY_NOT_PUBLISHABLE: "" when eligible, else the reason.
    why_not: str
    ledger_status: str | None
    ledger_hash: str | None
    ledger_oclc: str | None
    # The stored bytes carry the current gate stamp (records.models.Bib.gate_version).
    gated: bool

    @property
    def published(self) -> bool:
        return self.ledger_status == PUBLISHED

    @property
    def sent_note(self) -> str:
        """What the ledger keeps of the row besides its OCLC numbers (LHR profiles only)."""
        return ""


class Decision(NamedTuple):
    outcome: str
    reason: str = ""
    # LDR/05 to send (n, c, d), or "" when nothing is sent.
    status: str = ""
    # Ledger after the job: "P" published, "D" deleted, "-" unchanged.
    ledger: str = "-"


def candidates(job: PublishingJob, *, read_bytes: bool = True, extra: dict | None = None):
    """The job's candidate bibs with the profile's ledger row, as a queryset of value tuples.
    Without `read_bytes` no row's MARC is read (a dry run's counts need none). `extra`: more
    annotations, as columns after COLUMNS (kinds.BIB_LIBRARIES)."""
    qs = Bib.objects.annotate(
        ledger=FilteredRelation("publications", condition=Q(publications__profile=job.profile_id))
    )
    if job.kind in (Kind.FULL, Kind.BASELINE):
        qs = qs.filter(PUBLISHABLE | Q(ledger__status=PUBLISHED))
    elif job.kind == Kind.INCREMENTAL:
        qs = qs.filter(change_marker__gte=job.profile.watermark)
    elif job.kind == Kind.REPUBLISH_SET:
        if job.bib_set_id is None:
            return qs.none()
        qs = qs.filter(pk__in=job.bib_set.bibs().values("pk"))
    else:  # pragma: no cover - the model's choices
        raise ValueError(f"unknown job kind {job.kind!r}")
    # Full and Baseline read in key order (a merge join with the ledger, no sort). An
    # Incremental reads in change_marker order, the order its index gives for free: sorting
    # thousands of whole records by key would spill to disk and buy nothing.
    order = "change_marker" if job.kind == Kind.INCREMENTAL else "pk"
    skip = bytes_not_needed(job.kind) if read_bytes else None
    none = Value(None, output_field=BinaryField())
    marc = none if skip is None else Case(When(skip, then=none), default=F("marc"))
    return (
        qs.annotate(
            marc_to_send=marc,
            why_not=WHY_NOT_PUBLISHABLE,
            gated=ExpressionWrapper(Q(gate_version=GATE_VERSION), output_field=BooleanField()),
            **(extra or {}),
        )
        .order_by(order)
        .values_list(*COLUMNS, *(extra or ()))
    )


def bytes_not_needed(kind: str) -> Q | None:
    """Rows whose MARC bytes a job of `kind` never sends, so the selection does not read them
    (None: no row's bytes are needed). An Incremental's candidates include records touched
    without a content change and records that stay unpublished; their bytes (often TOASTed)
    are neither read nor shipped over the wire.

    Must never cover a row `decide` sends (the pipeline refuses a sent row without bytes), so
    it is a narrower rule than decide's: a row it does not cover is simply read as before.
    """
    if kind == Kind.BASELINE:
        return None  # a Baseline records, never sends
    ineligible = ~PUBLISHABLE
    skip = Q(export_tag=ExportTag.HOLDINGS_ONLY) | (ineligible & Q(ledger__status__isnull=True))
    if kind != Kind.REPUBLISH_SET:
        # Already deleted at OCLC: only a Republish set sends that delete again.
        skip |= ineligible & Q(ledger__status=DELETED)
    if kind == Kind.INCREMENTAL:
        skip |= PUBLISHABLE & Q(ledger__status=PUBLISHED, ledger__content_hash=F("content_hash"))
    return skip


# PostgreSQL types of COLUMNS, for reading COPY's binary format.
COPY_TYPES = (
    "int8",
    "int8",
    "bytea",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "bool",
)


@contextmanager
def streamed(queryset, *, chunk_size: int = 2000, types: tuple[str, ...] = COPY_TYPES):
    """The queryset's value tuples, streamed with flat memory.

    On PostgreSQL by COPY (query) TO STDOUT in the binary format, on a connection of its own:
    one stream, no round trip per chunk, and the MARC bytes arrive as they are stored (a text
    cursor doubles them into hex and decodes them again), as do numbers and flags. libpq holds
    one COPY message (one row) at a time and the server waits while the job writes, so memory
    stays flat. Not on the main connection: the job's progress is written there meanwhile and
    must be visible to the screens at once. Elsewhere, Django's chunked iterator.
    """
    if connection.vendor != "postgresql":
        yield queryset.iterator(chunk_size=chunk_size)
        return
    sql, params = queryset.query.sql_with_params()
    raw = connection.Database.connect(**connection.get_connection_params())
    try:
        # COPY takes no bind parameters: the values are quoted by psycopg on the client.
        with raw.cursor() as cursor, raw.transaction():
            # A Full's row estimate makes PostgreSQL compile and optimise the query with JIT,
            # which costs up to seconds and buys nothing for a stream of stored bytes.
            cursor.execute("SET LOCAL jit = off")
            statement = connection.Database.ClientCursor(raw).mogrify(sql, params)
            with cursor.copy(f"COPY ({statement}) TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(types)
                yield copy.rows()
    finally:
        raw.close()


def iter_rows(values) -> Iterator[Row]:
    """Rows from value tuples in COLUMNS order."""
    return map(Row._make, values)


# Decisions carry the choices' plain string values, not the enum members: a Full formats a
# million of them into its staged outcomes, and an enum member formats through Python code.
_NEW, _CHANGED, _DELETED, _UNCHANGED, _SKIPPED = (
    Outcome.NEW.value,
    Outcome.CHANGED.value,
    Outcome.DELETED.value,
    Outcome.UNCHANGED.value,
    Outcome.SKIPPED.value,
)
_SKIP_HOLDINGS_ONLY = Decision(_SKIPPED, Reason.HOLDINGS_ONLY.value)
_SKIP_BASELINE_DELETED = Decision(_SKIPPED, Reason.BASELINE_DELETED.value, ledger="D")
_SKIP_BASELINE = Decision(_SKIPPED, Reason.BASELINE.value, ledger="P")
_UNCHANGED_DECISION = Decision(_UNCHANGED, Reason.UNCHANGED.value)
_SEND_NEW = {
    True: Decision(_NEW, Reason.REPUBLISH.value, status="n", ledger="P"),
    False: Decision(_NEW, Reason.NONE.value, status="n", ledger="P"),
}
_SEND_CHANGED = {
    True: Decision(_CHANGED, Reason.REPUBLISH.value, status="c", ledger="P"),
    False: Decision(_CHANGED, Reason.NONE.value, status="c", ledger="P"),
}
_TAGGED_HOLDINGS_ONLY = ExportTag.HOLDINGS_ONLY.value


def decide(kind: str, row: Row) -> Decision:
    """What a job of `kind` does with one bib, from the bib and the profile's ledger row.

    - A bib tagged Publish holdings only is left alone: neither sent nor deleted here.
    - An ineligible bib the ledger holds as published is sent once as deleted (d); one never
      published (or already deleted) is only reported, except that a Republish set sends the
      delete again for a member the ledger holds as deleted (a stale WorldCat holding).
    - Eligible: Baseline records it without sending; Full and Republish set send n or c;
      Incremental sends n or c unless the content hash equals what was last sent.
    """
    if row.export_tag == _TAGGED_HOLDINGS_ONLY:
        return _SKIP_HOLDINGS_ONLY
    why_not = row.why_not
    if why_not:
        if kind == Kind.REPUBLISH_SET and row.ledger_status == DELETED:
            # A stale holding (reconciliation): the delete was sent, yet WorldCat still holds
            # the record. Republishing the set sends the delete again, with the numbers last
            # sent.
            return Decision(_DELETED, why_not, status="d", ledger="D")
        if not row.published:
            return Decision(_SKIPPED, why_not)
        if kind == Kind.BASELINE:
            return _SKIP_BASELINE_DELETED
        return Decision(_DELETED, why_not, status="d", ledger="D")
    if kind == Kind.BASELINE:
        return _SKIP_BASELINE
    if not row.published:
        return _SEND_NEW[kind == Kind.REPUBLISH_SET]
    if kind == Kind.INCREMENTAL and row.ledger_hash == row.content_hash:
        return _UNCHANGED_DECISION
    return _SEND_CHANGED[kind == Kind.REPUBLISH_SET]
