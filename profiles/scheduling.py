"""A profile's django-q2 Schedule, kept in step with the profile; cluster liveness for the UI.

One Schedule per profile, found by name ("publishing-profile-<id>"), created, changed or removed
by `sync_schedule` whenever the profile is saved (PublishingProfile.save calls it). Never at
start-up: schedules created from AppConfig.ready() multiply (django-q2#102).

Times are the institution's TIME_ZONE: the first run is computed here at the chosen local hour,
and django-q2 (Q_CLUSTER["time_zone"]) keeps later DAILY/WEEKLY runs at that local hour across
daylight-saving changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from .models import PublishingProfile

TASK = "profiles.tasks.run_scheduled_profile"
# A cluster whose last heartbeat is older than this is reported as not running.
CLUSTER_HEARTBEAT_MAX_AGE = timedelta(minutes=2)


def schedule_name(profile: PublishingProfile) -> str:
    return f"publishing-profile-{profile.pk}"


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def first_run_after(profile: PublishingProfile, after: datetime) -> datetime | None:
    """The first slot of the profile's schedule strictly after `after`, in UTC; None if none."""
    if not profile.is_scheduled:
        return None
    zone = _zone()
    local = after.astimezone(zone)
    day = local.date()
    for offset in range(0, 8):
        candidate_day = day + timedelta(days=offset)
        if (
            profile.scheduling == profile.Scheduling.WEEKLY
            and candidate_day.weekday() != profile.schedule_weekday
        ):
            continue
        # fold=0 and ZoneInfo's normalisation: an hour that does not exist on a spring-forward
        # day (02:00 in New York) resolves to the same wall time shifted by the gap (03:00).
        naive = datetime(
            candidate_day.year, candidate_day.month, candidate_day.day, profile.schedule_hour
        )
        candidate = naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
        if candidate > after:
            return candidate
    return None  # pragma: no cover - eight days always hold a slot


def sync_schedule(profile: PublishingProfile, *, now: datetime | None = None):
    """Create, change or remove the profile's Schedule so it matches the profile. Idempotent.

    Returns the Schedule, or None when the profile is Inactive or Not scheduled.
    """
    from django_q.models import Schedule

    name = schedule_name(profile)
    if not profile.is_scheduled:
        Schedule.objects.filter(name=name).delete()
        return None
    now = now or timezone.now()
    schedule_type = (
        Schedule.WEEKLY if profile.scheduling == profile.Scheduling.WEEKLY else Schedule.DAILY
    )
    wanted = {
        "func": TASK,
        "args": repr(profile.pk),
        "schedule_type": schedule_type,
        "repeats": -1,
    }
    existing = Schedule.objects.filter(name=name).first()
    if existing is not None:
        same_slot = (
            existing.schedule_type == schedule_type
            and existing.next_run is not None
            and existing.next_run > now
            and _matches_slot(profile, existing.next_run)
        )
        changed = [f for f, v in wanted.items() if getattr(existing, f) != v]
        if same_slot and not changed:
            return existing
        for field, value in wanted.items():
            setattr(existing, field, value)
        if not same_slot:
            existing.next_run = first_run_after(profile, now)
        existing.save()
        return existing
    return Schedule.objects.create(name=name, next_run=first_run_after(profile, now), **wanted)


def _matches_slot(profile: PublishingProfile, when: datetime) -> bool:
    local = when.astimezone(_zone())
    if profile.scheduling == profile.Scheduling.WEEKLY and (
        local.weekday() != profile.schedule_weekday
    ):
        return False
    return local.hour == profile.schedule_hour and local.minute == 0


def next_run(profile: PublishingProfile) -> datetime | None:
    """When the profile's schedule fires next (aware datetime), or None when not scheduled."""
    from django_q.models import Schedule

    if not profile.pk or not profile.is_scheduled:
        return None
    return (
        Schedule.objects.filter(name=schedule_name(profile))
        .values_list("next_run", flat=True)
        .first()
    )


def cluster_alive(*, now: datetime | None = None) -> bool:
    """Whether a django-q2 worker cluster has reported a heartbeat recently.

    Clusters publish their status to the cache (a file cache shared by every process), which
    is what this reads. No cluster means schedules do not fire and queued jobs wait.
    """
    from django_q.brokers import get_broker
    from django_q.status import Stat

    now = now or timezone.now()
    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:  # noqa: BLE001 - a broken cache means "cannot tell": report not alive
        return False
    for stat in stats:
        stamp = getattr(stat, "timestamp", None)
        if stamp is None:
            continue
        if timezone.is_naive(stamp):
            stamp = timezone.make_aware(stamp, ZoneInfo("UTC"))
        if now - stamp <= CLUSTER_HEARTBEAT_MAX_AGE and stat.status != "Stopped":
            return True
    return False
