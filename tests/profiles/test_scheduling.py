"""A profile's django-q2 Schedule follows the profile, at the chosen local hour across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django_q.models import Schedule

from profiles import scheduling
from profiles.models import PublishingProfile

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def profile(settings):
    settings.TIME_ZONE = "America/New_York"
    from ftp.models import SftpConnection

    connection = SftpConnection.objects.create(
        name="OCLC", server="127.0.0.1", username="u", host_key_sha256="SHA256:x"
    )
    return PublishingProfile.objects.create(
        oclc_symbol="ALMAD",
        collection_id="1234567",
        status="active",
        ftp_connection=connection,
        scheduling="daily",
        schedule_hour=6,
    )


def schedules(profile):
    return list(Schedule.objects.filter(name=f"publishing-profile-{profile.pk}"))


def test_saving_a_profile_creates_changes_and_removes_its_schedule_idempotently(profile):
    (schedule,) = schedules(profile)
    assert schedule.func == "profiles.tasks.run_scheduled_profile"
    assert schedule.args == repr(profile.pk) and schedule.schedule_type == Schedule.DAILY
    assert schedule.next_run.astimezone(NEW_YORK).hour == 6
    assert scheduling.next_run(profile) == schedule.next_run

    profile.save()
    profile.save()
    (again,) = schedules(profile)
    assert (again.pk, again.next_run) == (schedule.pk, schedule.next_run)

    profile.scheduling, profile.schedule_weekday, profile.schedule_hour = "weekly", 1, 19
    profile.save()
    (weekly,) = schedules(profile)
    local = weekly.next_run.astimezone(NEW_YORK)
    assert weekly.schedule_type == Schedule.WEEKLY
    assert (local.weekday(), local.hour, local.minute) == (1, 19, 0)

    profile.status = "inactive"
    profile.save()
    assert schedules(profile) == [] and scheduling.next_run(profile) is None
    profile.status = "active"
    profile.save()
    assert len(schedules(profile)) == 1
    profile.scheduling = "none"
    profile.save()
    assert schedules(profile) == []


@pytest.mark.parametrize(
    ("now", "expected_utc_hours"),
    [
        # Spring forward on Sunday 2026-03-08: 06:00 EST is 11:00 UTC, 06:00 EDT is 10:00 UTC.
        (datetime(2026, 3, 6, 12, tzinfo=UTC), [11, 10, 10, 10]),
        # Fall back on Sunday 2026-11-01.
        (datetime(2026, 10, 30, 12, tzinfo=UTC), [10, 11, 11, 11]),
    ],
)
def test_daily_runs_stay_at_the_chosen_local_hour_across_a_dst_change(
    profile, now, expected_utc_hours
):
    (schedule,) = schedules(profile)
    runs = [scheduling.first_run_after(profile, now)]
    for _ in range(3):
        # What django-q2's scheduler does after firing (Q_CLUSTER time_zone is TIME_ZONE).
        runs.append(schedule.calculate_next_run(runs[-1]))
    assert [r.astimezone(NEW_YORK).hour for r in runs] == [6, 6, 6, 6]
    assert [r.astimezone(UTC).hour for r in runs] == expected_utc_hours
    days = [r.astimezone(NEW_YORK).date() for r in runs]
    assert all((b - a).days == 1 for a, b in zip(days, days[1:], strict=False))


def test_a_weekly_schedule_keeps_its_local_hour_over_the_spring_change(profile):
    profile.scheduling, profile.schedule_weekday, profile.schedule_hour = "weekly", 6, 6
    profile.save()
    (schedule,) = schedules(profile)
    first = scheduling.first_run_after(profile, datetime(2026, 3, 2, tzinfo=UTC))
    assert first == datetime(2026, 3, 8, 10, tzinfo=UTC)  # the DST day itself, 06:00 EDT
    second = schedule.calculate_next_run(first)
    assert [d.astimezone(NEW_YORK).strftime("%a %H:%M") for d in (first, second)] == [
        "Sun 06:00",
        "Sun 06:00",
    ]
    assert second.astimezone(NEW_YORK).date().isoformat() == "2026-03-15"


def test_no_cluster_is_reported_when_no_worker_has_a_heartbeat(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "empty-cache"),
        }
    }
    assert scheduling.cluster_alive() is False
