"""The librarian's home page (the admin index): each profile with its last and next run, what
the next job would send, reconciliation; failed jobs to resend; the worker cluster; Django's
plumbing in a section of its own below."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from profiles.engine import dry_run
from profiles.models import (
    JobFile,
    PublishedRecord,
    PublishingJob,
    PublishingProfile,
    ReconciliationRun,
)
from records import actions
from records.models import ExportTag
from tests.conftest import PASSWORD

from .conftest import make_bib

pytestmark = pytest.mark.django_db


def test_the_home_page_shows_each_profile_at_a_glance_and_the_plumbing_below(
    client, superuser, make_profile, connection_row, tmp_path
):
    profile = make_profile(
        connection_row,
        publishing_mode=PublishingProfile.Mode.INCREMENTAL,
        scheduling=PublishingProfile.Scheduling.DAILY,
        schedule_hour=3,
    )
    published = make_bib()
    PublishingJob.objects.create(
        profile=profile, kind="full", status="succeeded", finished_at=timezone.now()
    )
    PublishedRecord.objects.create(
        profile=profile, bib=published, status="published", content_hash="x"
    )
    actions.set_export_tag([published], ExportTag.DONT_PUBLISH)
    make_bib(), make_bib()
    # A job that failed after writing its file: the next run resends it first.
    local = tmp_path / "f.mrc"
    local.write_bytes(b"x" * 10)
    failed = PublishingJob.objects.create(
        profile=profile,
        kind="incremental",
        status="failed",
        failure_category="network",
        failure_message="Connection refused",
        written_at=timezone.now(),
    )
    JobFile.objects.create(job=failed, sequence=1, name="f.mrc", bytes=10, local_path=local)
    ReconciliationRun.objects.create(profile=profile, status="succeeded", count_missing=2)

    client.force_login(superuser)
    html = client.get("/admin/").content.decode()
    expected = dry_run(profile, examples=0).counts
    assert (expected["new"], expected["deleted"]) == (2, 1)
    row = html[html.index(f'data-profile="{profile.pk}"') :]
    assert f'data-count="new">{expected["new"]}<' in row
    assert f'data-count="deleted">{expected["deleted"]}<' in row
    assert f"Job {failed.pk}</a> (Incremental)" in row and "Failed" in row
    assert "03:00" in row  # the next run
    assert "2 differences" in row
    assert f"Job {failed.pk}</a> of {profile} failed after writing its files" in html
    assert "Connection refused" in html
    assert 'id="home-cluster-status"><span class="status-warn">Not running' in html
    plumbing = html.index("The system's plumbing")
    assert html.index("Publishing to OCLC") < html.index("Run a Job") < plumbing
    assert html.index("Catalogue") < plumbing < html.index("Background tasks")
    assert plumbing < html.rindex(">Users<")


def test_a_cataloger_s_home_page_has_no_publishing_section(client, django_user_model):
    user = django_user_model.objects.create_user("cat", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="records"))
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert "Publishing to OCLC" not in html and "Worker cluster" not in html
    assert "Run a Job" in html and "Monitor Jobs" in html


def test_the_home_page_does_not_read_a_big_change_to_count_it(
    client, superuser, make_profile, connection_row, monkeypatch
):
    monkeypatch.setattr("profiles.home.COUNT_AT_MOST", 2)
    make_profile(connection_row, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    for _ in range(3):
        make_bib()
    client.force_login(superuser)
    html = client.get("/admin/").content.decode()
    assert "Not counted here: more than 2 records changed since the last job" in html
    assert 'data-count="new"' not in html


def test_the_home_page_areas_lead_to_their_sections_models(client, superuser):
    """The areas (Catalogue, S/FTP connections, Publishing profiles, OCLC Data Sync) link to
    Django's app index pages, which extend the home page's template: each lists its section's
    models, not the home page's areas over "You don't have permission to view or edit
    anything"."""
    client.force_login(superuser)
    home = client.get("/admin/").content.decode()
    expected = {
        "records": "/admin/records/bib/",
        "ftp": "/admin/ftp/sftpconnection/",
        "profiles": "/admin/profiles/publishingprofile/",
        "datasync": "/admin/datasync/collection/",
    }
    for label, changelist in expected.items():
        assert f'href="/admin/{label}/"' in home
        html = client.get(f"/admin/{label}/").content.decode()
        assert "permission to view or edit anything" not in html, label
        assert f'href="{changelist}"' in html, label
        assert 'class="areas"' not in html, label
