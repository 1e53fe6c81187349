"""Catalogue admin pages, actions and jobs through Django's test client."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEntry
from jobs.models import JobStatus
from records import tasks
from records.models import Bib, BibSet, Holding, ImportJob, SyncJob

from .helpers import make_bib

LIST = "/admin/records/bib/"


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def _list_queries(client, url=LIST) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_the_record_list_runs_a_fixed_number_of_queries_whatever_the_page_size(staff):
    for i in range(5):
        make_bib(f"Book {i}", oclc=str(1000 + i))
    few = _list_queries(staff)
    for i in range(40):
        make_bib(f"More {i}")
    many = _list_queries(staff)
    assert many == few <= 12


@pytest.mark.django_db
def test_the_record_list_never_counts_the_whole_table_and_defers_the_marc(staff):
    make_bib("Counted")
    with CaptureQueriesContext(connection) as ctx:
        staff.get(LIST)
    statements = [q["sql"] for q in ctx.captured_queries]
    counts = [s for s in statements if "COUNT(" in s]
    assert counts and all("LIMIT" in s for s in counts)
    listing = [s for s in statements if '"records_bib"."title"' in s]
    assert listing and all('"records_bib"."marc"' not in s for s in listing)


@pytest.mark.django_db
def test_search_finds_by_title_words_mms_id_and_oclc_number(staff):
    wanted = make_bib("The great Gatsby", oclc="ocm00012345")
    make_bib("Moby Dick", oclc="999")
    for term in ["gatsby great", str(wanted.mms_id), "(OCoLC)12345", "12345"]:
        page = staff.get(LIST, {"q": term}).content.decode()
        assert str(wanted.mms_id) in page and "Moby" not in page, term


@pytest.mark.django_db
def test_filters_by_tag_holdings_suppressed_and_deleted(staff):
    published = make_bib("Published one")
    hidden = make_bib("Hidden one", tag="dont_publish", holdings=0)
    page = staff.get(LIST, {"export_tag": "dont_publish"}).content.decode()
    assert "Hidden one" in page and "Published one" not in page
    page = staff.get(LIST, {"has_holdings": "no"}).content.decode()
    assert "Hidden one" in page and "Published one" not in page
    from records import actions

    actions.delete_bib(published)
    assert "Published one" not in staff.get(LIST).content.decode()
    assert "Published one" in staff.get(LIST, {"deleted": "yes"}).content.decode()
    assert hidden.mms_id


@pytest.mark.django_db
def test_setting_the_tag_asks_for_confirmation_then_changes_and_audits(staff, superuser):
    bibs = [make_bib(f"B{i}", tag="dont_publish") for i in range(3)]
    already = make_bib("Already", tag="publish_bib")
    selected = [str(b.pk) for b in bibs] + [str(already.pk)]
    data = {"action": "set_tag_publish_bib", ACTION_CHECKBOX_NAME: selected}
    page = staff.post(LIST, data)
    assert page.status_code == 200 and "Yes, I’m sure" in page.content.decode()
    assert Bib.objects.filter(export_tag="dont_publish").count() == 3
    done = staff.post(LIST, {**data, "confirmed": "yes"}, follow=True)
    assert "3 record(s) set to Publish bib; 1 already had it." in done.content.decode()
    assert Bib.objects.filter(export_tag="publish_bib").count() == 4
    entries = AuditEntry.objects.filter(action="records.tag.changed")
    assert entries.count() == 3
    assert all(e.actor == superuser for e in entries)


@pytest.mark.django_db
def test_add_selected_to_a_new_set_then_synchronize_it_in_the_background(
    staff, superuser, django_capture_on_commit_callbacks
):
    bibs = [make_bib(f"S{i}", tag="dont_publish") for i in range(3)]
    data = {"action": "add_to_set", ACTION_CHECKBOX_NAME: [str(b.pk) for b in bibs]}
    staff.post(LIST, {**data, "confirmed": "yes", "new_name": "Initial publish"}, follow=True)
    bib_set = BibSet.objects.get(name="Initial publish")
    assert set(bib_set.bibs()) == set(bibs)
    url = reverse("admin:records_bibset_synchronize", args=[bib_set.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff.post(url, {"value": "publish_bib"})
    job = SyncJob.objects.get()
    assert response.url == job.get_absolute_url()
    assert len(callbacks) == 1 and job.status == JobStatus.QUEUED
    # What the django-q2 worker runs for the queued task:
    assert tasks.synchronize_job(job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.processed, job.changed, job.unchanged) == (3, 3, 0)
    assert job.requested_by == superuser
    page = staff.get(job.get_absolute_url()).content.decode()
    assert "Completed" in page and "3 set to Publish bib" in page
    # Re-running is harmless.
    again = SyncJob.objects.create(bib_set=bib_set, value="publish_bib")
    tasks.synchronize_job(again.pk)
    again.refresh_from_db()
    assert (again.changed, again.unchanged) == (0, 3)


@pytest.mark.django_db
def test_sync_external_catalog_command_runs_by_set_name_or_id(capsys):
    bibs = [make_bib(f"C{i}") for i in range(2)]
    bib_set = BibSet.objects.create(name="Equipment")
    from records import actions

    actions.add_to_set(bib_set, bibs)
    call_command("sync_external_catalog", "Equipment", "--value", "dont_publish")
    assert "2 set to Don't publish" in capsys.readouterr().out
    call_command("sync_external_catalog", str(bib_set.pk), "--value", "dont_publish")
    assert "0 set to Don't publish, 2 already had it" in capsys.readouterr().out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no set named"):
        call_command("sync_external_catalog", "Nope", "--value", "dont_publish")


@pytest.mark.django_db
def test_a_logical_set_saves_the_current_search(staff):
    make_bib("Kept", tag="dont_publish")
    make_bib("Other", tag="publish_bib")
    url = reverse("admin:records_bibset_save_search")
    staff.post(url, {"name": "Not for OCLC", "export_tag": "dont_publish"})
    bib_set = BibSet.objects.get(name="Not for OCLC")
    assert bib_set.kind == BibSet.Kind.LOGICAL
    assert [b.title for b in bib_set.bibs()] == ["Kept"]
    page = staff.get(reverse("admin:records_bibset_changelist")).content.decode()
    assert "saved search" in page


@pytest.mark.django_db
def test_the_record_page_shows_the_marc_view_and_manages_holdings(staff):
    bib = make_bib("Record page", oclc="ocm00054321")
    page = staff.get(bib.get_absolute_url()).content.decode()
    assert "LDR" in page and "$a</span> Record page" in page
    assert "Export to WorldCat" in page and "Publish bib" in page
    assert "(OCoLC)54321" in page
    staff.post(bib.get_absolute_url(), {"op": "add_holding", "library": "LAW", "location": "REF"})
    bib.refresh_from_db()
    assert bib.holdings_count == 2
    for holding in list(bib.holdings.all()):
        staff.post(bib.get_absolute_url(), {"op": "delete_holding", "holding": holding.pk})
    bib.refresh_from_db()
    assert bib.holdings_count == 0 and not Holding.objects.exists()
    page = staff.get(bib.get_absolute_url()).content.decode()
    assert "No holdings" in page
    response = staff.post(bib.get_absolute_url(), {"op": "add_holding", "library": ""})
    assert response.status_code == 302
    bib.refresh_from_db()
    assert bib.holdings_count == 0


@pytest.mark.django_db
def test_the_audit_trail_page_filters_by_mms_id_action_and_user(staff, superuser):
    bib = make_bib("Audited")
    other = make_bib("Not this one")
    staff.post(bib.get_absolute_url(), {"op": "set_tag", "export_tag": "dont_publish"})
    url = reverse("records:audit")
    page = staff.get(url, {"mms_id": bib.mms_id, "action": "records.tag.changed"}).content
    assert "Publish bib → Don&#x27;t publish" in page.decode()
    assert str(other.mms_id) not in page.decode()
    assert "Don" not in staff.get(url, {"user": "nobody"}).content.decode().split("<tbody>")[1]
    assert "is not an MMS ID" in staff.get(url, {"mms_id": "123"}).content.decode()


@pytest.mark.django_db
def test_uploading_a_marc_file_runs_the_import_as_a_job(
    staff, shared_marc, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.UPLOAD_DIR = tmp_path
    content = (shared_marc / "marc4j/chabon.mrc").read_bytes() + (
        shared_marc / "ruby-marc/cp866_unimarc.marc"
    ).read_bytes()
    upload = SimpleUploadedFile("mixed.mrc", content)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff.post(
            reverse("admin:records_importjob_add"),
            {"file": upload, "export_tag": "holdings_only", "holdings": "MAIN:STACKS"},
        )
    job = ImportJob.objects.get()
    assert response.url == job.get_absolute_url()
    assert len(callbacks) == 1
    assert job.path.startswith(str(tmp_path))
    assert tasks.import_marc_job(job.pk) == JobStatus.COMPLETED_WITH_ERRORS
    job.refresh_from_db()
    assert (job.imported, job.failed) == (2, 1)
    assert set(Bib.objects.values_list("export_tag", flat=True)) == {"holdings_only"}
    page = staff.get(job.get_absolute_url()).content.decode()
    assert "record 3 at byte" in page and "not MARC 21" in page
    progress = staff.get(job.get_absolute_url() + "progress/").json()
    assert progress["finished"] and progress["imported"] == 2


@pytest.mark.django_db
def test_a_bad_holdings_value_on_the_upload_page_is_refused(staff, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path
    upload = SimpleUploadedFile("x.mrc", b"junk")
    response = staff.post(
        reverse("admin:records_importjob_add"), {"file": upload, "holdings": "MAIN"}
    )
    assert response.status_code == 200
    assert "LIBRARY:LOCATION" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_the_demo_catalogue_loads_once():
    call_command("load_demo_catalogue")
    count = Bib.objects.count()
    assert 190 <= count <= 250
    call_command("load_demo_catalogue")
    assert Bib.objects.count() == count
    demo = BibSet.objects.get(name="Initial publish to OCLC")
    assert 40 <= demo.bibs().count() <= 60
    tags = set(Bib.objects.values_list("export_tag", flat=True))
    assert tags == {"publish_bib", "holdings_only", "dont_publish"}
    assert Bib.objects.filter(oclc_numbers="").exists()
    assert set(Holding.objects.values_list("library", flat=True)) == {"MAIN", "SCIENCE"}
