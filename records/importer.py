"""Streaming MARC import, behind both `manage.py import_marc` and the admin upload page.

Records are read one at a time (records.readers), validated and converted one at a time
(records.ingest; a fast byte-level path for well-formed UTF-8), and written in chunks:

1. Every record of a chunk is validated and converted before anything is written, so a bad
   record is reported (file, position, reason) and never reaches the database.
2. Records whose 001 is an MMS ID of this catalogue update that bib (records.actions.replace_marc:
   one audit entry each); the others become new bibs.
3. New bibs get their keys from `allocate_ids`, and the chunk's bibs, OCLC numbers and holdings
   are inserted (PostgreSQL: binary COPY; else bulk_create) in one transaction stamped with one
   change marker, so a record and its holdings and OCLC numbers are written together or not at
   all. Rows are built as plain tuples, not model instances.
4. If the chunk's insert fails anyway (a database constraint), the chunk is retried record by
   record, each in its own transaction, so only the offending record is reported.

One summary audit entry is written per import. The statements per chunk are fixed, whatever
its size (tests/records/test_import_speed.py).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.log import record as audit

from . import actions
from .changes import next_marker
from .gate import GATE_VERSION
from .ingest import Prepared, RecordError, prepare
from .models import Bib, ExportTag, Holding, OclcNumber, allocate_ids, mms_id_for, pk_from_mms_id
from .readers import RawRecord, not_marc_reason, read_records

logger = logging.getLogger(__name__)
# Records per transaction: each chunk costs a fixed handful of statements and round trips
# (bench.import_marc: 4,000 imports about 10% faster than 1,000); memory stays a few MB.
CHUNK_SIZE = 4000


class ImportErrorEntry(TypedDict):
    file: str
    position: str
    message: str


class RepairEntry(TypedDict):
    file: str
    position: str
    what: str


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[ImportErrorEntry] = field(default_factory=list)
    repaired: list[RepairEntry] = field(default_factory=list)
    bytes_read: int = 0

    def as_json(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "failed": self.failed,
            "errors": list(self.errors),
            "repaired": list(self.repaired),
        }


def parse_holdings_option(value: str | None) -> tuple[str, str] | None:
    """ "LIBRARY:LOCATION" -> (library, location); ValueError with a clear message otherwise."""
    if not value:
        return None
    library, sep, location = value.partition(":")
    library, location = library.strip(), location.strip()
    if not sep or not library or not location:
        raise ValueError(f"holdings must be LIBRARY:LOCATION, e.g. MAIN:STACKS (got {value!r})")
    if len(library) > 50 or len(location) > 50:
        raise ValueError("library and location codes are at most 50 characters each")
    return library, location


def position_text(position: int, offset: int) -> str:
    return f"record {position} at byte {offset}"


@dataclass
class _Item:
    raw: RawRecord
    prepared: Prepared

    @property
    def repairs(self) -> list[str]:
        """What the reader and the gate repaired, in that order."""
        return self.raw.repairs + self.prepared.repairs


class Importer:
    """Imports files into the catalogue; `result` accumulates over every file imported."""

    def __init__(
        self,
        *,
        export_tag: str | None = None,
        default_holdings: tuple[str, str] | None = None,
        actor=None,
        chunk_size: int = CHUNK_SIZE,
        progress: Callable[[ImportResult], None] | None = None,
    ):
        self.export_tag = ExportTag(export_tag) if export_tag else None
        self.default_holdings = default_holdings
        self.actor = actor
        self.chunk_size = chunk_size
        self.progress = progress
        self.result = ImportResult()
        self._source = "import"
        self.refused_files: list[str] = []  # files refused as a whole (not MARC, containers)

    # --- entry points --------------------------------------------------------------------

    def import_paths(self, paths: Iterable[str | Path]) -> ImportResult:
        for path in paths:
            self.import_path(path)
        self.finish()
        return self.result

    def import_path(self, path: str | Path, *, name: str | None = None) -> None:
        name = name or str(path)
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below, streamed in chunks
        except OSError as exc:
            self._fail(name, "file", f"cannot read the file: {exc.strerror or exc}")
            return
        with stream:
            self.import_stream(stream, name)

    def import_stream(self, stream, name: str) -> None:
        with _old_objects_frozen():
            self._import_stream(stream, name)

    def _import_stream(self, stream, name: str) -> None:
        self._source = f"import of {name}"
        reason = _peek_not_marc(stream)
        if reason:
            self._fail(name, "whole file", reason)
            self.refused_files.append(name)
            return
        chunk: list[_Item] = []
        seen = 0
        for raw in read_records(stream):
            seen += 1
            self.result.bytes_read = raw.offset
            if raw.error:
                self._fail(name, position_text(raw.position, raw.offset), raw.error)
                continue
            try:
                prepared = prepare(raw.data, unicode=raw.unicode)
            except RecordError as exc:
                self._fail(name, position_text(raw.position, raw.offset), str(exc))
                continue
            item = _Item(raw, prepared)
            for what in item.repairs:
                self.result.repaired.append(
                    {
                        "file": name,
                        "position": position_text(raw.position, raw.offset),
                        "what": what,
                    }
                )
            chunk.append(item)
            if len(chunk) >= self.chunk_size:
                self._write(chunk, name)
                chunk = []
        if chunk:
            self._write(chunk, name)
        if not seen:
            self._fail(
                name,
                "whole file",
                "no MARC records found (empty, or XML without MARC 21 records, e.g. Dublin Core)",
            )
            self.refused_files.append(name)
        try:
            self.result.bytes_read = stream.tell()
        except OSError:
            pass
        if self.progress:
            self.progress(self.result)

    def finish(self) -> None:
        """Write the import's summary audit entry."""
        r = self.result
        audit(
            "records.import.finished",
            actor=self.actor,
            message=f"MARC import: {r.imported} imported, {r.updated} updated, {r.failed} failed",
            data={"imported": r.imported, "updated": r.updated, "failed": r.failed},
        )

    # --- writing -------------------------------------------------------------------------

    def _fail(self, name: str, position: str, message: str) -> None:
        self.result.failed += 1
        self.result.errors.append({"file": name, "position": position, "message": message})

    def _write(self, chunk: list[_Item], name: str) -> None:
        candidates = {}
        for item in chunk:
            source = item.prepared.source_id
            pk = pk_from_mms_id(source) if source.isdigit() else None
            if pk:
                candidates[item.raw.position] = pk
        existing = {}
        if candidates:
            existing = {b.pk: b for b in Bib.objects.filter(pk__in=set(candidates.values()))}
        new = [i for i in chunk if candidates.get(i.raw.position) not in existing]
        updates = [i for i in chunk if candidates.get(i.raw.position) in existing]
        if new:
            try:
                with transaction.atomic():
                    self._insert(new)
                self.result.imported += len(new)
            except (DatabaseError, RecordError):
                logger.warning("bulk insert failed; retrying %d records one by one", len(new))
                for item in new:
                    try:
                        with transaction.atomic():
                            self._insert([item])
                        self.result.imported += 1
                    except (DatabaseError, RecordError) as exc:
                        self._fail(name, self._where(item), f"could not be stored: {exc}")
        for item in updates:
            try:
                self._update(existing[candidates[item.raw.position]], item, name)
                self.result.updated += 1
            except (DatabaseError, RecordError) as exc:
                self._fail(name, self._where(item), f"could not update the record: {exc}")
        if self.progress:
            self.progress(self.result)

    @staticmethod
    def _where(item: _Item) -> str:
        return position_text(item.raw.position, item.raw.offset)

    def _holdings_for(self, prepared: Prepared) -> list[tuple[str, str, str]]:
        if prepared.holdings:
            return prepared.holdings
        if self.default_holdings:
            return [(self.default_holdings[0], self.default_holdings[1], "")]
        return []

    def _insert(self, items: list[_Item]) -> None:
        ids = allocate_ids(len(items))
        # One marker for the whole chunk: the same as one mark_changed over its bibs.
        marker = next_marker()
        tag = str(self.export_tag or Bib._meta.get_field("export_tag").get_default())
        now = timezone.now()
        numbers: list[tuple] = []
        holdings: list[tuple] = []
        repaired: list[tuple] = []

        def bib_rows():
            for item, pk in zip(items, ids, strict=True):
                mms_id = mms_id_for(pk)
                data, summary, digest = item.prepared.catalogue(mms_id)
                found = self._holdings_for(item.prepared)
                numbers.extend((pk, n) for n in summary.oclc_numbers)
                holdings.extend((pk, lib, loc, call, now) for lib, loc, call in found)
                if item.repairs:
                    repaired.append((pk, mms_id, summary.title, item.repairs))
                # The derived columns as Bib.apply_marc sets them, without a model instance,
                # and the gate's stamp, written as it is (`prepare` accepted the record): an
                # insert may vouch for its bytes, and no trigger then runs per row.
                yield (
                    pk,
                    mms_id,
                    data,
                    digest,
                    summary.title,
                    summary.author,
                    summary.oclc_column,
                    summary.cataloging_language,
                    tag,
                    False,
                    len(found),
                    marker,
                    GATE_VERSION,
                    now,
                    now,
                )

        # Bib rows are built while COPY streams them: PostgreSQL stores the first ones while
        # Python builds the next. The OCLC numbers and holdings collected meanwhile follow.
        _write_rows(Bib, BIB_COLUMNS, bib_rows())
        _write_rows(OclcNumber, ("bib_id", "number"), numbers)
        _write_rows(
            Holding, ("bib_id", "library", "location", "call_number", "created_at"), holdings
        )
        if repaired:
            actions.audit_repairs(repaired, actor=self.actor, source=self._source)

    def _update(self, bib: Bib, item: _Item, name: str) -> None:
        prepared = item.prepared
        with transaction.atomic():
            data, summary, _ = prepared.catalogue(bib.mms_id)
            actions.replace_marc(bib, data, summary, actor=self.actor, source=f"import of {name}")
            if item.repairs:
                repaired = [(bib.pk, bib.mms_id, summary.title, item.repairs)]
                actions.audit_repairs(repaired, actor=self.actor, source=f"import of {name}")
            if self.export_tag and bib.export_tag != self.export_tag:
                actions.set_export_tag([bib], self.export_tag, actor=self.actor, source="import")
            have = set(bib.holdings.values_list("library", "location", "call_number"))
            for lib, loc, call in prepared.holdings:
                if (lib, loc, call) not in have:
                    actions.add_holding(bib, lib, loc, call, actor=self.actor)


