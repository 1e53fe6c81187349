"""After real work with known secrets, no secret is anywhere in clear text.

Real publishes through the sshd fixture (one with a password, one with an encrypted key and its
passphrase, one with a wrong password, one against a wrong pinned host key), run as django-q2
tasks so their results are stored as the cluster stores them; Test connection on each; an
unexpected error in the connection form with DEBUG off (the 500 page and the mail to ADMINS).
Every logger is captured at DEBUG, paramiko's included. Then every log record, job row, job file
on disk, outcomes CSV, audit entry, admin history entry, django-q2 task row, every page of every
app and the raw ftp_sftpconnection columns are scanned. The scanner is shown to work by planting
the secret once. Finally `rotate_secrets` with two keys.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import _sync, async_task

from audit.models import AuditEntry
from ftp.admin import SftpConnectionAdmin
from ftp.fields import SecretUnreadable
from ftp.models import SftpConnection
from profiles.models import PublishingJob
from tests.profiles.conftest import REMOTE_DIR, make_bib

from .conftest import SFTP_PASSWORD as WORLD_PASSWORD
from .secret_scan import capture_all_logs, files_under, raw_table, rows_of, scan
from .test_access import classify, concrete, patterns

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]

WRONG_PASSWORD = "Wr0ng-but-still-secret-31337"
PASSPHRASE = "Key-passphrase-known-to-the-test-58"
TYPED_PASSWORD = "Typed-into-a-failing-form-97"


def encrypted_key(sshd, tmp_path) -> str:
    """The sshd's authorised client key, encrypted with PASSPHRASE (same key, so it logs in)."""
    path = tmp_path / "client_key_encrypted"
    path.write_text(sshd.client_key_text)
    path.chmod(0o600)
    subprocess.run(
        ["ssh-keygen", "-q", "-p", "-P", "", "-N", PASSPHRASE, "-f", str(path)], check=True
    )
    return path.read_text()


def connection(sshd, name: str, **fields) -> SftpConnection:
    values = {
        "name": name,
        "server": sshd.host,
        "port": sshd.port,
        "sub_directory": REMOTE_DIR,
        "username": sshd.username,
        "password": sshd.password,
        "host_key_type": "ssh-ed25519",
        "host_key_sha256": sshd.host_key_sha256(),
        "min_files": 0,
        **fields,
    }
    conn = SftpConnection(**values)
    conn.full_clean()
    conn.save()
    return conn


def key_connection(sshd, key_text: str) -> SftpConnection:
    return connection(
        sshd,
        "With key",
        auth_method="key",
        password="",
        private_key=key_text,
        passphrase=PASSPHRASE,
    )


def run_like_the_cluster(func: str, *args) -> None:
    """Queue a task on the ORM broker, then pass the package through django-q2's own worker and
    monitor in this process (what its sync mode does, except that a failure is stored as the
    cluster stores it instead of being raised)."""
    broker = get_broker()
    async_task(func, *args)
    for ack_id, pack in broker.dequeue():
        _sync(pack)
        broker.acknowledge(ack_id)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def every_page(client, world) -> list[tuple[str, bytes]]:
    """Every admin changelist and change view, and every custom page, from the URL resolver."""
    pages = []
    for route, name in patterns():
        kind = classify(route, name)
        if kind is None:
            continue
        url, missing = concrete(route, name, kind[2], world)
        if missing or kind[1] != "view":
            continue
        response = client.get(url, follow=True)
        pages.append((f"page {url}", body(response)))
    return pages


