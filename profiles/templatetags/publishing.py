"""`{% publishing_history bib as history %}`: a bib's publishing history for the record page."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

from ..engine import dry_run
from ..engine.api_delivery import api_number, incremental_by_api
from ..manage.preview import next_job_text
from ..models import JobFile, JobRecord, PublishedRecord, PublishingProfile
from ..xref import latest_in_another_collection, reported_files

register = template.Library()
RECENT_OUTCOMES = 5
# A record's outcome, as the leader's record status it is sent with (the API's set or unset).
STATUS_OF = {"new": "n", "changed": "c", "deleted": "d"}


@register.simple_tag
def publishing_history(bib) -> dict:
    """Per profile, the ledger row (last sent: when, job, file, status), plus the last few job
    outcomes for the bib. Three queries whatever the number of profiles or jobs, and one more
    for the profiles that can change its holding now when the page offers that."""
    ledger = list(
        PublishedRecord.objects.filter(bib=bib)
        .select_related("profile", "job")
        .order_by("profile__name")
    )
    outcomes = list(
        JobRecord.objects.filter(bib_id=bib.pk)
        .select_related("job", "job__profile")
        .order_by("-job_id")[:RECENT_OUTCOMES]
    )
    wanted = {(o.job_id, o.file_sequence) for o in outcomes if o.file_sequence}
    names = {}
    if wanted:
        names = {
            (f.job_id, f.sequence): f.name
            for f in JobFile.objects.filter(job_id__in={j for j, _ in wanted})
        }
    for outcome in outcomes:
        outcome.file_name = names.get((outcome.job_id, outcome.file_sequence), "")
    # Profiles with a WorldCat Metadata API can set or unset this record's holding now: a lazy
    # queryset, read only when the page shows those buttons (to people who may use them).
    api_profiles = PublishingProfile.objects.filter(worldcat_api__isnull=False).order_by("name")
    return {"ledger": ledger, "outcomes": outcomes, "api_profiles": api_profiles}


@register.simple_tag
def next_jobs(bib) -> list[dict]:
    """Per profile, what its next job will do with the bib, by the job's own selection and
    decision (profiles.engine.dry_run for this one record): one query per profile."""
    out = []
    for profile in PublishingProfile.objects.order_by("name"):
        decision = dry_run(profile, bibs=[bib.pk], examples=0).decisions.get(bib.pk)
        incremental = profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL
        out.append(
            {
                "profile": profile,
                "mode": profile.get_publishing_mode_display(),
                "active": profile.status == PublishingProfile.Status.ACTIVE,
                "text": next_job_text(
                    decision,
                    incremental=incremental,
                    api_number=_api_number(profile, bib, decision) if incremental else "",
                ),
            }
        )
    return out


def _api_number(profile, bib, decision) -> str:
    """The OCLC number an API-mode Incremental calls for the bib ("" when it goes in a file)."""
    if decision is None or decision[0] not in STATUS_OF or not incremental_by_api(profile):
        return ""
    status = STATUS_OF[decision[0]]
    sent = ""
    if status == "d":
        sent = (
            PublishedRecord.objects.filter(profile=profile, bib_id=bib.pk)
            .values_list("oclc_numbers", flat=True)
            .first()
        )
    return api_number(status, bib.oclc_numbers or "", sent)


@register.simple_tag
def files_in_another_collection(profile, job=None) -> list:
    """Files OCLC processed under a collection other than the one they were sent to: a job's,
    or for a profile, those of the newest job OCLC's fetched reports speak of."""
    if profile is None or profile.pk is None:
        return []
    if job is not None:
        return [f for f in reported_files(profile, job_id=job.pk) if f.elsewhere]
    return latest_in_another_collection(profile)


@register.filter
def utc_stamp(stamp: str) -> datetime | None:
    """A file name's run part ("20261127T031500", UTC) as a time the page shows in local time."""
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None