BIB_COLUMNS = (
    "id",
    "mms_id",
    "marc",
    "content_hash",
    "title",
    "author",
    "oclc_numbers",
    "cataloging_language",
    "export_tag",
    "suppressed",
    "holdings_count",
    "change_marker",
    "gate_version",
    "created_at",
    "updated_at",
)


def _peek_not_marc(stream) -> str | None:
    """`readers.not_marc_reason` of the stream's first bytes; the stream is rewound (files
    and uploads can seek; a stream that cannot is read as it is)."""
    try:
        position = stream.tell()
        head = stream.read(4096)
        stream.seek(position)
    except (AttributeError, OSError):
        return None
    return not_marc_reason(head)


def _write_rows(model, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Insert rows in the current transaction: PostgreSQL COPY (several times faster than
    INSERT for bulk loads), else bulk_create. `rows` may be a generator: COPY consumes it as
    it streams.

    COPY runs in binary format: in text format, escaping the MARC bytes to hex and rendering
    the timestamps cost more than everything else the import does per record, on both sides.
    Binary needs each column's exact type, taken from the model."""
    if isinstance(rows, list) and not rows:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        types = [_copy_type(model, column) for column in columns]
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        return
    fields = ["pk" if c == "id" else c for c in columns]
    objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
    if objects:
        model.objects.bulk_create(objects)


@contextlib.contextmanager
def _old_objects_frozen():
    """Keep the objects that exist before an import out of the garbage collector's way.

    An import allocates and frees millions of small objects; each time that churn triggers a
    full collection, the collector walks every object of the process (Django, the app, the
    test suite), and that walking cost as much as the import itself. Frozen objects are
    skipped (`gc.freeze`); the import's own objects are collected as usual, and everything is
    unfrozen afterwards. A process that froze objects itself (e.g. a pre-forking server) is
    left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _copy_type(model, column: str) -> str:
    """The PostgreSQL type name of a column ("varchar(64)" -> "varchar"), as COPY's binary
    format needs it."""
    return model._meta.get_field(column).db_type(connection).split("(")[0]


def import_files(
    paths: Iterable[str | Path],
    *,
    export_tag: str | None = None,
    holdings: str | None = None,
    actor=None,
) -> ImportResult:
    """Import files with the command-line options; ValueError for a bad --holdings value."""
    importer = Importer(
        export_tag=export_tag, default_holdings=parse_holdings_option(holdings), actor=actor
    )
    return importer.import_paths(paths)
