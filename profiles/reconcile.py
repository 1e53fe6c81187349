"""Reconciliation: what the ledger says WorldCat should hold against the emulated WorldCat.

Read-only towards datasync (it only reads the emulated WorldCat's records and holdings, as a
library would read WorldCat). For the profile's OCLC symbol:

- a ledger row "published" sent with OCLC number N expects a holding on N's surviving record
  (OCLC keeps holdings on the record a merged number now lives on); none is a *missing holding*;
- a ledger row "deleted" expects no holding there; one is a *stale holding*;
- a holding of the symbol that no published ledger row accounts for is *unknown to the ledger*.

Records published without any OCLC number cannot be checked by number (OCLC reports them as
unresolved); they are counted, not listed as differences.

`republish_differences` turns every difference with a bib behind it back into a job: an
itemized set of those bibs and a "Bib OCLC Republish Set of Titles" job, in one transaction,
audited. The set sends missing and unknown ones again (n/c), and, for a stale holding, the
delete again (LDR/05 d with the OCLC numbers last sent), since a Republish set resends the delete
of a member that is not eligible and that the ledger holds as deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from records.models import NOT_PUBLISHABLE_LABELS, Bib, BibSet, BibSetMember, pk_from_mms_id

from .models import PublishedRecord, PublishingProfile

if TYPE_CHECKING:
    from .engine import RunRequest

MISSING = "missing"
STALE = "stale"
UNKNOWN = "unknown"
KIND_LABELS = {
    MISSING: "Missing holding",
    STALE: "Stale holding",
    UNKNOWN: "Unknown to the ledger",
}
CHUNK = 2000


@dataclass
class Difference:
    kind: str
    oclc_number: int | None
    bib_id: int | None = None
    mms_id: int | None = None
    title: str = ""
    detail: str = ""

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass
class Reconciliation:
    profile: PublishingProfile
    symbol: str
    institution_found: bool = False
    published: int = 0
    deleted: int = 0
    holdings: int = 0
    without_number: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_LABELS, 0))
    differences: list[Difference] = field(default_factory=list)
    limit: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return self.limit is not None and self.total > len(self.differences)

    def add(self, difference: Difference) -> None:
        self.counts[difference.kind] += 1
        if self.limit is None or len(self.differences) < self.limit:
            self.differences.append(difference)

    def republishable(self) -> list[int]:
        """Bib ids a republish can fix: missing, stale and unknown holdings with a bib."""
        return sorted({d.bib_id for d in self.differences if d.bib_id is not None})


def _chunks(iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _survivors(numbers: set[int]) -> dict[int, int]:
    """OCLC number -> pk of the WorldCat record it lives on now (absent when unknown)."""
    from datasync.models import WorldCatRecord

    out = {}
    for record in WorldCatRecord.objects.filter(oclc_number__in=numbers).select_related(
        "merged_into"
    ):
        out[record.oclc_number] = record.surviving().pk
    return out


def reconcile(profile: PublishingProfile, *, limit: int | None = 500) -> Reconciliation:
    """Compare the profile's ledger with the emulated WorldCat holdings of its symbol.

    Streams the ledger and the holdings in chunks; memory grows with the number of holdings
    (one integer each), not with record sizes. `limit` caps the differences listed; the counts
    are always complete.
    """
    from datasync.models import Holding, Institution

    symbol = profile.oclc_symbol.strip()
    result = Reconciliation(profile=profile, symbol=symbol, limit=limit)
    institution = Institution.objects.filter(symbol__iexact=symbol).first()
    result.institution_found = institution is not None
    expected: set[int] = set()
    stale_records: set[int] = set()

    rows = (
        PublishedRecord.objects.filter(profile=profile)
        .order_by("bib_id")
        .values_list("bib_id", "bib__mms_id", "bib__title", "status", "oclc_numbers")
    )
    for batch in _chunks(rows.iterator(chunk_size=CHUNK), CHUNK):
        firsts = {int(r[4].split()[0]) for r in batch if r[4].split()}
        survivors = _survivors(firsts)
        held: set[int] = set()
        if institution is not None and survivors:
            held = set(
                Holding.objects.filter(
                    institution=institution, record_id__in=set(survivors.values())
                ).values_list("record_id", flat=True)
            )
        for bib_id, mms_id, title, status, numbers in batch:
            number = int(numbers.split()[0]) if numbers.split() else None
            record_pk = survivors.get(number) if number is not None else None
            if status == PublishedRecord.Status.PUBLISHED:
                result.published += 1
                if number is None:
                    result.without_number += 1
                    continue
                if record_pk is not None:
                    expected.add(record_pk)
                if record_pk not in held:
                    result.add(
                        Difference(
                            MISSING,
                            number,
                            bib_id,
                            mms_id,
                            title,
                            "Published, but WorldCat has no holding of "
                            f"{symbol} on this number"
                            + ("" if record_pk is not None else " (the number is not in WorldCat)"),
                        )
                    )
            else:
                result.deleted += 1
                if record_pk is not None and record_pk in held:
                    stale_records.add(record_pk)
                    result.add(
                        Difference(
                            STALE,
                            number,
                            bib_id,
                            mms_id,
                            title,
                            f"Published as deleted, but WorldCat still shows a holding of {symbol}",
                        )
                    )

    if institution is not None:
        holdings = Holding.objects.filter(institution=institution).values_list(
            "record_id", "record__oclc_number", "local_system_number"
        )
        for batch in _chunks(holdings.order_by("pk").iterator(chunk_size=CHUNK), CHUNK):
            result.holdings += len(batch)
            unknown = [h for h in batch if h[0] not in expected and h[0] not in stale_records]
            pks = {pk_from_mms_id(h[2]) for h in unknown} - {None}
            found = Bib.objects.filter(pk__in=pks).with_eligibility()
            bibs = {b.pk: b for b in found.only("pk", "mms_id", "title")}
            for _record_pk, number, lsn in unknown:
                bib = bibs.get(pk_from_mms_id(lsn) or 0)
                result.add(
                    Difference(
                        UNKNOWN,
                        number,
                        bib.pk if bib else None,
                        bib.mms_id if bib else None,
                        bib.title if bib else "",
                        f"WorldCat shows a holding of {symbol} (local number {lsn or 'none'}) "
                        "that this profile's ledger does not account for"
                        + (
                            f"; not eligible to publish: {NOT_PUBLISHABLE_LABELS[why]}"
                            if (why := getattr(bib, "why_not_publishable", ""))
                            else ""
                        ),
                    )
                )
    return result


def republish_differences(profile: PublishingProfile, *, actor=None) -> RunRequest:
    """An itemized set of the bibs behind the differences, and a Republish set job.

    The differences are computed again here, so what is republished is what differs now. Like
    every run request, a job of the profile that failed after writing its files is retried
    first (`result.retry`); the Republish set follows once it succeeds. Raises JobRefused
    (nothing created) when the profile has an active job or nothing to republish.
    """
    from .engine import JobRefused, republish_set

    result = reconcile(profile, limit=None)
    bib_ids = result.republishable()
    if not bib_ids:
        raise JobRefused(
            "There is nothing a republish can fix: no missing, stale or unknown holdings."
        )
    now = timezone.localtime()
    with transaction.atomic():
        bib_set = BibSet.objects.create(
            name=f"Reconciliation {profile.pk} {now:%Y-%m-%d %H:%M:%S.%f}",
            description=f"Bibs whose WorldCat holdings differ from the ledger of {profile} "
            f"({result.counts[MISSING]} missing, {result.counts[STALE]} stale, "
            f"{result.counts[UNKNOWN]} unknown), "
            f"found by reconciliation on {now:%Y-%m-%d %H:%M %Z}.",
            kind=BibSet.Kind.ITEMIZED,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        BibSetMember.objects.bulk_create(
            [BibSetMember(bib_set=bib_set, bib_id=pk) for pk in bib_ids], batch_size=5000
        )
        run = republish_set(profile, bib_set, requested_by=actor)
        if run.retry is not None:
            started = f"job {run.retry.pk} retried first, the republish follows it"
            data = {"set": bib_set.pk, "retry": run.retry.pk, "counts": result.counts}
        else:
            started = f"job {run.job.pk}"
            data = {"set": bib_set.pk, "job": run.job.pk, "counts": result.counts}
        audit(
            "profiles.reconcile.republished",
            actor=actor,
            target=profile,
            message=f"Reconciliation of {profile}: {len(bib_ids)} record(s) put in set "
            f"“{bib_set}” and republished ({started})",
            data=data,
        )
    return run
