"""Fixtures for the security tests: one user per role, and a small world with one object of
every kind so that every page of every app has something to show (or to refuse)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ROLES, setup_roles
from ftp.models import SftpConnection
from profiles.engine import run_now
from profiles.models import PublishingProfile
from records import actions
from records.models import BibSet, ImportJob, SyncJob
from tests.conftest import PASSWORD
from tests.datasync.conftest import (  # noqa: F401
    account,
    collection,
    filex_root,
    inbox,
    institution,
    marc_record,
    upload,
)
from tests.profiles.conftest import make_bib, make_profile, sftp_connection  # noqa: F401

SFTP_PASSWORD = "Sftp-s3cret-Known-To-The-Test"


@pytest.fixture
def role_users(db, django_user_model):
    """{"Cataloger": user, "Publishing administrator": user, "System administrator": user}"""
    setup_roles()
    users = {}
    for role in ROLES:
        user = django_user_model.objects.create_user(
            username=role.name.lower().replace(" ", "_"), password=PASSWORD, is_staff=True
        )
        user.groups.add(Group.objects.get(name=role.name))
        users[role.name] = user
    return users


@pytest.fixture
def world(transactional_db, publish_dir, upload, collection):  # noqa: F811
    """One object of every model the admin shows, a dry-run job with a file, an OCLC report.

    Transactional: on PostgreSQL the engine selects on a connection of its own, which sees
    committed rows only (a job never sends an empty file, so the job's file needs its record)."""
    bib = make_bib()
    bib_set = BibSet.objects.create(name="A set")
    actions.add_to_set(bib_set, [bib])
    ImportJob.objects.create(original_name="a.mrc", path="/nonexistent/a.mrc")
    SyncJob.objects.create(bib_set=bib_set, value="publish_bib")
    connection = SftpConnection(
        name="OCLC",
        server="127.0.0.1",
        port=2222,
        sub_directory="/xfer/metacoll/in/bib",
        username="almad",
        password=SFTP_PASSWORD,
        host_key_type="ssh-ed25519",
        host_key_sha256="SHA256:" + "A" * 43,
    )
    connection.full_clean()
    connection.save()
    profile = PublishingProfile(
        oclc_symbol="ALMAD",
        collection_id=collection.collection_id,
        publishing_mode="full",
        status="active",
        scheduling="daily",
        ftp_connection=connection,
    )
    profile.full_clean()
    profile.save()
    job = run_now(profile, mode="full", dry_run=True, in_process=True).job
    assert job.status == "succeeded" and job.files.exists(), job.failure_message
    incoming = upload(
        f"{collection.collection_id}.ALMAD.test.mrc", [marc_record("991", "(OCoLC)12345")]
    )
    # The WorldCat Metadata API: a WSKey on the OCLC side, the profile's section, a run.
    from datasync.models import ApiKey
    from profiles.models import ReconciliationRun, WorldCatApi

    key = ApiKey(institution=collection.institution, name="Alma")
    key.set_secret("wskey-secret-of-the-world")
    key.save()
    WorldCatApi.objects.create(
        profile=profile,
        base_url="http://127.0.0.1:9/oclc/worldcat",
        token_url="http://127.0.0.1:9/oclc/oauth/token",
        wskey=key.client_id,
        secret="wskey-secret-of-the-world",
    )
    reconciliation = ReconciliationRun.objects.create(profile=profile, status="succeeded")
    return {
        "bib": bib,
        "set": bib_set,
        "profile": profile,
        "job": job,
        "incoming": incoming,
        "reconciliation": reconciliation,
    }
