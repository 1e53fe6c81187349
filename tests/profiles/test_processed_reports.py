"""The profile's Reports directory and the ProcessedReport rows that remember which OCLC reports
were applied (before, both lived in the audit trail): the form, the fetch page, the command's
default, and the data migration that carries the old audit entries over."""

from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from audit.log import record as audit
from audit.models import AuditEntry
from profiles.models import DEFAULT_REPORTS_DIRECTORY, ProcessedReport, PublishingProfile
from profiles.xref import fetch_reports

from .conftest import make_bib
from .test_xref import STAMP, oclc_035s, put_report, sent

pytestmark = [pytest.mark.sshd, pytest.mark.django_db]
MIGRATION = importlib.import_module("profiles.migrations.0005_processed_reports_from_audit_trail")


def test_an_applied_report_is_a_processed_report_row_and_is_not_applied_twice(profile, sshd):
    assert profile.reports_directory == DEFAULT_REPORTS_DIRECTORY
    bib = make_bib(oclc=None)
    sent(profile, bib)
    name = put_report(sshd, f"{STAMP}.f.mrc.xrefrpt.txt", [f"{bib.mms_id}\t777"])
    fetch_reports(profile)
    row = ProcessedReport.objects.get()
    assert (row.profile, row.name, row.counts["added"]) == (profile, name, 1)
    assert row.size == len(f"{bib.mms_id}\t777\n") and len(row.sha256) == 64
    # What the rows remember is what counts: forget it and the report applies again.
    assert [r.status for r in fetch_reports(profile).reports] == ["already processed"]
    ProcessedReport.objects.all().delete()
    assert [r.status for r in fetch_reports(profile).reports] == ["applied"]
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcessedReport.objects.create(profile=profile, name=name, size=row.size, sha256=row.sha256)


def test_the_profile_form_validates_the_reports_directory_like_a_sub_directory(
    client, superuser, profile
):
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    page = client.get(url).content.decode()
    assert "Reports directory" in page and DEFAULT_REPORTS_DIRECTORY in page
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(ftp_connection=profile.ftp_connection_id, reports_directory="/xfer/../etc")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "must not contain" in response.content.decode()
    profile.refresh_from_db()
    assert profile.reports_directory == DEFAULT_REPORTS_DIRECTORY
    data["reports_directory"] = " /xfer/metacoll/reports/ALMAD "
    assert client.post(url, data).status_code == 302
    profile.refresh_from_db()
    assert profile.reports_directory == "/xfer/metacoll/reports/ALMAD"
    # Left empty, or not posted at all by an older form: OCLC's standard folder.
    del data["reports_directory"]
    assert client.post(url, data).status_code == 302
    profile.refresh_from_db()
    assert profile.reports_directory == DEFAULT_REPORTS_DIRECTORY


def test_the_fetch_page_keeps_a_changed_folder_and_the_command_uses_the_profile_s(
    client, superuser, profile, sshd
):
    other = "/xfer/metacoll/reports2"
    sshd.local_path(other).mkdir(parents=True, exist_ok=True)
    bib = make_bib(oclc=None)
    sent(profile, bib)
    sshd.local_path(f"{other}/{STAMP}.f.mrc.xrefrpt.txt").write_text(f"{bib.mms_id}\t903\n")
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_fetch_reports", args=[profile.pk])
    html = client.post(url, {"reports_directory": other}).content.decode()
    assert "fetch-summary" in html and oclc_035s(bib) == ["(OCoLC)903"]
    profile.refresh_from_db()
    assert profile.reports_directory == other
    change = AuditEntry.objects.get(action="profiles.profile.changed")
    assert change.actor == superuser and change.data["new"] == {"reports_directory": other}
    assert other in client.get(url).content.decode()
    # The command's default is the profile's folder; --reports-dir is for one fetch.
    PublishingProfile.objects.filter(pk=profile.pk).update(
        reports_directory="/xfer/metacoll/nowhere"
    )
    with pytest.raises(CommandError, match="Fetching the reports failed"):
        call_command("fetch_oclc_reports", str(profile.pk), stdout=io.StringIO())
    out = io.StringIO()
    call_command("fetch_oclc_reports", str(profile.pk), "--reports-dir", other, stdout=out)
    assert "already processed" in out.getvalue()


def test_the_migration_carries_applied_reports_and_the_last_folder_over(profile, make_profile):
    second = make_profile(None, name="Second", collection_id="7654321")
    for name, size in (("a.xrefrpt.txt", 10), ("b.xrefrpt.txt", 20), ("a.xrefrpt.txt", 10)):
        audit(
            "profiles.xref.report_applied",
            target=profile,
            message=f"OCLC report {name} applied",
            data={"name": name, "size": size, "sha256": "0" * 64, "counts": {"added": 1}},
        )
    audit("profiles.xref.report_applied", target=second, message="broken", data={"name": "x"})
    audit("profiles.xref.fetched", target=profile, message="old", data={"directory": "/old"})
    audit("profiles.xref.fetched", target=profile, message="new", data={"directory": "/r/new"})

    MIGRATION.forwards(django_apps, None)
    MIGRATION.forwards(django_apps, None)  # running twice adds nothing

    rows = ProcessedReport.objects.order_by("name").values_list("profile", "name", "size", "counts")
    assert list(rows) == [
        (profile.pk, "a.xrefrpt.txt", 10, {"added": 1}),
        (profile.pk, "b.xrefrpt.txt", 20, {"added": 1}),
    ]
    profile.refresh_from_db()
    second.refresh_from_db()
    assert profile.reports_directory == "/r/new"
    assert second.reports_directory == DEFAULT_REPORTS_DIRECTORY
