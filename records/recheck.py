"""Stored records against today's validation gate: `manage.py check_records [--json] [--repair]`.

A library upgrading from a version without the gate (records.gate) may hold records it would now
refuse or repair. This lists them, with the reason, and changes nothing unless asked to repair:
then each repairable record is stored repaired (records.actions.replace_marc: audited, marked
changed for the next publishing job) with one "records.bib.repaired" entry naming the repairs.
Records the gate refuses cannot be repaired automatically: fix them in the MARC editor (publishing
reports them as invalid and does not send them meanwhile).

Records that pass as they are get the gate's stamp (Bib.gate_version) if they lacked it, only
where their bytes are still the ones checked, so publishing need not check them again; their
bytes, and so the catalogue, do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

from audit.log import record as audit

from . import actions
from .gate import GATE_VERSION
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
            .values_list("pk", "mms_id", "marc", "gate_version")[:BATCH]
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
        passed = []
        for pk, mms_id, marc, version in rows:
            result.checked += 1
            problem, prepared = judge_stored(bytes(marc))
            if not problem and not (prepared and prepared.repairs) and version != GATE_VERSION:
                passed.append((pk, bytes(marc)))
            if problem:
                result.findings.append(Finding(mms_id, "invalid", problem))
            elif prepared is not None and prepared.repairs:
                reason = "; ".join(prepared.repairs)
                if repair:
                    _repair(pk, prepared, actor)
                result.findings.append(
                    Finding(mms_id, "repaired" if repair else "repairable", reason)
                )
        _stamp(passed)
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


def _stamp(passed: list[tuple[int, bytes]]) -> None:
    """Claim the gate's stamp for records that passed, where their bytes are still the ones
    checked (a record changed meanwhile keeps what the database gave it)."""
    if not passed:
        return
    if connection.vendor != "postgresql":
        for pk, marc in passed:
            Bib.objects.filter(pk=pk, marc=marc).update(gate_version=-GATE_VERSION)
        return
    table = Bib._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} b SET gate_version = %s "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bytea[]) AS v(id, marc) "
            "WHERE b.id = v.id AND b.marc = v.marc",
            [-GATE_VERSION, [pk for pk, _ in passed], [marc for _, marc in passed]],
        )
