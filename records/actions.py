"""Every write to the catalogue goes through these functions.

Each one changes the data, stamps the affected bibs as changed for publishing
(`records.changes.mark_changed`) and writes the audit trail, all in one transaction, so a change
can never be made without publishing and the audit trail knowing about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pymarc
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from audit.log import record as audit
from audit.log import record_many as audit_many

from . import ingest
from .changes import mark_changed
from .gate import GATE_VERSION
from .ingest import stored_problem
from .marc import BibSummary, MarcStructureError
from .models import (
    Bib,
    BibSet,
    BibSetMember,
    ExportTag,
    Holding,
    OclcNumber,
    allocate_ids,
    mms_id_for,
)


def catalogue_record(record: pymarc.Record, mms_id: int) -> tuple[bytes, BibSummary]:
    """Turn an incoming record into the catalogue's stored form, as Alma does on import.

    The pymarc door to the import's one normalisation, `records.ingest.Prepared.catalogue`
    (the source 001/003 kept in a 035, 001 = the MMS ID, 003 removed, LDR/09 = "a"): the record
    is written in UTF-8 by pymarc, then normalised exactly as an imported file's records are.
    Raises MarcStructureError when the result would exceed ISO 2709's limits or does not pass
    the validation gate (records.gate), as every incoming record must.
    """
    leader = str(record.leader)
    record.leader = pymarc.Leader(leader[:9] + "a" + leader[10:])
    record.force_utf8 = True
    try:
        catalogued = ingest.split_fields(record.as_marc()).catalogue(mms_id)
    except ingest.RecordError as exc:
        raise MarcStructureError(str(exc)) from exc
    problem = stored_problem(catalogued.data)
    if problem:
        raise MarcStructureError(problem)
    return catalogued.data, catalogued.summary


def _write_oclc_numbers(bib: Bib, numbers: Sequence[str]) -> None:
    OclcNumber.objects.filter(bib=bib).delete()
    OclcNumber.objects.bulk_create([OclcNumber(bib=bib, number=n) for n in numbers])


@transaction.atomic
def create_bib(
    record: pymarc.Record,
    *,
    export_tag: str | None = None,
    holdings: Iterable[tuple[str, str, str]] = (),
    actor=None,
) -> Bib:
    """Add one record to the catalogue (new MMS ID), with optional (library, location, call
    number) holdings. Bulk loading uses records.importer, which follows the same rules."""
    (pk,) = allocate_ids(1)
    mms_id = mms_id_for(pk)
    data, summary = catalogue_record(record, mms_id)
    bib = Bib(pk=pk, mms_id=mms_id)
    if export_tag:
        bib.export_tag = ExportTag(export_tag)
    bib.apply_marc(data, summary)
    bib.save(force_insert=True)
    bib.gate_version = GATE_VERSION  # what the database made of the claim
    _write_oclc_numbers(bib, summary.oclc_numbers)
    holding_rows = [
        Holding(bib=bib, library=h[0], location=h[1], call_number=h[2]) for h in holdings
    ]
    Holding.objects.bulk_create(holding_rows)
    Bib.objects.filter(pk=bib.pk).update(holdings_count=len(holding_rows))
    bib.holdings_count = len(holding_rows)
    mark_changed([bib.pk])
    audit(
        "records.bib.created",
        actor=actor,
        target=bib,
        message=f"Created record {bib.mms_id} ({bib.title[:80]})",
        data={"holdings": len(holding_rows), "export_tag": bib.export_tag},
    )
    return bib


def update_marc(bib: Bib, record: pymarc.Record, *, actor=None, source: str = "") -> bool:
    """Replace a bib's MARC (its 001 stays the MMS ID). Returns False when nothing changed."""
    data, summary = catalogue_record(record, bib.mms_id)
    return replace_marc(bib, data, summary, actor=actor, source=source)


@transaction.atomic
def replace_marc(
    bib: Bib, data: bytes, summary: BibSummary, *, actor=None, source: str = ""
) -> bool:
    """Store already catalogued bytes (001 = the bib's MMS ID) as the bib's record.

    Returns False, and writes nothing, when the bytes are the ones already stored.
    """
    if bytes(bib.marc) == data:
        return False
    old_hash = bib.content_hash
    bib.apply_marc(data, summary)
    bib.save(
        update_fields=[
            "marc",
            "content_hash",
            "title",
            "author",
            "oclc_numbers",
            "cataloging_language",
            "gate_version",
            "updated_at",
        ]
    )
    bib.gate_version = GATE_VERSION  # what the database made of the claim
    _write_oclc_numbers(bib, summary.oclc_numbers)
    mark_changed([bib.pk])
    audit(
        "records.marc.changed",
        actor=actor,
        target=bib,
        message=f"MARC of {bib.mms_id} changed" + (f" ({source})" if source else ""),
        data={"content_changed": old_hash != bib.content_hash},
    )
    return True


