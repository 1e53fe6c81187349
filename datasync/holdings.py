"""An institution's holdings in the emulated WorldCat, one OCLC number at a time.

Plain functions the Metadata API adapts to HTTP (tests call them directly). Set and unset take
the same row lock on the institution as the processing of a Data Sync file, so an API call and
a file of the same institution never change its holdings at once.

OCLC's rules, as the Metadata API 2.0 documents them:
- a merged number (now in a 019 of another record) is resolved to the record it lives on; the
  answer names both the requested and the current number;
- a number WorldCat does not know is "not found". A Staging record's provisional number is
  answered like any other, because Data Sync files sent with it set holdings on it too (the
  emulated WorldCat keeps one rule for files and API);
- setting a holding already set, or unsetting one already unset, changes nothing and says so;
- an unset deletes the institution's LBDs and LHRs on the record (cascade, the default), or,
  without cascade, is refused while any are attached.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit

from .models import Holding, Institution, LocalData, WorldCatRecord

SET_DONE = "Set Holding Succeeded."
SET_ALREADY = "WorldCat Holding already set."
UNSET_DONE = "Unset Holdings Succeeded."
UNSET_ALREADY = "WorldCat Holding already unset."
UNSET_BLOCKED = {
    (True, False): "Unset Holdings Failed. Local bibliographic data (LBD) is attached to this "
    "record.",
    (False, True): "Unset Holdings Failed. Local holdings records (LHRs) are attached to this "
    "record.",
    (True, True): "Unset Holdings Failed. Local bibliographic data (LBD) and local holdings "
    "records (LHRs) are attached to this record.",
}


class BibNotFound(Exception):
    """WorldCat has no record under this number."""


@dataclass(frozen=True)
class HoldingChange:
    """What a set or unset did: OCLC's answer in plain values."""

    requested: int
    current: int
    success: bool
    message: str
    action: str


def current_records(numbers: list[int]) -> dict[int, WorldCatRecord]:
    """Requested number -> the WorldCat record it lives on now (absent when not in WorldCat)."""
    found = WorldCatRecord.objects.filter(oclc_number__in=set(numbers)).select_related(
        "merged_into"
    )
    return {record.oclc_number: record.surviving() for record in found}


def current_holdings(
    institution: Institution, numbers: list[int]
) -> list[tuple[int, int | None, bool]]:
    """(requested, current or None, holding set) per requested number, in the order asked."""
    records = current_records(numbers)
    held = set(
        Holding.objects.filter(
            institution=institution, record__in=[r.pk for r in records.values()]
        ).values_list("record_id", flat=True)
    )
    out = []
    for number in numbers:
        record = records.get(number)
        out.append(
            (number, record.oclc_number if record else None, bool(record and record.pk in held))
        )
    return out


def _survivor(number: int) -> WorldCatRecord:
    record = current_records([number]).get(number)
    if record is None:
        raise BibNotFound(number)
    return record


def set_holding(
    institution: Institution, number: int, *, via: str = "Metadata API"
) -> HoldingChange:
    """Set the institution's holding on the record `number` lives on (raises BibNotFound)."""
    with transaction.atomic():
        Institution.objects.select_for_update().get(pk=institution.pk)
        record = _survivor(number)
        _holding, created = Holding.objects.get_or_create(
            institution=institution, record=record, defaults={"set_at": timezone.now()}
        )
        if created:
            audit(
                "datasync.holding.set",
                target=record,
                message=f"{via}: holding of {institution.symbol} set on {record.oclc_number}"
                + (f" (requested as {number})" if number != record.oclc_number else ""),
            )
    return HoldingChange(
        number, record.oclc_number, created, SET_DONE if created else SET_ALREADY, "Set Holdings"
    )


def unset_holding(
    institution: Institution, number: int, *, cascade: bool = True, via: str = "Metadata API"
) -> HoldingChange:
    """Unset the institution's holding (raises BibNotFound); see the module's rules."""
    with transaction.atomic():
        Institution.objects.select_for_update().get(pk=institution.pk)
        record = _survivor(number)
        holding = Holding.objects.filter(institution=institution, record=record).first()
        if holding is None:
            return HoldingChange(number, record.oclc_number, False, UNSET_ALREADY, "Unset Holdings")
        local = LocalData.objects.filter(institution=institution, record=record)
        kinds = set(local.values_list("kind", flat=True))
        if kinds and not cascade:
            blocked = (LocalData.Kind.LBD in kinds, LocalData.Kind.LHR in kinds)
            return HoldingChange(
                number, record.oclc_number, False, UNSET_BLOCKED[blocked], "Unset Holdings"
            )
        deleted_local = local.delete()[0] if kinds else 0
        holding.delete()
        audit(
            "datasync.holding.unset",
            target=record,
            message=f"{via}: holding of {institution.symbol} unset on {record.oclc_number}"
            + (f", with {deleted_local} local data record(s)" if deleted_local else ""),
        )
    return HoldingChange(number, record.oclc_number, True, UNSET_DONE, "Unset Holdings")


def oclc_control_number(number: int) -> str:
    """OCLC's 001: ocm + 8 digits, ocn + 9 digits, on + 10 or more (by the number's size)."""
    if number < 100_000_000:
        return f"ocm{number:08d}"
    if number < 1_000_000_000:
        return f"ocn{number}"
    return f"on{number}"


def write_holdings_export(institution: Institution, stream, *, chunk: int = 2000) -> int:
    """Collection Manager's export of the institution's WorldCat holdings (a query collection
    "li:<symbol>" with MARC record delivery): one MARC 21 record per holding, 001 the OCLC
    control number, 003 OCoLC, 035 $a (OCoLC)N, 245 the title. Streams; returns the count."""
    import pymarc

    count = 0
    rows = (
        Holding.objects.filter(institution=institution)
        .order_by("record__oclc_number")
        .values_list("record__oclc_number", "record__title")
    )
    for number, title in rows.iterator(chunk_size=chunk):
        record = pymarc.Record(force_utf8=True, leader="00000nam a2200000 a 4500")
        record.add_field(pymarc.Field(tag="001", data=oclc_control_number(number)))
        record.add_field(pymarc.Field(tag="003", data="OCoLC"))
        record.add_field(
            pymarc.Field(
                tag="035",
                indicators=pymarc.Indicators(" ", " "),
                subfields=[pymarc.Subfield("a", f"(OCoLC){number}")],
            )
        )
        record.add_field(
            pymarc.Field(
                tag="245",
                indicators=pymarc.Indicators("0", "0"),
                subfields=[pymarc.Subfield("a", title or f"OCLC record {number}")],
            )
        )
        stream.write(record.as_marc())
        count += 1
    return count
