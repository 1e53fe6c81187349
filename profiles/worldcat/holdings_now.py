"""Set or unset a record's WorldCat holding now, through the profile's WorldCat Metadata API,
recorded in the profile's ledger so the next file job neither repeats nor contradicts it.

- Set now is for a record the profile publishes (`Bib.objects.publishable()`, the one rule):
  the ledger then says "published" with the record's content hash, so an Incremental finds it
  unchanged and sends nothing. A record the profile does not publish is refused: the next job
  would send its delete and undo the set.
- Unset now is for a record the profile no longer publishes (untagged, suppressed, deleted, no
  holdings): the ledger then says "deleted", so no job sends that delete again. A record the
  profile still publishes is refused: the next job would set the holding again.
- A record needs an OCLC number; records without one stay with files (OCLC matches them).
- cascadeDelete is off unless asked: OCLC then refuses to unset a holding that has the
  institution's local data (LBD, LHR) attached, and says so; with it on, OCLC deletes that
  local data with the holding.
- OCLC's "already set" and "already unset" are successes for the ledger: WorldCat is as wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from records.models import Bib

from ..models import PublishedRecord, PublishingProfile

if TYPE_CHECKING:
    from .client import WorldCatClient

MAX_RECORDS = 100
VIA_API = "WorldCat Metadata API"

SET = "set"
UNSET = "unset"


@dataclass
class HoldingOutcome:
    bib: Bib
    number: int | None
    done: bool
    message: str
    current: int | None = None


def _first_number(bib: Bib) -> int | None:
    numbers = bib.oclc_number_list
    return int(numbers[0]) if numbers else None


def _refusal(bib: Bib, action: str, publishable: set[int]) -> str | None:
    if _first_number(bib) is None:
        return "No OCLC number: this record stays with files (OCLC matches it by its content)."
    if action == SET and bib.pk not in publishable:
        return (
            "This profile does not publish this record (check its Export to WorldCat tag, "
            "suppression and holdings): the next job would unset the holding again."
        )
    if action == UNSET and bib.pk in publishable:
        return (
            "This profile still publishes this record: the next job would set the holding "
            "again. Set its Export to WorldCat tag to Don't publish first."
        )
    return None


def change_holdings_now(
    profile: PublishingProfile,
    bibs: list[Bib],
    action: str,
    *,
    cascade: bool = False,
    actor=None,
    client: WorldCatClient | None = None,
) -> list[HoldingOutcome]:
    """Set or unset each record's holding through the API; one outcome per record, in order."""
    # The HTTP client (httpx, authlib) is imported when first used, not when Django starts
    # (this module is imported at start-up for the record list's actions): a cron
    # `manage.py publish` would pay for it every night.
    from .client import WorldCatApiError, WorldCatClient

    if len(bibs) > MAX_RECORDS:
        raise ValueError(f"At most {MAX_RECORDS} records at a time.")
    publishable = set(
        Bib.objects.publishable().filter(pk__in=[b.pk for b in bibs]).values_list("pk", flat=True)
    )
    outcomes: list[HoldingOutcome] = []
    own_client = client is None
    client = client or WorldCatClient.for_profile(profile.worldcat_api)
    try:
        for bib in bibs:
            refusal = _refusal(bib, action, publishable)
            number = _first_number(bib)
            if refusal:
                outcomes.append(HoldingOutcome(bib, number, False, refusal))
                continue
            try:
                if action == SET:
                    result = client.set_holding(number)
                    done = result.success or result.message == "WorldCat Holding already set."
                else:
                    result = client.unset_holding(number, cascade=cascade)
                    done = result.success or result.message == "WorldCat Holding already unset."
            except WorldCatApiError as exc:
                outcomes.append(HoldingOutcome(bib, number, False, str(exc)))
                if exc.category in ("auth", "config", "network"):
                    # The same answer awaits every other record: stop, and say so.
                    outcomes += [
                        HoldingOutcome(b, _first_number(b), False, "Not tried: " + str(exc))
                        for b in bibs[len(outcomes) :]
                    ]
                    break
                continue
            outcome = HoldingOutcome(bib, number, done, result.message, result.current)
            outcomes.append(outcome)
            if done:
                _record(profile, bib, action, outcome, cascade=cascade, actor=actor)
    finally:
        if own_client:
            client.close()
    return outcomes


def _record(profile, bib: Bib, action: str, outcome: HoldingOutcome, *, cascade, actor) -> None:
    """The ledger row says what WorldCat now holds, as a file job would have left it."""
    status = PublishedRecord.Status.PUBLISHED if action == SET else PublishedRecord.Status.DELETED
    with transaction.atomic():
        PublishedRecord.objects.update_or_create(
            profile=profile,
            bib=bib,
            defaults={
                "status": status,
                "content_hash": bib.content_hash,
                "oclc_numbers": " ".join(bib.oclc_number_list),
                "ldr05": "",
                "job": None,
                "file_name": f"{VIA_API} ({action} now)",
                "sent_at": timezone.now(),
            },
        )
        audit(
            f"profiles.holding.{action}_now",
            actor=actor,
            target=bib,
            message=f"{profile}: holding {action} in WorldCat now for MMS ID {bib.mms_id} on "
            f"OCLC number {outcome.current or outcome.number} ({outcome.message})"
            + (" with cascadeDelete" if action == UNSET and cascade else ""),
            data={
                "profile": profile.pk,
                "number": outcome.number,
                "current": outcome.current,
                "cascade": cascade if action == UNSET else None,
            },
        )