def set_export_tag(
    bibs: QuerySet | Iterable[Bib], tag: str, *, actor=None, source: str = ""
) -> int:
    """Set "Export to WorldCat" on many bibs; returns how many actually changed.

    Bibs that already carry the tag are left alone (re-running a tagging job is harmless).
    Every changed bib gets an audit entry with its old value.
    """
    tag = ExportTag(tag)
    qs = bibs if isinstance(bibs, QuerySet) else Bib.objects.filter(pk__in=[b.pk for b in bibs])
    changed = 0
    ids_iter = qs.exclude(export_tag=tag).values_list("pk", "mms_id", "export_tag", "title")
    batch: list[tuple[int, int, str, str]] = []

    def flush(rows):
        with transaction.atomic():
            ids = [r[0] for r in rows]
            n = Bib.objects.filter(pk__in=ids).exclude(export_tag=tag).update(export_tag=tag)
            mark_changed(ids)
            audit_many(
                (
                    {
                        "action": "records.tag.changed",
                        "target": _BibRef(pk, mms, title),
                        "message": f"Export to WorldCat of {mms}: "
                        f"{ExportTag(old).label} → {tag.label}"
                        + (f" ({source})" if source else ""),
                        "data": {"old": old, "new": str(tag)},
                    }
                    for pk, mms, old, title in rows
                ),
                actor=actor,
            )
            return n

    for row in ids_iter.iterator(chunk_size=2000):
        batch.append(row)
        if len(batch) >= 2000:
            changed += flush(batch)
            batch = []
    if batch:
        changed += flush(batch)
    return changed


class _BibRef:
    """A stand-in for a Bib in audit entries written in bulk (no need to load full rows)."""

    class _meta:  # noqa: N801 - mimics Model._meta for audit.log
        label_lower = "records.bib"

    def __init__(self, pk: int, mms_id: int, title: str):
        self.pk = pk
        self._text = f"{mms_id} {title[:80]}".strip()

    def __str__(self) -> str:
        return self._text


def audit_repairs(
    repaired: Iterable[tuple[int, int, str, Sequence[str]]], *, actor=None, source: str = ""
) -> int:
    """One audit entry per record the validation gate repaired on its way in (records.gate):
    (pk, MMS ID, title, what was repaired) each; written in bulk, in the caller's transaction."""
    return audit_many(
        (
            {
                "action": "records.bib.repaired",
                "target": _BibRef(pk, mms_id, title),
                "message": f"Record {mms_id} repaired on import"
                + (f" ({source})" if source else "")
                + ": "
                + "; ".join(repairs),
                "data": {"repairs": list(repairs)},
            }
            for pk, mms_id, title, repairs in repaired
        ),
        actor=actor,
    )


HOLDING_FIELDS = (
    "library",
    "location",
    "call_number",
    "textual_holdings",
    "supplement_holdings",
    "index_holdings",
)


@transaction.atomic
def add_holding(
    bib: Bib, library: str, location: str, call_number: str = "", *, actor=None, **statements
) -> Holding:
    """A new holdings record; `statements`: textual_holdings, supplement_holdings and
    index_holdings (866-868)."""
    holding = Holding.objects.create(
        bib=bib, library=library, location=location, call_number=call_number, **statements
    )
    Bib.objects.filter(pk=bib.pk).update(holdings_count=F("holdings_count") + 1)
    bib.refresh_from_db(fields=["holdings_count"])
    mark_changed([bib.pk])
    audit(
        "records.holding.added",
        actor=actor,
        target=bib,
        message=f"Holdings {holding} added to {bib.mms_id}",
        data={"holding": holding.pk, "library": library, "location": location},
    )
    return holding


