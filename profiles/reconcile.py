"""Reconciliation: what the ledger says WorldCat should hold, against what OCLC's WorldCat
Metadata API says it holds.

Everything goes through the profile's API client (`profiles.worldcat.client`), so it works
against OCLC's real WorldCat as against the emulated one; nothing here reads OCLC's tables.
For the profile's WSKey (whose institution is the profile's symbol):

- a ledger row "published" sent with OCLC number N expects a holding on N's current record
  (holdings/current answers for a merged number with the number it lives under now); none is a
  *missing holding*;
- a ledger row "deleted" expects no holding there; one is a *stale holding*;
- a holding that no published ledger row accounts for is *unknown to the ledger*. The API only
  answers for numbers one asks about, so this needs the list of all the institution's holdings:
  a WorldCat holdings export from Collection Manager (`profiles.worldcat.export`). Without one,
  unknown holdings are not looked for, and the result says so.

The ledger is read in chunks and asked about ten numbers a request (OCLC's limit); memory grows
with the number of published records (one integer each), never with record sizes. Records
published without any OCLC number cannot be checked by number (OCLC reports them as unresolved);
they are counted, not listed as differences.

`republish_differences` turns every difference with a bib behind it back into a job: an
itemized set of those bibs and a "Bib OCLC Republish Set of Titles" job, in one transaction,
audited. The set sends missing and unknown ones again (n/c), and, for a stale holding, the
delete again (LDR/05 d with the OCLC numbers last sent), since a Republish set resends the delete
of a member that is not eligible and that the ledger holds as deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from records.models import NOT_PUBLISHABLE_LABELS, Bib, BibSet, BibSetMember, OclcNumber

from .models import PublishedRecord, PublishingProfile

if TYPE_CHECKING:
    from .engine import RunRequest
    from .worldcat.client import WorldCatClient
    from .worldcat.models import ReconciliationRun

MISSING = "missing"
STALE = "stale"
UNKNOWN = "unknown"
KIND_LABELS = {
    MISSING: "Missing holding",
    STALE: "Stale holding",
    UNKNOWN: "Unknown to the ledger",
}
CHUNK = 2000
BATCH = 10  # holdings/current takes at most ten numbers


@dataclass
class Difference:
    kind: str
    oclc_number: int | None
    bib_id: int | None = None
    mms_id: int | None = None
    title: str = ""
    detail: str = ""
    current_number: int | None = None

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass
class Reconciliation:
    profile: PublishingProfile
    symbol: str
    published: int = 0
    deleted: int = 0
    holdings: int | None = None
    without_number: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_LABELS, 0))
    differences: list[Difference] = field(default_factory=list)
    limit: int | None = None
    # Given: every difference goes there instead of into `differences` (a run stores them).
    sink: Callable[[Difference], None] | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def unknown_available(self) -> bool:
        return self.holdings is not None

    @property
    def truncated(self) -> bool:
        return self.limit is not None and self.total > len(self.differences)

    def add(self, difference: Difference) -> None:
        self.counts[difference.kind] += 1
        if self.sink is not None:
            self.sink(difference)
        elif self.limit is None or len(self.differences) < self.limit:
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


def _ask(client: WorldCatClient, numbers: set[int]) -> dict[int, tuple[int | None, bool]]:
    """Requested number -> (current number or None, holding set), ten numbers a request."""
    out = {}
    for batch in _chunks(sorted(numbers), BATCH):
        for row in client.current_holdings(batch):
            out[row.requested] = (row.current, row.held)
    return out


def reconcile(
    profile: PublishingProfile,
    *,
    client: WorldCatClient,
    export: Iterable[int] | None = None,
    limit: int | None = 500,
    progress: Callable[[int, int], None] | None = None,
    sink: Callable[[Difference], None] | None = None,
) -> Reconciliation:
    """Compare the profile's ledger with WorldCat through the API (and `export`, every OCLC
    number the institution holds, when given). `limit` caps the differences listed; the counts
    are always complete. `progress(done, total)` follows the ledger rows read."""
    symbol = profile.oclc_symbol.strip()
    result = Reconciliation(profile=profile, symbol=symbol, limit=limit, sink=sink)
    expected: set[int] = set()
    stale: set[int] = set()
    ledger = PublishedRecord.objects.filter(profile=profile)
    total = ledger.count()
    done = 0
    rows = ledger.order_by("bib_id").values_list(
        "bib_id", "bib__mms_id", "bib__title", "status", "oclc_numbers"
    )
    for batch in _chunks(rows.iterator(chunk_size=CHUNK), CHUNK):
        answers = _ask(client, {int(r[4].split()[0]) for r in batch if r[4].split()})
        for bib_id, mms_id, title, status, numbers in batch:
            number = int(numbers.split()[0]) if numbers.split() else None
            current, held = answers.get(number, (None, False)) if number else (None, False)
            if status == PublishedRecord.Status.PUBLISHED:
                result.published += 1
                if number is None:
                    result.without_number += 1
                    continue
                if current is not None:
                    expected.add(current)
                if not held:
                    result.add(
                        Difference(
                            MISSING,
                            number,
                            bib_id,
                            mms_id,
                            title,
                            f"Published, but WorldCat has no holding of {symbol} on this number"
                            + (
                                " (the number is not in WorldCat)"
                                if current is None
                                else (f" (now {current})" if current != number else "")
                            ),
                            current,
                        )
                    )
            else:
                result.deleted += 1
                if held:
                    stale.add(current)
                    result.add(
                        Difference(
                            STALE,
                            number,
                            bib_id,
                            mms_id,
                            title,
                            f"Published as deleted, but WorldCat still shows a holding of {symbol}"
                            + (f" (on {current})" if current != number else ""),
                            current,
                        )
                    )
        done += len(batch)
        if progress is not None:
            progress(done, total)
    if export is not None:
        result.holdings = 0
        for batch in _chunks(export, CHUNK):
            result.holdings += len(batch)
            unknown = [n for n in batch if n not in expected and n not in stale]
            bibs = dict(
                OclcNumber.objects.filter(number__in=[str(n) for n in unknown])
                .order_by("bib_id")
                .values_list("number", "bib_id")
            )
            # A holding an LHR profile keeps (its LHRs of this symbol on the number) is
            # accounted for: OCLC sets the holding with the LHRs.
            kept_by_lhr = _kept_by_lhr(symbol, set(bibs.values()))
            unknown = [n for n in unknown if bibs.get(str(n)) not in kept_by_lhr]
            details = {
                b.pk: (b.pk, b.mms_id, b.title, getattr(b, "why_not_publishable", ""))
                for b in Bib.objects.filter(pk__in=set(bibs.values()))
                .with_eligibility()
                .only("pk", "mms_id", "title")
            }
            for number in unknown:
                bib = details.get(bibs.get(str(number)))
                result.add(
                    Difference(
                        UNKNOWN,
                        number,
                        bib[0] if bib else None,
                        bib[1] if bib else None,
                        bib[2] if bib else "",
                        f"WorldCat shows a holding of {symbol} that this profile's ledger does "
                        "not account for"
                        + (
                            " (no record of this catalogue has this number)"
                            if not bib
                            else (
                                f"; not eligible to publish: {NOT_PUBLISHABLE_LABELS[bib[3]]}"
                                if bib[3]
                                else ""
                            )
                        ),
                        number,
                    )
                )
            if progress is not None:
                progress(done, total)  # the ledger is done; this says the run is alive
    return result


def _kept_by_lhr(symbol: str, bib_ids: set[int]) -> set[int]:
    """Bibs whose holdings an LHR profile published with this symbol (its ledger)."""
    rows = PublishedRecord.objects.filter(
        profile__record_kind=PublishingProfile.RecordKind.HOLDINGS,
        status=PublishedRecord.Status.PUBLISHED,
        bib_id__in=bib_ids,
        holdings_sent__contains=f":{symbol}",
    ).values_list("bib_id", "holdings_sent")
    return {
        bib_id
        for bib_id, sent in rows
        if any(part.partition(":")[2] == symbol for part in sent.split())
    }


def republish_differences(
    profile: PublishingProfile, *, reconciliation: ReconciliationRun | None = None, actor=None
) -> RunRequest:
    """An itemized set of the bibs behind the differences, and a Republish set job.

    The differences are those of `reconciliation` (the run the person looked at), else computed
    again here through the profile's API client, so what is republished is what differs now. Like
    every run request, a job of the profile that failed after writing its files is retried
    first (`result.retry`); the Republish set follows once it succeeds. Raises JobRefused
    (nothing created) when the profile has an active job or nothing to republish.
    """
    from .engine import JobRefused, republish_set

    if reconciliation is not None:
        counts = {
            MISSING: reconciliation.count_missing,
            STALE: reconciliation.count_stale,
            UNKNOWN: reconciliation.count_unknown,
        }
        bib_ids = sorted(
            set(reconciliation.differences.exclude(bib_id=None).values_list("bib_id", flat=True))
        )
    else:
        from .worldcat.client import WorldCatClient

        with WorldCatClient.for_profile(profile.worldcat_api) as client:
            result = reconcile(profile, client=client, limit=None)
        counts = result.counts
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
            f"({counts[MISSING]} missing, {counts[STALE]} stale, "
            f"{counts[UNKNOWN]} unknown), "
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
            data = {"set": bib_set.pk, "retry": run.retry.pk, "counts": counts}
        else:
            started = f"job {run.job.pk}"
            data = {"set": bib_set.pk, "job": run.job.pk, "counts": counts}
        audit(
            "profiles.reconcile.republished",
            actor=actor,
            target=profile,
            message=f"Reconciliation of {profile}: {len(bib_ids)} record(s) put in set "
            f"“{bib_set}” and republished ({started})",
            data=data,
        )
    return run
