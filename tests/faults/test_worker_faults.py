"""Real faults on the worker side: a django-q2 worker (or `manage.py publish`) SIGKILLed while
selecting, writing and uploading; the dead worker's job found at once (its liveness lock is
free), marked failed "worker stopped" and retried; the job's database connection terminated
mid-job; two clusters firing one schedule. Each scenario ends with the invariant check.

Each stage is reached deterministically, without sleeping: the worker is held at a stage by a
real lock (a table lock the selection must wait for, a frozen SFTP link), the test sees the
stage in the job row, finds the worker process by the connection it holds, and kills it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone
from django_q.models import Schedule

from profiles import scheduling
from profiles.engine import JobAlreadyActive, find_orphans, retry, run_now
from profiles.models import PublishingJob
from profiles.tasks import run_scheduled_profile
from tests.profiles.test_cluster import database_url_of_test_db

from .conftest import pid_owning_port, wait_for
from .invariants import check
from .test_sftp_faults import published_then_changed

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def waiting_backend_port(table_hint: str) -> int | None:
    """The client port of the backend waiting for a lock while running the selection."""
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE %s",
            [f"%{table_hint}%"],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def stage_of(job) -> str:
    return PublishingJob.objects.values_list("stage", flat=True).get(pk=job.pk)


def status_of(job) -> str:
    return PublishingJob.objects.values_list("status", flat=True).get(pk=job.pk)


def kill_worker_holding(cluster, port: int) -> int:
    pid = wait_for(
        lambda: pid_owning_port(port, cluster.processes()), what="the worker owning the socket"
    )
    assert pid != cluster.pid
    os.kill(pid, signal.SIGKILL)
    return pid


def recover_and_retry(job, profile) -> PublishingJob:
    """What the job page (or any request for the profile) does: the dead worker's job is found
    at once, its lock being free, and marked failed "worker stopped"; then staff retry it on
    the cluster."""
    # The database ends the dead process's sessions (and so releases its lock) as soon as it
    # reads the closed socket: milliseconds, polled for here.
    found = wait_for(lambda: find_orphans(profile=profile), timeout=10, what="the orphan")
    assert [j.pk for j in found] == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.failure_category) == ("failed", "worker")
    assert "stopped while" in job.failure_message
    retry(job)  # queued for the cluster
    wait_for(lambda: status_of(job) in PublishingJob.FINISHED_STATUSES, what="the retry")
    job.refresh_from_db()
    return job


def run_now_until_started(profile, **options):
    """Run now, pressed again while the profile is refused (as staff would): the first
    request that is not refused, within 10 seconds."""

    def attempt():
        try:
            return run_now(profile, **options)
        except JobAlreadyActive:
            return None

    return wait_for(attempt, timeout=10, what="a Run now that is not refused", every=0.2)


def run_now_retries_first(profile, dead) -> PublishingJob:
    """Run now on the profile whose job `dead` lost its worker: the orphan is found and retried
    first (same files), then the job asked for runs; returns that job, finished."""
    request = run_now_until_started(profile, confirmed_mode="incremental")
    assert [o.pk for o in request.orphans] == [dead.pk] and request.retry.pk == dead.pk
    new = wait_for(
        lambda: PublishingJob.objects.filter(
            profile=profile, pk__gt=dead.pk, status__in=PublishingJob.FINISHED_STATUSES
        ).first(),
        what="the retry and the job that was asked for",
    )
    dead.refresh_from_db()
    return new


def started_after_kill(job, killed) -> float:
    """Seconds from the kill to the start of the job's second attempt (the retry)."""
    second = job.attempt_history.get(number=2)
    return (second.started_at - killed).total_seconds()


def killed_while_uploading(profile, proxy, cluster) -> tuple[PublishingJob, list[str]]:
    """An Incremental on the cluster whose worker is SIGKILLed with its upload frozen after
    the first file (about 40 KB): returns the job, still "running", and its file names."""
    proxy.arm(pause_at=40_000)
    job = run_now(profile, confirmed_mode="incremental").job
    assert proxy.paused.wait(60)
    assert stage_of(job) == "uploading"
    names = sorted(job.files.values_list("name", flat=True))
    kill_worker_holding(cluster, proxy.client_ports[-1])
    proxy.resume()
    return job, names


