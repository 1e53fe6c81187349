"""Stored records against today's validation gate: `manage.py check_records [--json] [--repair]`.

A library upgrading from a version without the gate (records.gate) may hold records it would now
refuse or repair. This lists them, with the reason, and changes nothing unless asked to repair:
then each repairable record is stored repaired (records.actions.replace_marc: audited, marked
changed for the next publishing job) with one "records.bib.repaired" entry naming the repairs.
Records the gate refuses cannot be repaired automatically: fix them in the MARC editor (publishing
reports them as invalid and does not send them meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from audit.log import record as audit

from . import actions
from .ingest import judge_stored
from .models import Bib

BATCH = 2000


@dataclass
class Finding:
    mms_id: int
    verdict: str  # "invalid", "repairable" or "repaired"
    reason: str

    def as_json(self) -> dict:
        return {"mms_id": str(self.mms_id), "verdict": self.verdict, "reason": self.reason}


@dataclass
class CheckResult:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for f in self.findings if f.verdict == verdict)

    def as_json(self) -> dict:
        return {
            "checked": self.checked,
            "invalid": self.count("invalid"),
            "repairable": self.count("repairable"),
            "repaired": self.count("repaired"),
            "records": [f.as_json() for f in self.findings],
        }


def check_records(
    *, repair: bool = False, actor=None, progress: Callable[[int], None] | None = None
) -> CheckResult:
    """Every stored record (deleted ones too: publishing sends their deletes) through the gate."""
    result = CheckResult()
    last = 0
    while True:
        rows = list(
            Bib.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "mms_id", "marc")[:BATCH]
        )
        if not rows:
            if repair:
                audit(
                    "records.check.repaired",
                    actor=actor,
                    message=f"check_records --repair: {result.checked} records checked, "
                    f"{result.count('repaired')} repaired, {result.count('invalid')} invalid",
                    data=result.as_json() | {"records": None},
                )
            return result
        for pk, mms_id, marc in rows:
            result.checked += 1
            problem, prepared = judge_stored(bytes(marc))
            if problem:
                result.findings.append(Finding(mms_id, "invalid", problem))
            elif prepared is not None and prepared.repairs:
                reason = "; ".join(prepared.repairs)
                if repair:
                    _repair(pk, prepared, actor)
                result.findings.append(
                    Finding(mms_id, "repaired" if repair else "repairable", reason)
                )
        last = rows[-1][0]
        if progress:
            progress(result.checked)


@transaction.atomic
def _repair(pk: int, prepared, actor) -> None:
    bib = Bib.objects.select_for_update().get(pk=pk)
    data, summary, _ = prepared.catalogue(bib.mms_id)
    actions.replace_marc(bib, data, summary, actor=actor, source="check_records --repair")
    actions.audit_repairs(
        [(bib.pk, bib.mms_id, summary.title, prepared.repairs)],
        actor=actor,
        source="check_records --repair",
    )