def test_no_secret_is_in_clear_text_anywhere_after_real_publishes_and_errors(
    sshd,
    world,
    role_users,
    make_profile,
    settings,
    tmp_path,
    publish_dir,
    monkeypatch,
):
    key_text = encrypted_key(sshd, tmp_path)
    key_line = key_text.splitlines()[2]  # a line of the encrypted key's body
    secrets = [sshd.password, WRONG_PASSWORD, PASSPHRASE, key_line, TYPED_PASSWORD]
    secrets.append(WORLD_PASSWORD)
    settings.ADMINS = [("Operations", "ops@example.org")]
    admin = role_users["System administrator"]
    admin.is_superuser = True  # sees every page, django-q2's included
    admin.save()
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    extra = []

    with capture_all_logs() as logs:
        connections = {
            "password": connection(sshd, "With password"),
            "key": key_connection(sshd, key_text),
            "wrong password": connection(sshd, "Wrong password", password=WRONG_PASSWORD),
            "wrong host key": connection(
                sshd, "Wrong host key", host_key_sha256="SHA256:" + "B" * 43
            ),
        }
        bibs = [make_bib() for _ in range(3)]
        jobs = {}
        for label, conn in connections.items():
            profile = make_profile(conn, name=f"Profile {label}", collection_id="7654321")
            job = PublishingJob.objects.create(profile=profile, kind="full")
            run_like_the_cluster("profiles.tasks.run_job", job.pk)
            job.refresh_from_db()
            jobs[label] = job
        assert jobs["password"].status == "succeeded", jobs["password"].failure_message
        assert jobs["key"].status == "succeeded", jobs["key"].failure_message
        assert jobs["wrong password"].failure_category == "auth"
        assert jobs["wrong host key"].status == "failed"
        delivered = list(sshd.local_path(REMOTE_DIR).iterdir())
        assert len(delivered) == 2 and len(bibs) == 3  # the two good jobs, one file each

        for conn in connections.values():
            response = client.post(f"/admin/ftp/sftpconnection/{conn.pk}/test/")
            assert response.status_code == 200
            extra.append((f"Test connection page {conn.name}", response.content))

        # An unexpected error while a password is being typed in, with DEBUG off.
        settings.DEBUG = False

        def broken_save(*args, **kwargs):
            raise RuntimeError("the disk is on fire")

        monkeypatch.setattr(SftpConnectionAdmin, "save_model", broken_save)
        conn = connections["password"]
        form = {
            "name": conn.name,
            "server": conn.server,
            "port": conn.port,
            "sub_directory": conn.sub_directory,
            "is_full_path": "on",
            "min_files": 0,
            "size_type": "MB",
            "ftp_server_type": "default",
            "server_secured": "on",
            "auth_method": "password",
            "username": conn.username,
            "password": TYPED_PASSWORD,
        }
        response = client.post(f"/admin/ftp/sftpconnection/{conn.pk}/change/", form)
        assert response.status_code == 500
        extra.append(("500 page", response.content))
        assert len(mail.outbox) == 1, "the error is mailed to ADMINS"
        monkeypatch.undo()

    for message in mail.outbox:
        extra.append((f"mail {message.subject}", message.message().as_bytes()))
    assert any("the disk is on fire" in r.getMessage() or r.exc_info for r in logs.records)
    assert any(r.name.startswith("paramiko") and r.levelno == 10 for r in logs.records), (
        "paramiko's DEBUG records were captured"
    )

    def haystacks():
        yield from logs.texts()
        yield from extra
        yield from rows_of(PublishingJob.objects.all(), "PublishingJob")
        yield from files_under(publish_dir, "job file")
        yield from files_under(sshd.root, "delivered file")
        for job in PublishingJob.objects.all():
            csv = client.get(f"/publishing/jobs/{job.pk}/outcomes.csv")
            yield f"outcomes CSV of job {job.pk}", body(csv)
        yield from rows_of(AuditEntry.objects.all(), "AuditEntry")
        yield from rows_of(LogEntry.objects.all(), "admin LogEntry")
        yield from rows_of(Task.objects.all(), "django-q2 Task")
        yield from rows_of(OrmQ.objects.all(), "django-q2 queue")
        yield from rows_of(Schedule.objects.all(), "django-q2 Schedule")
        yield from every_page(client, world)
        yield from raw_table(SftpConnection._meta.db_table)

    places = list(haystacks())
    assert Task.objects.count() == 4 and Task.objects.filter(success=False).count() == 2
    assert sum(p.startswith("page ") for p, _ in places) > 30
    findings = scan(places, secrets)
    assert not findings, [(f.place, f"secret #{f.secret_index}") for f in findings]

    # The scan finds a secret when there is one: plant each once, in two kinds of place.
    for i, secret in enumerate(secrets):
        planted = AuditEntry.objects.create(action="test.planted", message=f"x {secret} y")
        found = scan(rows_of(AuditEntry.objects.all(), "AuditEntry"), secrets)
        assert [(f.place, f.secret_index) for f in found] == [(f"AuditEntry #{planted.pk}", i)]
        planted.delete()
    assert scan([("log", f"login with password={WRONG_PASSWORD!r}")], secrets)
    assert scan([("raw", repr({"passphrase": PASSPHRASE}))], secrets)


def test_rotate_secrets_with_two_keys_re_encrypts_every_secret_with_the_new_one(
    sshd, settings, tmp_path, db
):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    key_text = encrypted_key(sshd, tmp_path)
    by_password = connection(sshd, "With password")
    by_key = key_connection(sshd, key_text)
    before = [text for _, text in raw_table(SftpConnection._meta.db_table)]

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = [text for _, text in raw_table(SftpConnection._meta.db_table)]
    assert len(after) == len(before) == 2
    for old_row, new_row in zip(before, after, strict=True):
        assert old_row != new_row, "every row with a secret was re-encrypted"

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key removed
    by_password = SftpConnection.objects.get(pk=by_password.pk)
    by_key = SftpConnection.objects.get(pk=by_key.pk)
    assert by_password.password == sshd.password
    assert (by_key.private_key, by_key.passphrase) == (key_text, PASSPHRASE)
    secrets = [sshd.password, PASSPHRASE, key_text.splitlines()[2]]
    assert not scan(raw_table(SftpConnection._meta.db_table), secrets)

    settings.FIELD_ENCRYPTION_KEYS = [old_key]  # the old key alone reads nothing any more
    with pytest.raises(SecretUnreadable):
        SftpConnection.objects.get(pk=by_password.pk).password  # noqa: B018
    assert AuditEntry.objects.filter(action="ftp.secrets.rotated").exists()
