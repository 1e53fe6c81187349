"""Admin > Manage Jobs and Sets > Monitor Jobs: every job of every kind in one list, with Alma's
statuses, filters by type, status and date, a link to each job's page, and only the kinds the
person may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from jobs import liveness
from profiles.models import PublishingJob, ReconciliationRun
from records.models import BibSet, ImportJob, SyncJob
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs_of_every_kind(make_profile, superuser):
    profile = make_profile()
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    publishing = PublishingJob.objects.create(
        profile=profile, kind="republish_set", bib_set=bib_set, status="succeeded", count_new=12
    )
    imported = ImportJob.objects.create(
        original_name="catalogue.mrc", path="/nonexistent", status="failed", requested_by=superuser
    )
    synced = SyncJob.objects.create(
        bib_set=bib_set, value="publish_bib", status="running", heartbeat_at=timezone.now()
    )
    reconciled = ReconciliationRun.objects.create(profile=profile, status="queued")
    old = ImportJob.objects.create(original_name="old.mrc", path="/x", status="succeeded")
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    with liveness.holding(synced):  # its worker is alive
        yield {
            "publishing": publishing,
            "import": imported,
            "synchronize": synced,
            "reconciliation": reconciled,
            "old": old,
        }


def rows(response) -> list[tuple[str, int]]:
    return [(r.kind, r.pk) for r in response.context["rows"]]


def test_monitor_jobs_lists_every_kind_of_job_newest_first_with_alma_s_statuses(
    client, superuser, jobs_of_every_kind
):
    client.force_login(superuser)
    response = client.get("/jobs/monitor/")
    assert response.status_code == 200
    found = rows(response)
    j = jobs_of_every_kind
    assert found == [
        ("reconciliation", j["reconciliation"].pk),
        ("synchronize", j["synchronize"].pk),
        ("import", j["import"].pk),
        ("publishing", j["publishing"].pk),
        ("import", j["old"].pk),
    ]
    html = response.content.decode()
    for word in ("Completed successfully", "Failed", "Running", "Queued"):
        assert word in html
    assert "Bib OCLC Republish Set of Titles" in html
    assert f'href="/publishing/jobs/{j["publishing"].pk}/"' in html
    assert f'href="/admin/records/importjob/{j["import"].pk}/change/"' in html
    assert f'href="/publishing/profiles/{j["reconciliation"].profile_id}/reconciliation/"' in html


def test_monitor_jobs_filters_by_type_status_and_date(client, superuser, jobs_of_every_kind):
    client.force_login(superuser)
    j = jobs_of_every_kind
    assert rows(client.get("/jobs/monitor/?kind=import")) == [
        ("import", j["import"].pk),
        ("import", j["old"].pk),
    ]
    assert rows(client.get("/jobs/monitor/?status=succeeded")) == [
        ("publishing", j["publishing"].pk),
        ("import", j["old"].pk),
    ]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    recent = rows(client.get(f"/jobs/monitor/?date_from={since}&kind=import"))
    assert recent == [("import", j["import"].pk)]
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert rows(client.get(f"/jobs/monitor/?date_to={until}")) == [("import", j["old"].pk)]


def test_monitor_jobs_pages_without_counting(client, superuser, make_profile, monkeypatch):
    monkeypatch.setattr("profiles.manage.views.JOBS_PER_PAGE", 3)
    profile = make_profile()
    made = [
        PublishingJob.objects.create(profile=profile, kind="full", status="succeeded")
        for _ in range(4)
    ]
    made += [ImportJob.objects.create(original_name=f"{i}.mrc", path="/x") for i in range(3)]
    client.force_login(superuser)
    first = client.get("/jobs/monitor/")
    second = client.get("/jobs/monitor/?page=2")
    third = client.get("/jobs/monitor/?page=3")
    assert first.context["has_next"] and second.context["has_next"]
    assert not third.context["has_next"]
    listed = rows(first) + rows(second) + rows(third)
    assert len(listed) == len(set(listed)) == 7


def test_a_cataloger_sees_the_catalogue_s_jobs_only(client, django_user_model, jobs_of_every_kind):
    user = django_user_model.objects.create_user("cat", password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_importjob", "view_syncjob"])
    )
    client.force_login(user)
    kinds = {kind for kind, _ in rows(client.get("/jobs/monitor/"))}
    assert kinds == {"import", "synchronize"}
    index = client.get("/admin/").content.decode()
    assert "Manage Jobs and Sets" in index and "Monitor Jobs" in index


def test_staff_who_may_see_no_job_are_refused(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password=PASSWORD, is_staff=True)
    client.force_login(user)
    assert client.get("/jobs/monitor/").status_code == 403
    assert client.get("/jobs/monitor/", follow=False).status_code == 403
    client.logout()
    assert client.get("/jobs/monitor/").status_code == 302


def test_a_job_of_any_kind_whose_worker_died_is_listed_failed_not_running(client, superuser):
    # Running, its worker gone: no process holds its lock (PostgreSQL), its heartbeat is old
    # (SQLite).
    dead = ImportJob.objects.create(
        original_name="big.mrc",
        path="/x",
        status="running",
        heartbeat_at=timezone.now() - timedelta(minutes=3),
        total_bytes=1000,
        bytes_read=400,
    )
    client.force_login(superuser)
    response = client.get("/jobs/monitor/")
    (row,) = response.context["rows"]
    dead.refresh_from_db()
    assert dead.status == "failed" and "stopped after reading 400 of 1,000 bytes" in dead.message
    assert row.status_word == "Failed"
