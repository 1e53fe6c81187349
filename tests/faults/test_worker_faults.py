"""Real faults on the worker side: a django-q2 worker SIGKILLed while selecting, writing and
uploading, then the job recovered and retried; the job's database connection terminated
mid-job; a job left running by a dead worker; two clusters firing one schedule. Each scenario
ends with the invariant check.

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

import psycopg
import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone
from django_q.models import Schedule

from profiles import scheduling
from profiles.engine import JobAlreadyActive, recover_stale_jobs, request_job, retry_job
from profiles.models import STALE_AFTER, PublishingJob
from profiles.tasks import run_scheduled_profile
from tests.profiles.test_cluster import database_url_of_test_db

from .conftest import pid_owning_port, wait_for
from .invariants import check
from .test_sftp_faults import published_then_changed

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def raw_connection() -> psycopg.Connection:
    return psycopg.connect(**db_connection.get_connection_params())


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
    """What staff (or the next scheduled run) does: the dead worker's job is found stale,
    marked failed, and retried on the cluster."""
    # While it is stale, the profile is blocked with a reason...
    with pytest.raises(JobAlreadyActive):
        request_job(profile, "incremental", enqueue=False)
    # ... until the heartbeat is older than STALE_AFTER (the clock, not a sleep).
    later = timezone.now() + STALE_AFTER + timedelta(minutes=1)
    assert [j.pk for j in recover_stale_jobs(now=later)] == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed" and "stopped responding" in job.failure_message
    retry_job(job)  # enqueued for the cluster
    wait_for(lambda: status_of(job) in PublishingJob.FINISHED_STATUSES, what="the retry")
    job.refresh_from_db()
    return job


def killed_while_uploading(profile, proxy, cluster) -> tuple[PublishingJob, list[str]]:
    """An Incremental on the cluster whose worker is SIGKILLed with its upload frozen after
    the first file (about 40 KB): returns the job, still "running", and its file names."""
    proxy.arm(pause_at=40_000)
    job = request_job(profile, "incremental")
    assert proxy.paused.wait(60)
    assert stage_of(job) == "uploading"
    names = sorted(job.files.values_list("name", flat=True))
    kill_worker_holding(cluster, proxy.client_ports[-1])
    proxy.resume()
    return job, names


@pytest.fixture
def held_table():
    """hold(table): an ACCESS EXCLUSIVE lock on `table` until release() (or the test's end)."""
    holders = []

    def hold(table: str):
        conn = raw_connection()
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # noqa: S608 - test tables
        holders.append(conn)
        return conn

    yield hold
    for conn in holders:
        conn.rollback()
        conn.close()


def test_worker_killed_while_selecting_then_recovered_and_retried(
    profile, sshd, start_cluster, held_table
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    lock = held_table("records_bib")
    job = request_job(profile, "incremental")
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
    job = request_job(profile, "incremental", enqueue=False)
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
    PublishingJob.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - STALE_AFTER - timedelta(minutes=1)
    )
    # The scheduled run finds the job stale, retries it (same files, same names), then runs
    # its own Incremental, which has nothing left to send.
    assert run_scheduled_profile(profile.pk) == "succeeded"
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.attempts == 2, dead.failure_message
    assert sorted(dead.files.values_list("name", flat=True)) == names
    (job,) = PublishingJob.objects.filter(profile=profile, trigger="schedule")
    assert job.records_sent == 0
    check(profile, sshd, [dead, job], expected)


def test_a_job_left_running_by_a_dead_worker_does_not_block_the_schedule(
    profile, sshd, start_cluster, held_table
):
    expected = published_then_changed(profile)
    cluster = start_cluster()
    lock = held_table("records_bib")
    dead = request_job(profile, "incremental")
    port = wait_for(lambda: waiting_backend_port("records_bib"), what="the blocked selection")
    kill_worker_holding(cluster, port)
    lock.rollback()
    cluster.stop()
    profile.scheduling = profile.Scheduling.DAILY
    profile.save()
    # A scheduled run while the heartbeat is fresh is refused with the reason...
    assert run_scheduled_profile(profile.pk).startswith("skipped: ")
    # ... and once it is stale (its heartbeat aged past STALE_AFTER) the run recovers it.
    PublishingJob.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - STALE_AFTER - timedelta(minutes=1)
    )
    assert run_scheduled_profile(profile.pk) == "succeeded"
    dead.refresh_from_db()
    assert dead.status == "failed" and not dead.files.exists()
    (job,) = PublishingJob.objects.filter(profile=profile, trigger="schedule")
    check(profile, sshd, [dead, job], expected)


def test_the_job_s_database_connection_terminated_mid_job(profile, sshd, proxied_connection, proxy):
    from profiles.engine import run_job_now

    expected = published_then_changed(profile)
    job = request_job(profile, "incremental", enqueue=False)
    backend = {}
    errors = []

    def work():
        try:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend["pid"] = cursor.fetchone()[0]
            run_job_now(job, sleep=lambda s: None)
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
    job.refresh_from_db()
    # Nothing was committed, whatever the worker managed to record.
    check(profile, sshd, [job], expected)
    # The lost connection is recorded as the job's failure on a new connection: the profile
    # is not blocked until the job goes stale.
    assert not errors, errors
    assert (job.status, job.failure_category) == ("failed", "internal")
    assert "connection" in job.failure_message
    job.refresh_from_db()
    job = run_job_now(retry_job(job, enqueue=False), sleep=lambda s: None)
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
