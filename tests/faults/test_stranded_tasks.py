"""A worker cluster killed with a queued task in hand (taken off the shared queue, waiting in
its memory for a free worker) gives it back at once: the other cluster runs it within seconds,
judged by the lock the dead cluster held on it (jobs/broker.py), not after django-q2's `retry`
hours. The job the killed cluster was running is found orphaned and retried first, as always."""

from __future__ import annotations

import os
import signal

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from ftp.models import SftpConnection
from jobs.broker import free_stranded
from profiles.engine import run_now
from profiles.models import PublishingJob
from tests.profiles.conftest import edit_bib, run

from .conftest import wait_for
from .invariants import REMOTE_DIR, check, expectations
from .test_sftp_faults import bulky_bib
from .test_two_clusters import remote_folder
from .test_worker_faults import run_now_retries_first, stage_of, status_of

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def task_of(job) -> OrmQ | None:
    return next((t for t in OrmQ.objects.all() if t.name() == f"publishing-job-{job.pk}"), None)


def taken(job) -> bool:
    """The job's task is marked taken by a cluster (off the queue, not yet done)."""
    task = task_of(job)
    return task is not None and task.lock > timezone.now()


def polling(cluster) -> bool:
    """The cluster's pusher has opened the session it holds its tasks' locks on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(%s)",
            [[f"alma task queue {pid}" for pid in cluster.processes()]],
        )
        return cursor.fetchone()[0] > 0


def finished(job) -> PublishingJob | None:
    return PublishingJob.objects.filter(
        pk=job.pk, status__in=PublishingJob.FINISHED_STATUSES
    ).first()


def test_a_cluster_killed_with_a_queued_task_in_hand_the_other_runs_it_within_seconds(
    make_profile, sftp_connection, sshd, proxy, start_cluster
):
    frozen = SftpConnection.objects.get(pk=sftp_connection.pk)
    frozen.pk, frozen.name, frozen.port = None, "OCLC through a link that freezes", proxy.port
    frozen.save()
    busy, waiting = (
        make_profile(
            link,
            name=f"Library {i}",
            collection_id=f"765432{i}",
            sub_directory=remote_folder(sshd, f"p{i}"),
            records_per_file=3,
        )
        for i, link in enumerate([frozen, sftp_connection])
    )
    bibs = [bulky_bib() for _ in range(9)]
    for profile in (busy, waiting):  # each has published the catalogue once: Incremental now
        assert run(profile).status == "succeeded"
    for i, bib in enumerate(bibs):
        edit_bib(bib, f"change {i}")
    expected = {p.pk: expectations(p, bibs) for p in (busy, waiting)}

    # The first cluster (one worker) is in the middle of an upload for one profile, and has
    # taken the other profile's job off the queue, to run when its worker is free.
    holder = start_cluster()
    proxy.arm(pause_at=40_000)
    dead = run_now(busy, confirmed_mode="incremental").job
    assert proxy.paused.wait(60)
    assert stage_of(dead) == "uploading"
    queued = run_now(waiting, confirmed_mode="incremental").job
    wait_for(lambda: taken(queued), what="the first cluster to take the second job's task")
    # A second cluster starts, idle; the task stays with the live cluster that holds it.
    other = start_cluster()
    wait_for(lambda: polling(other), what="the second cluster to look at the queue")
    assert free_stranded() == 0
    assert status_of(queued) == "queued"

    os.killpg(holder.pid, signal.SIGKILL)  # the whole cluster: sentinel, pusher, worker
    holder.process.wait(30)
    killed_at = timezone.now()
    proxy.resume()

    # Nobody asks for anything: the other cluster finds the task its dead holder had taken
    # and runs the job.
    done = wait_for(lambda: finished(queued), what="the queued job, on the other cluster")
    assert done.status == "succeeded", done.failure_message
    (attempt,) = done.attempt_history.all()
    assert (attempt.started_at - killed_at).total_seconds() < 10
    assert int(attempt.worker.rsplit(":", 1)[1]) in other.processes()

    # The job the killed cluster was running: found orphaned, retried first by the next Run
    # now (same files), then the Incremental asked for, which has nothing left to send.
    new = run_now_retries_first(busy, dead)
    assert dead.status == "succeeded" and new.status == "succeeded", new.failure_message
    assert new.records_sent == 0
    # Each task ran once where it mattered: no job ran twice, no follow-up was made twice.
    assert PublishingJob.objects.filter(profile=busy, pk__gt=dead.pk).count() == 1
    assert dead.attempts == 2 and done.attempts == 1
    # Nothing lost, nothing sent twice, for both profiles; the queue is empty.
    check(busy, sshd, [dead, new], expected[busy.pk], remote_dir=f"{REMOTE_DIR}/p0")
    check(waiting, sshd, [done], expected[waiting.pk], remote_dir=f"{REMOTE_DIR}/p1")
    wait_for(lambda: not OrmQ.objects.exists(), what="every task acknowledged")
