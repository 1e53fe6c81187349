"""Two worker clusters on one PostgreSQL, as two machines would run them (README "Scaling
workers"): several profiles' schedules fire at once, the jobs spread over both clusters and never
run two at once for one profile; one cluster is SIGKILLed (its whole process group) in the middle
of an upload; the other carries on, the orphaned job is found and retried, and every profile's
records arrive exactly once."""

from __future__ import annotations

import os
import pwd
import signal
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from ftp.models import SftpConnection
from profiles import scheduling
from profiles.models import JobAttempt, PublishingJob
from tests.profiles.conftest import REMOTE_DIR, edit_bib, run

from .conftest import wait_for
from .invariants import check, expectations
from .test_sftp_faults import bulky_bib
from .test_worker_faults import run_now_retries_first

pytestmark = [
    pytest.mark.faults,
    pytest.mark.sshd,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
PROFILES = 5  # the first one's link freezes mid-upload: the job its cluster is killed in
SCHEDULER_S = 90  # django-q2's scheduler looks at schedules about every 30 s


def remote_folder(sshd, name: str) -> str:
    """A folder of its own for a profile on the SFTP server, writable by the SFTP user; the
    name is the profile's sub-directory."""
    user = pwd.getpwnam(sshd.username)
    path = sshd.local_path(f"{REMOTE_DIR}/{name}")
    path.mkdir()
    os.chown(path, user.pw_uid, user.pw_gid)
    return name


def fire(*profiles) -> None:
    Schedule.objects.filter(name__in=[scheduling.schedule_name(p) for p in profiles]).update(
        next_run=timezone.now() - timedelta(minutes=1)
    )


def finished_scheduled_job(profile) -> PublishingJob | None:
    return PublishingJob.objects.filter(
        profile=profile, trigger="schedule", status__in=PublishingJob.FINISHED_STATUSES
    ).first()


def cluster_of(attempt: JobAttempt, clusters: dict[str, set[int]]) -> str:
    pid = int(attempt.worker.rsplit(":", 1)[1])
    (name,) = [name for name, pids in clusters.items() if pid in pids]
    return name


def test_two_clusters_share_the_profiles_jobs_and_one_killed_mid_upload_loses_nothing(
    make_profile, sftp_connection, sshd, proxy, start_cluster
):
    frozen = SftpConnection.objects.get(pk=sftp_connection.pk)
    frozen.pk, frozen.name, frozen.port = None, "OCLC through a link that freezes", proxy.port
    frozen.save()
    profiles = [
        make_profile(
            frozen if i == 0 else sftp_connection,
            name=f"Library {i}",
            collection_id=f"765432{i}",
            sub_directory=remote_folder(sshd, f"p{i}"),
            records_per_file=3,
        )
        for i in range(PROFILES)
    ]
    victim, others = profiles[0], profiles[1:]
    bibs = [bulky_bib() for _ in range(9)]
    for profile in profiles:  # each has published the catalogue once, and is Incremental now
        assert run(profile).status == "succeeded"
    for i, bib in enumerate(bibs):
        edit_bib(bib, f"change {i}")
    expected = {p.pk: expectations(p, bibs) for p in profiles}
    before = PublishingJob.objects.order_by("pk").last().pk
    for profile in profiles:
        profile.scheduling = profile.Scheduling.DAILY
        profile.save()

    first, second = start_cluster(), start_cluster()
    wait_for(scheduling.cluster_alive, what="the clusters to start")
    pids = {"first": set(first.processes()), "second": set(second.processes())}
    # Every profile but one at once; the last once those have run, so the cluster that takes
    # it holds no other profile's task when it is killed (a killed cluster's unstarted tasks:
    # test_stranded_tasks.py).
    fire(*others)
    wait_for(
        lambda: all(finished_scheduled_job(p) for p in others),
        timeout=SCHEDULER_S,
        what="the profiles' scheduled jobs",
        every=0.5,
    )
    proxy.arm(pause_at=40_000)
    fire(victim)
    assert proxy.paused.wait(SCHEDULER_S)
    dead = PublishingJob.objects.get(profile=victim, trigger="schedule")
    assert PublishingJob.objects.values_list("stage", flat=True).get(pk=dead.pk) == "uploading"
    pids = {"first": set(first.processes()), "second": set(second.processes())}
    holder = cluster_of(dead.attempt_history.get(), pids)
    killed, survivor = (first, second) if holder == "first" else (second, first)
    os.killpg(killed.pid, signal.SIGKILL)  # the whole cluster: sentinel, pusher, workers
    killed.process.wait(30)
    killed_at = timezone.now()
    proxy.resume()

    # The other cluster carries on: Run now on the profile finds the orphan within seconds, the
    # surviving cluster retries it first (same files), then runs the Incremental asked for.
    assert survivor.alive()
    new = run_now_retries_first(victim, dead)
    assert dead.status == "succeeded" and new.status == "succeeded", new.failure_message
    assert (dead.attempt_history.get(number=2).started_at - killed_at).total_seconds() < 10
    assert new.records_sent == 0  # the retry sent everything

    # (The killed cluster's processes were listed before the kill.)
    pids["first" if survivor is first else "second"] |= set(survivor.processes())
    attempts = list(JobAttempt.objects.filter(job__pk__gt=before))
    # Jobs spread over both clusters.
    assert {cluster_of(a, pids) for a in attempts} == {"first", "second"}
    # Never two attempts of one profile at once.
    for profile in profiles:
        spans = sorted(
            (a.started_at, a.finished_at)
            for a in JobAttempt.objects.filter(job__profile=profile).order_by("started_at")
        )
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end is not None and end <= start, f"{profile}: attempts overlap"
    # Nothing lost, nothing sent twice, for every profile.
    for i, profile in enumerate(profiles):
        jobs = list(profile.jobs.filter(pk__gt=before))
        check(profile, sshd, jobs, expected[profile.pk], remote_dir=f"{REMOTE_DIR}/p{i}")
