"""Real faults on the SFTP side of a job: the server stopped before, during and after the
upload, the connection dropped in the middle of a file, a read-only or full remote folder, a
changed host key, a revoked login. Each scenario ends with the invariant check, before and after
the failed job is retried."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import threading

import pytest
from django.db import connection as db_connection

from profiles import engine
from profiles.models import PublishingJob
from records import actions
from tests.profiles.conftest import edit_bib, make_bib, marc_record, run
from tests.servers import SFTP_USER

from .conftest import wait_for
from .invariants import REMOTE_DIR, check, expectations

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
no_sleep = lambda seconds: None  # noqa: E731 - delivery back-off without waiting
NOTE = "A long note that makes each record about nine kilobytes. " * 150


def bulky_bib():
    """A bib of about 9 KB, so three files of three records are each ~27 KB on the wire."""
    return actions.create_bib(
        marc_record("Bulky title", None, note=NOTE[:9000]), holdings=[("MAIN", "STACKS", "QA1")]
    )


def retry(job) -> PublishingJob:
    return engine.retry(job, in_process=True, sleep=no_sleep)


def published_then_changed(profile, n=9):
    """A Full run of n bulky bibs, then a change to each: what the Incremental must send."""
    bibs = [bulky_bib() for _ in range(n)]
    assert run(profile).status == PublishingJob.Status.SUCCEEDED
    for i, bib in enumerate(bibs):
        edit_bib(bib, f"change {i}")
    profile.records_per_file = 3
    profile.save()
    return expectations(profile, bibs)


def in_thread(job_fn):
    """Run job_fn() in a thread with its own database connection; .join() returns its value."""
    box = {}

    def target():
        try:
            box["value"] = job_fn()
        finally:
            db_connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def join():
        thread.join(timeout=120)
        assert not thread.is_alive(), "the job did not finish"
        return box["value"]

    return join


def test_server_stopped_before_the_upload(profile, sshd):
    expected = published_then_changed(profile)
    sshd.stop()
    job = run(profile)
    assert (job.status, job.failure_category) == ("failed", "network")
    assert not job.files.filter(delivered_at__isnull=False).exists()
    check(profile, sshd, [job], expected)  # nothing sent, everything still pending
    sshd.write_config()
    sshd.start()
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


def test_server_stopped_during_the_upload(profile, sshd, proxied_connection, proxy):
    expected = published_then_changed(profile)
    proxy.arm(pause_at=40_000)  # inside the second of three ~27 KB files
    finished = in_thread(lambda: run(profile))
    assert proxy.paused.wait(60)
    sshd.stop()  # kills the session and the listener while the link is frozen
    proxy.resume()
    job = finished()
    assert (job.status, job.failure_category) == ("failed", "network"), job.failure_message
    delivered = job.files.filter(delivered_at__isnull=False).count()
    assert 1 <= delivered < job.files.count()
    check(profile, sshd, [job], expected)
    sshd.write_config()
    sshd.start()
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


def test_server_stopped_after_the_upload_before_the_commit(profile, sshd, monkeypatch):
    from profiles.engine import pipeline

    expected = published_then_changed(profile)
    real_commit = pipeline._commit

    def stop_then_commit(job, **kwargs):
        sshd.stop()
        return real_commit(job, **kwargs)

    monkeypatch.setattr(pipeline, "_commit", stop_then_commit)
    job = run(profile)
    assert job.status == "succeeded", job.failure_message
    assert not sshd.is_running()
    check(profile, sshd, [job], expected)


def test_a_connection_dropped_in_the_middle_of_a_file_is_resent_whole(
    profile, sshd, proxied_connection, proxy
):
    expected = published_then_changed(profile)
    proxy.arm(cut_at=40_000)
    job = run(profile)
    assert job.status == "succeeded", job.failure_message
    assert job.attempts == 1 and len(proxy.client_ports) >= 2  # reconnected within the job
    check(profile, sshd, [job], expected)


@pytest.fixture
def remote_folder(sshd):
    folder = sshd.local_path(REMOTE_DIR)
    user = pwd.getpwnam(SFTP_USER)
    yield folder
    subprocess.run(["umount", str(folder)], capture_output=True)
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o755)


def test_a_read_only_remote_folder_fails_the_job_and_nothing_is_lost(profile, sshd, remote_folder):
    expected = published_then_changed(profile)
    os.chown(remote_folder, 0, 0)
    job = run(profile)
    assert (job.status, job.failure_category) == ("failed", "remote-rejected")
    assert "Permission denied" in job.failure_message
    check(profile, sshd, [job], expected)
    user = pwd.getpwnam(SFTP_USER)
    os.chown(remote_folder, user.pw_uid, user.pw_gid)
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


def test_a_full_remote_disk_fails_the_job_and_nothing_is_lost(profile, sshd, remote_folder):
    expected = published_then_changed(profile)
    shutil.rmtree(remote_folder)
    remote_folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k,mode=0755", "tmpfs", str(remote_folder)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, f"cannot mount a tmpfs here: {mounted.stderr}"
    user = pwd.getpwnam(SFTP_USER)
    os.chown(remote_folder, user.pw_uid, user.pw_gid)
    job = run(profile)
    assert (job.status, job.failure_category) == ("failed", "remote-rejected"), job.failure_message
    assert job.files.filter(delivered_at__isnull=False).count() < job.files.count()
    # A half-written file may be left on the full disk; the checker reads what is there.
    subprocess.run(["umount", str(remote_folder)], check=True)
    os.chown(remote_folder, user.pw_uid, user.pw_gid)
    check(profile, sshd, [job], expected)
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


def test_a_changed_host_key_is_refused_before_logging_in(profile, sshd, tmp_path):
    expected = published_then_changed(profile)
    saved = tmp_path / "host_key"
    shutil.copy2(sshd.host_key_path, saved)
    shutil.copy2(f"{sshd.host_key_path}.pub", f"{saved}.pub")
    try:
        sshd.stop()
        sshd.host_key_path.unlink()
        os.unlink(f"{sshd.host_key_path}.pub")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(sshd.host_key_path)],
            check=True,
        )
        sshd.start()
        log_before = sshd.log_path.read_text()
        job = run(profile)
        assert (job.status, job.failure_category) == ("failed", "host-key")
        assert "Host key mismatch" in job.failure_message
        # The credentials never reached the impostor.
        new_log = sshd.log_path.read_text()[len(log_before) :]
        assert "password" not in new_log.lower() and "Accepted" not in new_log
        check(profile, sshd, [job], expected)
    finally:
        sshd.stop()
        shutil.copy2(saved, sshd.host_key_path)
        shutil.copy2(f"{saved}.pub", f"{sshd.host_key_path}.pub")
        sshd.start()
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)


@pytest.mark.parametrize("method", ["password", "key"])
def test_a_login_revoked_between_jobs_fails_the_next_job_and_nothing_is_lost(
    method, profile, sftp_connection, sshd
):
    keys_file = sshd.base / "authorized_keys" / sshd.username
    if method == "key":
        sftp_connection.auth_method = sftp_connection.AuthMethod.KEY
        sftp_connection.private_key = sshd.client_key_text
        sftp_connection.password = ""
        sftp_connection.full_clean()
        sftp_connection.save()
    expected = published_then_changed(profile)
    authorized = keys_file.read_text()
    try:
        if method == "password":
            sshd.stop()
            sshd.write_config(password_auth=False)
            sshd.start()
        else:
            keys_file.write_text("")
        job = run(profile)
        assert (job.status, job.failure_category) == ("failed", "auth"), job.failure_message
        check(profile, sshd, [job], expected)
    finally:
        keys_file.write_text(authorized)
        sshd.stop()
        sshd.write_config()
        sshd.start()
    job = retry(job)
    assert job.status == "succeeded", job.failure_message
    check(profile, sshd, [job], expected)
    # The next job has nothing left to send.
    following = run(profile)
    assert following.records_sent == 0 and following.status == "succeeded"
    check(profile, sshd, [following], {})


def test_the_proxy_really_sits_between_publisher_and_server(profile, proxied_connection, proxy):
    make_bib()
    assert run(profile).status == "succeeded"
    assert proxy.client_ports, "the upload did not go through the proxy"
    wait_for(lambda: proxy.sent > 0, what="bytes through the proxy")


def test_while_the_files_upload_the_commit_is_loaded_but_nothing_is_recorded(
    profile, sshd, proxied_connection, proxy
):
    from profiles.models import JobRecord, PublishedRecord

    expected = published_then_changed(profile)
    before = set(PublishedRecord.objects.values_list("bib_id", "job_id", "content_hash"))
    proxy.arm(pause_at=40_000)  # inside the second of three files
    finished = in_thread(lambda: run(profile))
    assert proxy.paused.wait(60)
    job = PublishingJob.objects.get(profile=profile, status="running")
    # The commit's transaction is open and loaded (PostgreSQL works on it meanwhile) ...
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            )
            waiting = [query for (query,) in cursor.fetchall()]
        assert any("ON CONFLICT (profile_id, bib_id)" in query for query in waiting), waiting
    # ... yet nothing of it is visible while a file is not verified.
    assert not JobRecord.objects.filter(job=job).exists()
    assert set(PublishedRecord.objects.values_list("bib_id", "job_id", "content_hash")) == before
    proxy.resume()
    job = finished()
    assert job.status == "succeeded", job.failure_message
    assert JobRecord.objects.filter(job=job).count() == 9
    assert set(PublishedRecord.objects.values_list("job_id", flat=True)) == {job.pk}
    check(profile, sshd, [job], expected)