def test_worker_killed_while_selecting_then_recovered_and_retried(
    profile, sshd, start_cluster, held_table
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    lock = held_table("records_bib")
    job = run_now(profile).job
    wait_for(lambda: stage_of(job) == "selecting", what="the selecting stage")
    port = wait_for(lambda: waiting_backend_port("records_bib"), what="the blocked selection")
    kill_worker_holding(cluster, port)
    lock.rollback()
    assert status_of(job) == "running"
    job = recover_and_retry(job, profile)
    assert job.status == "succeeded" and job.attempts == 2, job.failure_message
    check(profile, sshd, [job], expected)


def test_worker_killed_while_writing_then_recovered_and_retried(
    profile, sshd, start_cluster, publish_dir, tmp_path
):
    expected = published_then_changed(profile)
    job = run_now(profile).job  # queued; the hooked worker below runs it
    ready = tmp_path / "writing"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url_of_test_db(),
        "PUBLISH_DIR": str(publish_dir),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.hooked_worker", str(job.pk), str(ready)],
        env=env,
        cwd=settings.BASE_DIR,
        stdin=subprocess.PIPE,
    )
    try:
        wait_for(ready.exists, what="the worker inside the writing loop")
        assert stage_of(job) == "writing"
        written = list(publish_dir.rglob("*.mrc"))
        assert written and written[0].stat().st_size > 0  # a file half-written on disk
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    start_cluster()
    job = recover_and_retry(job, profile)
    assert job.status == "succeeded" and job.attempts == 2, job.failure_message
    check(profile, sshd, [job], expected)


def test_worker_killed_while_uploading_then_recovered_and_the_same_files_resent(
    profile, sshd, proxied_connection, proxy, start_cluster
):
    expected = published_then_changed(profile)
    job, names = killed_while_uploading(profile, proxy, start_cluster())
    job = recover_and_retry(job, profile)
    assert job.status == "succeeded", job.failure_message
    assert sorted(job.files.values_list("name", flat=True)) == names
    check(profile, sshd, [job], expected)


def test_worker_killed_while_uploading_then_the_schedule_retries_that_job_before_a_new_one(
    profile, sshd, proxied_connection, proxy, start_cluster
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    dead, names = killed_while_uploading(profile, proxy, cluster)
    cluster.stop()
    assert dead.files.filter(delivered_at__isnull=False).exists()  # some records are out
    profile.refresh_from_db()
    profile.scheduling = profile.Scheduling.DAILY
    profile.publishing_mode = profile.Mode.INCREMENTAL
    profile.save()
    # At once, no waiting for a heartbeat to age: the scheduled run finds the job orphaned,
    # retries it (same files, same names), then runs its own Incremental, which has nothing
    # left to send.
    assert run_scheduled_profile(profile.pk) == "succeeded"
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.attempts == 2, dead.failure_message
    first, second = dead.attempt_history.all()
    assert (first.status, first.failure_category, first.stage) == ("failed", "worker", "uploading")
    assert second.status == "succeeded"
    assert sorted(dead.files.values_list("name", flat=True)) == names
    (job,) = PublishingJob.objects.filter(profile=profile, trigger="schedule")
    assert job.records_sent == 0
    check(profile, sshd, [dead, job], expected)


def test_a_qcluster_worker_killed_mid_upload_the_next_run_now_retries_it_within_seconds(
    profile, sshd, proxied_connection, proxy, start_cluster
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    dead, names = killed_while_uploading(profile, proxy, cluster)
    killed = timezone.now()
    # Staff press Run now on the profile page: the cluster (which replaced its killed worker)
    # retries the orphan first, then runs the Incremental asked for.
    new = run_now_retries_first(profile, dead)
    assert started_after_kill(dead, killed) < 10
    assert dead.status == "succeeded" and sorted(dead.files.values_list("name", flat=True)) == names
    assert new.status == "succeeded" and new.records_sent == 0, new.failure_message
    # Every record once, each eligible one delivered: the invariants.
    check(profile, sshd, [dead, new], expected)


def test_manage_py_publish_killed_mid_upload_the_next_run_now_retries_it_within_seconds(
    profile, sshd, proxied_connection, proxy, publish_dir
):
    expected = published_then_changed(profile)
    proxy.arm(pause_at=40_000)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url_of_test_db(),
        "PUBLISH_DIR": str(publish_dir),
    }
    command = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "publish", str(profile.pk)],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proxy.paused.wait(60)
        dead = PublishingJob.objects.get(profile=profile, trigger="command")
        assert stage_of(dead) == "uploading" and status_of(dead) == "running"
        os.kill(command.pid, signal.SIGKILL)
        command.wait(30)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait(30)
    killed = timezone.now()
    proxy.resume()
    names = sorted(dead.files.values_list("name", flat=True))
    run = run_now_until_started(profile, in_process=True, sleep=lambda s: None)
    assert run.retry.pk == dead.pk and run.retry.status == "succeeded"
    assert started_after_kill(dead, killed) < 10
    assert sorted(dead.files.values_list("name", flat=True)) == names
    assert run.job.status == "succeeded" and run.job.records_sent == 0
    check(profile, sshd, [dead, run.job], expected)


