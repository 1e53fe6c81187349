"""Run a Job's catalogue: the jobs this application can run, one entry per profile and job of
its kind, plus the catalogue's own jobs.

Data-driven: each publishing profile offers the jobs listed for the record kind it publishes
(profiles.engine.kinds); a kind with no list of its own offers the same jobs named after the
kind, so a new kind of profile appears in Run a Job by itself. Starting a job goes through the
engine's one way in (profiles.engine.runs) and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from ..engine import JobRefused, RunRequest, dry_run, republish_set, run_now
from ..engine.kinds import kind_of
from ..models import PublishingJob, PublishingProfile

Mode = PublishingProfile.Mode


@dataclass(frozen=True)
class JobSpec:
    """One job a kind of profile offers. `mode`: the mode it runs; None for Run now (the
    profile's mode, as confirmed on the review page); `needs_set`: a Republish set."""

    code: str
    name: str  # may name {profile} and {kind}
    description: str
    needs_set: bool = False
    mode: str | None = None


def _specs(republish_name: str, label: str) -> tuple[JobSpec, ...]:
    return (
        JobSpec(
            "republish_set",
            republish_name,
            f"Send every record of a set to OCLC ({label}) as new or changed, whatever was sent "
            "before: the initial file of a Data Sync collection (Step 5 of the guide).",
            needs_set=True,
        ),
        JobSpec(
            "run_now",
            "{profile}: Run now",
            f"Run the profile in its publishing mode now ({label}), as its schedule would.",
        ),
        JobSpec(
            "full",
            "{profile}: Full",
            f"Send every eligible record ({label}) to OCLC, and deletes for records the profile "
            "sent that are no longer eligible.",
            mode=Mode.FULL,
        ),
        JobSpec(
            "baseline",
            "{profile}: Baseline",
            f"Record every eligible record ({label}) as published without sending anything: only "
            "when WorldCat's holdings are known to be up to date (Step 6 of the guide).",
            mode=Mode.BASELINE,
        ),
    )


# The jobs of each record kind's profiles, by kind code; Alma's names for bibliographic records.
SPECS: dict[str, tuple[JobSpec, ...]] = {
    "bib": _specs("Bib OCLC Republish Set of Titles", "bibliographic records"),
}


def specs_for(profile: PublishingProfile) -> tuple[JobSpec, ...]:
    kind = kind_of(profile)
    if kind.code in SPECS:
        return SPECS[kind.code]
    return _specs(f"{kind.label.capitalize()} OCLC Republish Set of Titles", kind.label)


SYNCHRONIZE = JobSpec(
    "synchronize",
    "Synchronize Bib Records with External Catalog",
    "Set the Export to WorldCat management tag (Publish bib, Publish holdings only, Don't "
    "publish) of every record of a set (Step 4 of the guide).",
    needs_set=True,
)


@dataclass(frozen=True)
class Entry:
    """A job of the catalogue: a spec, for a profile (None: a catalogue job)."""

    spec: JobSpec
    profile: PublishingProfile | None = None

    @property
    def key(self) -> str:
        return f"{self.spec.code}:{self.profile.pk}" if self.profile else self.spec.code

    @property
    def name(self) -> str:
        return self.spec.name.format(profile=self.profile)

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def category(self) -> str:
        return "Publishing" if self.profile else "Catalogue"

    @property
    def needs_set(self) -> bool:
        return self.spec.needs_set

    def mode(self) -> str:
        """The mode this job runs now (Run now: the profile's current mode)."""
        if self.spec.code == "republish_set":
            return PublishingJob.Kind.REPUBLISH_SET
        return self.spec.mode or self.profile.publishing_mode

    def mode_label(self) -> str:
        return PublishingJob.Kind(self.mode()).label

    def matches(self, phrase: str) -> bool:
        """Alma's Description search: the name or description contains the phrase."""
        phrase = " ".join(phrase.casefold().split())
        return phrase in self.name.casefold() or phrase in self.description.casefold()


def catalogue(user, description: str = "") -> list[Entry]:
    """The jobs `user` may run whose name or description contains `description`."""
    entries: list[Entry] = []
    if user.has_perm("profiles.change_publishingprofile"):
        for profile in PublishingProfile.objects.order_by("name"):
            entries.extend(Entry(spec, profile) for spec in specs_for(profile))
    if user.has_perm("records.change_bibset"):
        entries.append(Entry(SYNCHRONIZE))
    return [e for e in entries if e.matches(description)]


def find(user, key: str) -> Entry | None:
    return next((e for e in catalogue(user) if e.key == key), None)


def preview(entry: Entry, bib_set=None):
    """What the job would send (profiles.engine.dry_run); None for a catalogue job."""
    if entry.profile is None:
        return None
    if entry.needs_set:
        return dry_run(entry.profile, bib_set=bib_set)
    return dry_run(entry.profile, mode=entry.mode())


def start(entry: Entry, *, bib_set, confirmed_mode: str, requested_by) -> RunRequest:
    """Submit: the job reviewed, through the engine's one way in. `confirmed_mode`: the mode the
    review page showed; a job whose mode is no longer that one starts nothing."""
    profile = entry.profile
    if entry.needs_set:
        if confirmed_mode != PublishingJob.Kind.REPUBLISH_SET:
            raise JobRefused("The reviewed job was not a Republish set: nothing was started.")
        return republish_set(profile, bib_set, requested_by=requested_by)
    if entry.spec.mode is None:
        return run_now(profile, confirmed_mode=confirmed_mode, requested_by=requested_by)
    if confirmed_mode != entry.spec.mode:
        raise JobRefused(
            f"The reviewed job was not a {Mode(entry.spec.mode).label}: nothing was started."
        )
    return run_now(profile, mode=entry.spec.mode, requested_by=requested_by)


def next_page(entry: Entry, bib_set) -> str | None:
    """A catalogue job has its own parameters page, where the wizard hands over."""
    if entry.spec is SYNCHRONIZE:
        return reverse("admin:records_bibset_synchronize", args=[bib_set.pk])
    return None
