"""A real django-q2 cluster (`manage.py qcluster`) fires a profile's schedule and runs the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from profiles import scheduling
from profiles.models import PublishingJob

from .conftest import make_bib, sent_records

pytestmark = [pytest.mark.sshd, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# django-q2 looks at schedules about every 30 s; the job itself takes well under a second.
DEADLINE_S = 120


def database_url_of_test_db() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_real_worker_cluster_runs_a_scheduled_job_to_completion(profile, sshd, publish_dir):
    if connection.vendor != "postgresql":
        pytest.skip("the cluster shares the test database through PostgreSQL")
    bib = make_bib()
    profile.scheduling = profile.Scheduling.DAILY
    profile.save()
    Schedule.objects.filter(name=scheduling.schedule_name(profile)).update(
        next_run=timezone.now() - timedelta(minutes=1)
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url_of_test_db(),
        "PUBLISH_DIR": str(publish_dir),
        "Q_WORKERS": "1",
    }
    cluster = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        cwd=settings.BASE_DIR,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen_alive = False
    try:
        deadline = time.monotonic() + DEADLINE_S
        job = None
        while time.monotonic() < deadline:
            seen_alive = seen_alive or scheduling.cluster_alive()
            job = PublishingJob.objects.filter(profile=profile).first()
            if job is not None and job.is_finished:
                break
            assert cluster.poll() is None, cluster.stderr.read().decode()[-2000:]
            time.sleep(0.5)  # polling a separate process, not timing the code under test
        assert job is not None, "the schedule never fired"
        assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
        assert job.trigger == PublishingJob.Trigger.SCHEDULE and job.kind == "full"
        assert sent_records(sshd).keys() == {str(bib.mms_id)}
        assert seen_alive, "cluster_alive() never saw the running cluster"
        # The schedule moved on to the next slot at the chosen hour.
        assert scheduling.next_run(profile) > timezone.now()
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)
