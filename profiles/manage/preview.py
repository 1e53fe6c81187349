""" "What will change in WorldCat": a job's dry run (profiles.engine.dry_run, the job's own
selection and decisions) told in the librarian's words, for the confirmation shown before Run
now, a Full, a Baseline or a Republish set."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import DryRun
from ..models import JobRecord, PublishingJob

Kind = PublishingJob.Kind
OUTCOMES = ("new", "changed", "deleted", "unchanged", "skipped")
HEADINGS = {
    "new": "New in WorldCat: sent as new records (LDR/05 n); OCLC sets your holdings",
    "changed": "Changed: sent as changed records (LDR/05 c)",
    "deleted": "Deleted: sent as deleted records (LDR/05 d); OCLC removes your holdings",
    "unchanged": "Unchanged: not sent (the record content did not change since it was sent)",
    "skipped": "Not sent",
}
REASONS = dict(JobRecord.Reason.choices)
# The guide's Step 6, 4a and 4b, for the Baseline's confirmation.
BASELINE_ADVICE = (
    "Choose Baseline only if you used Step 5 to bring your WorldCat holdings up to date, or are "
    "otherwise confident your holdings are currently accurately reflected in WorldCat: Baseline "
    "does not send any records to OCLC, it only records them as published. If you are not sure "
    "whether your holdings are up to date in WorldCat, choose Full instead: it sends every "
    "record with the Publish bib tag."
)


@dataclass
class Group:
    outcome: str
    heading: str
    reason: str
    count: int
    examples: list = field(default_factory=list)


@dataclass
class Preview:
    dry: DryRun
    mode: str
    mode_label: str
    groups: list[Group]

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.dry.counts.get(o, 0) for o in OUTCOMES}

    @property
    def to_send(self) -> int:
        return self.dry.records_to_send

    @property
    def is_baseline(self) -> bool:
        return self.mode == Kind.BASELINE

    @property
    def baseline_advice(self) -> str:
        return BASELINE_ADVICE if self.is_baseline else ""


def describe(dry: DryRun) -> Preview:
    """The dry run by outcome, then by reason, each with its few example records."""
    groups = []
    for (outcome, reason), count in sorted(
        dry.reasons.items(), key=lambda item: (OUTCOMES.index(item[0][0]), item[0][1])
    ):
        label = ""
        if reason and reason not in ("republish", "unchanged"):
            label = REASONS.get(reason, reason)
        groups.append(
            Group(
                outcome=outcome,
                heading=HEADINGS.get(outcome, outcome),
                reason=label,
                count=count,
                examples=dry.examples.get((outcome, reason), []),
            )
        )
    return Preview(dry=dry, mode=str(dry.kind), mode_label=Kind(dry.kind).label, groups=groups)


def next_job_text(
    decision: tuple[str, str] | None, *, incremental: bool, api_number: str = ""
) -> str:
    """What the profile's next job does with one record, from its dry-run decision (None: an
    Incremental does not look at the record, which has not changed since the last job).
    `api_number`: the OCLC number an Incremental delivering through the WorldCat Metadata API
    would call for this record (its own for new and changed, the one last sent for a delete);
    "" when the record goes in a file."""
    if decision is None:
        return "nothing: the record has not changed since the last job" if incremental else ""
    outcome, reason = decision
    why = REASONS.get(reason, reason)
    if outcome in ("new", "changed") and api_number:
        return (
            f"will be sent as {outcome}: its holding set on OCLC number {api_number} through "
            "the WorldCat Metadata API (no file)"
        )
    if outcome == "deleted" and api_number:
        return (
            f"will be sent as deleted ({why}): its holding unset on OCLC number {api_number} "
            "through the WorldCat Metadata API (no file)"
        )
    if outcome == "new":
        return "will be sent as new"
    if outcome == "changed":
        return "will be sent as changed"
    if outcome == "deleted":
        return f"will be sent as deleted ({why})"
    if outcome == "unchanged":
        return "not sent: its content did not change since it was last sent"
    if reason == "baseline":
        return "will be recorded as published, not sent (Baseline)"
    if reason == "baseline_deleted":
        return "will be recorded as deleted, not sent (Baseline)"
    if reason == "holdings_only":
        return "not sent: tagged Publish holdings only"
    if reason == "dont_publish":
        why = "tagged Don't publish"
    return f"not eligible: {why}; not sent (never published by this profile, so no delete)"