def test_a_job_left_running_by_a_dead_worker_does_not_block_the_schedule(
    profile, sshd, start_cluster, held_table
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    lock = held_table("records_bib")
    dead = run_now(profile).job
    port = wait_for(lambda: waiting_backend_port("records_bib"), what="the blocked selection")
    kill_worker_holding(cluster, port)
    lock.rollback()
    cluster.stop()
    profile.scheduling = profile.Scheduling.DAILY
    profile.save()
    # The scheduled run does not wait for anything to age: the dead job is marked failed
    # (it wrote nothing, so it is not retried) and the run goes ahead.
    assert run_scheduled_profile(profile.pk) == "succeeded"
    dead.refresh_from_db()
    assert (dead.status, dead.failure_category) == ("failed", "worker")
    assert not dead.files.exists()
    (job,) = PublishingJob.objects.filter(profile=profile, trigger="schedule")
    check(profile, sshd, [dead, job], expected)


def test_the_job_s_database_connection_terminated_mid_job(profile, sshd, proxied_connection, proxy):
    expected = published_then_changed(profile)
    backend = {}
    errors = []

    def work():
        try:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend["pid"] = cursor.fetchone()[0]
            run_now(profile, in_process=True, sleep=lambda s: None)
        except Exception as exc:  # noqa: BLE001 - what escapes the engine is the finding
            errors.append(exc)
        finally:
            db_connection.close()

    proxy.arm(pause_at=40_000)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    assert proxy.paused.wait(60)
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend["pid"]])
    proxy.resume()
    thread.join(120)
    assert not thread.is_alive()
    job = PublishingJob.objects.get(profile=profile, kind="incremental")
    # Nothing was committed, whatever the worker managed to record.
    check(profile, sshd, [job], expected)
    # The lost connection is recorded as the job's failure on a new connection (the worker
    # is alive: its liveness lock is on a connection of its own).
    assert not errors, errors
    assert (job.status, job.failure_category) == ("failed", "internal")
    assert "connection" in job.failure_message
    job = retry(job, in_process=True, sleep=lambda s: None)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


@pytest.mark.slow
def test_two_clusters_firing_the_same_schedule_run_exactly_one_job(profile, sshd, start_cluster):
    expected = published_then_changed(profile)
    profile.scheduling = profile.Scheduling.DAILY
    profile.save()
    first, second = start_cluster(), start_cluster()
    wait_for(lambda: scheduling.cluster_alive(), what="the clusters to start")
    Schedule.objects.filter(name=scheduling.schedule_name(profile)).update(
        next_run=timezone.now() - timedelta(minutes=1)
    )
    fired_at = time.monotonic()
    job = wait_for(
        lambda: PublishingJob.objects.filter(
            profile=profile, trigger="schedule", status__in=PublishingJob.FINISHED_STATUSES
        ).first(),
        what="the scheduled job",
    )
    # Each cluster runs its scheduler every 30 s: after 31 s both have looked at the schedule.
    wait_for(lambda: time.monotonic() - fired_at > 31, timeout=40, what="both schedulers", every=1)
    assert first.alive() and second.alive()
    assert PublishingJob.objects.filter(profile=profile, trigger="schedule").count() == 1
    assert job.status == "succeeded", job.failure_message
    assert scheduling.next_run(profile) > timezone.now()
    check(profile, sshd, [job], expected)
