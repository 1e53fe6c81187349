"""Faults on the publishing machine itself: the local disk filling up while a job writes its
files, and the clock crossing daylight-saving changes between scheduled runs."""

from __future__ import annotations

import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler

from profiles import scheduling
from profiles.engine import retry
from profiles.tasks import run_scheduled_profile
from tests.profiles.conftest import run

from .invariants import check
from .test_sftp_faults import published_then_changed

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def small_disk(settings, tmp_path):
    """PUBLISH_DIR on a real 48 KB tmpfs; resize(kb) grows it."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr}"

    def resize(kb: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={kb}k", str(mount)], check=True)

    settings.PUBLISH_DIR = mount
    yield resize
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_local_disk_while_writing_fails_the_job_and_a_retry_writes_afresh(
    profile, sshd, small_disk
):
    small_disk(4096)
    expected = published_then_changed(profile)  # the Full run needs room
    subprocess.run(["find", str(profile.jobs.first().files.first().local_path), "-delete"])
    small_disk(48)
    job = run(profile, "incremental")
    assert (job.status, job.failure_category) == ("failed", "internal")
    assert "No space left on device" in job.failure_message
    assert job.written_at is None and not job.files.filter(delivered_at__isnull=False).exists()
    check(profile, sshd, [job], expected)
    small_disk(4096)
    job = retry(job, in_process=True, sleep=lambda s: None)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


@pytest.mark.parametrize(
    ("hour", "missed_slot"),
    [
        # 02:00 does not exist on the spring-forward day; 01:00 happens twice on fall-back day.
        (2, datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK)),
        (1, datetime(2026, 11, 1, 1, 0, tzinfo=NEW_YORK, fold=0)),
        (6, datetime(2026, 3, 7, 6, 0, tzinfo=NEW_YORK)),
    ],
)
def test_django_q2_s_scheduler_fires_once_across_dst_and_keeps_the_local_hour(
    profile, sshd, hour, missed_slot
):
    expected = published_then_changed(profile, n=3)
    profile.scheduling, profile.schedule_hour = profile.Scheduling.DAILY, hour
    profile.save()
    # The machine was off since a slot just before or on a daylight-saving change.
    Schedule.objects.filter(name=scheduling.schedule_name(profile)).update(next_run=missed_slot)
    OrmQ.objects.all().delete()
    scheduler(broker=get_broker())
    scheduler(broker=get_broker())  # a second look finds nothing due
    (task,) = OrmQ.objects.all()
    assert task.func() == scheduling.TASK and task.task["args"] == (profile.pk,)
    assert run_scheduled_profile(*task.task["args"]) == "succeeded"
    # The next run is back on the chosen local hour, even after a shifted slot.
    following = scheduling.next_run(profile).astimezone(NEW_YORK)
    assert following > timezone.now() and (following.hour, following.minute) == (hour, 0)
    (job,) = profile.jobs.filter(trigger="schedule")
    check(profile, sshd, [job], expected)