@transaction.atomic
def update_holding(holding: Holding, *, actor=None, **values) -> bool:
    """Change a holdings record's library, location, call number or statements (866-868);
    the bib is stamped as changed (the LHR profile sends its holdings again)."""
    unknown = set(values) - set(HOLDING_FIELDS)
    if unknown:
        raise ValueError(f"not a holdings field: {', '.join(sorted(unknown))}")
    changed = {k: v for k, v in values.items() if getattr(holding, k) != v}
    if not changed:
        return False
    before = {k: getattr(holding, k) for k in changed}
    for name, value in changed.items():
        setattr(holding, name, value)
    holding.save(update_fields=list(changed))
    mark_changed([holding.bib_id])
    audit(
        "records.holding.changed",
        actor=actor,
        target=holding.bib,
        message=f"Holdings {holding} of {holding.bib.mms_id} changed: {', '.join(changed)}",
        data={"holding": holding.pk, "before": before, "after": changed},
    )
    return True


@transaction.atomic
def delete_holding(holding: Holding, *, actor=None) -> None:
    bib = holding.bib
    text, pk = str(holding), holding.pk
    holding.delete()
    Bib.objects.filter(pk=bib.pk).update(holdings_count=F("holdings_count") - 1)
    bib.refresh_from_db(fields=["holdings_count"])
    mark_changed([bib.pk])
    last = " (its last holdings record)" if bib.holdings_count == 0 else ""
    audit(
        "records.holding.deleted",
        actor=actor,
        target=bib,
        message=f"Holdings {text} deleted from {bib.mms_id}{last}",
        data={"holding": pk, "remaining": bib.holdings_count},
    )


@transaction.atomic
def set_suppressed(bib: Bib, suppressed: bool, *, actor=None) -> bool:
    if bib.suppressed == suppressed:
        return False
    bib.suppressed = suppressed
    bib.save(update_fields=["suppressed", "updated_at"])
    mark_changed([bib.pk])
    audit(
        "records.bib.suppressed" if suppressed else "records.bib.unsuppressed",
        actor=actor,
        target=bib,
        message=f"Record {bib.mms_id} {'suppressed' if suppressed else 'unsuppressed'}",
    )
    return True


@transaction.atomic
def delete_bib(bib: Bib, *, actor=None) -> bool:
    """Delete a bib as a tombstone: it stays findable so its deletion can be published."""
    if bib.deleted_at is not None:
        return False
    bib.deleted_at = timezone.now()
    bib.save(update_fields=["deleted_at", "updated_at"])
    mark_changed([bib.pk])
    audit("records.bib.deleted", actor=actor, target=bib, message=f"Record {bib.mms_id} deleted")
    return True


@transaction.atomic
def restore_bib(bib: Bib, *, actor=None) -> bool:
    if bib.deleted_at is None:
        return False
    bib.deleted_at = None
    bib.save(update_fields=["deleted_at", "updated_at"])
    mark_changed([bib.pk])
    audit("records.bib.restored", actor=actor, target=bib, message=f"Record {bib.mms_id} restored")
    return True


def add_to_set(bib_set: BibSet, bibs: QuerySet | Iterable[Bib], *, actor=None) -> int:
    """Add bibs to an itemized set; returns how many were not members yet."""
    if bib_set.kind != BibSet.Kind.ITEMIZED:
        raise ValueError(f"“{bib_set}” is a logical set (a saved search): records cannot be added")
    qs = bibs if isinstance(bibs, QuerySet) else Bib.objects.filter(pk__in=[b.pk for b in bibs])
    added = 0
    batch: list[int] = []

    def flush(ids: list[int]) -> int:
        have = set(
            BibSetMember.objects.filter(bib_set=bib_set, bib_id__in=ids).values_list(
                "bib_id", flat=True
            )
        )
        rows = [BibSetMember(bib_set=bib_set, bib_id=i) for i in ids if i not in have]
        BibSetMember.objects.bulk_create(rows, ignore_conflicts=True)
        return len(rows)

    with transaction.atomic():
        for pk in qs.order_by().values_list("pk", flat=True).iterator(chunk_size=2000):
            batch.append(pk)
            if len(batch) >= 2000:
                added += flush(batch)
                batch = []
        if batch:
            added += flush(batch)
        audit(
            "records.set.members_added",
            actor=actor,
            target=bib_set,
            message=f"{added} record(s) added to set {bib_set.name}",
            data={"added": added},
        )
    return added


@transaction.atomic
def create_logical_set(name: str, query: dict, *, description: str = "", actor=None) -> BibSet:
    """Save a record-list search (records.search.search_bibs parameters) as a logical set."""
    bib_set = BibSet.objects.create(
        name=name,
        description=description,
        kind=BibSet.Kind.LOGICAL,
        query=query,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit(
        "records.set.created",
        actor=actor,
        target=bib_set,
        message=f"Logical set {name} saved",
        data={"query": query},
    )
    return bib_set
