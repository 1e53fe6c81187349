"""A librarian prepares records for OCLC in a real browser (Step 4 of the Alma guide)."""

from __future__ import annotations

import pytest
from django_q.conf import Conf

from records import actions
from records.models import Bib, BibSet, SyncJob
from tests.conftest import PASSWORD, login

from .helpers import make_bib


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """django-q2's own sync mode: async_task runs the task in the web request that queued it.

    The live server has no worker cluster; this runs the real task through django-q2 (task
    record included) instead of a stand-in. django-q2 reads Q_CLUSTER once, into Conf.
    """
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.mark.browser
def test_librarian_tags_records_sets_them_aside_and_synchronizes_the_set(
    page, transactional_db, superuser, tasks_run_inline
):
    brief = [make_bib(f"Brief bib {c}", tag="dont_publish") for c in "AB"]
    equipment = make_bib("Laptop charger", tag="dont_publish")
    make_bib("Already published", tag="publish_bib")
    existing = BibSet.objects.create(name="Initial publish to OCLC")
    actions.add_to_set(existing, [equipment])

    login(page, superuser.username, PASSWORD)
    page.goto("/admin/records/bib/")
    page.get_by_role("link", name="equals Don't publish").click()
    page.wait_for_url("**export_tag=dont_publish**")
    assert page.locator("#result_list tbody tr").count() == 3
    for bib in brief:
        page.check(f"input[name=_selected_action][value='{bib.pk}']")
    page.select_option("select[name=action]", "set_tag_publish_bib")
    page.click("button[name=index]")

    page.get_by_text("Set “Export to WorldCat” to “Publish bib” on these records?").wait_for()
    page.click("input[type=submit][value='Yes, I’m sure']")
    page.get_by_text("2 record(s) set to Publish bib; 0 already had it.").wait_for()

    page.get_by_role("link", name="equals Publish bib").click()
    page.wait_for_url("**export_tag=publish_bib**")
    for bib in brief:
        page.check(f"input[name=_selected_action][value='{bib.pk}']")
    page.select_option("select[name=action]", "add_to_set")
    page.click("button[name=index]")
    page.select_option("select[name=bib_set]", label="Initial publish to OCLC")
    page.click("input[type=submit][value='Yes, I’m sure']")
    page.get_by_text("2 record(s) added to set").wait_for()

    page.get_by_role("link", name="Initial publish to OCLC").click()
    page.click("#run-synchronize")
    page.get_by_text("Synchronize with External Catalog?").wait_for()
    page.check("input[name=value][value=publish_bib]")
    page.click("input[type=submit][value=Submit]")

    page.get_by_text("3 records: 1 set to Publish bib, 2 already had it").wait_for()
    assert page.locator("#job-status").inner_text() == "Completed successfully"
    job = SyncJob.objects.get()
    assert (job.changed, job.unchanged, job.requested_by) == (1, 2, superuser)
    assert set(Bib.objects.filter(export_tag="publish_bib").values_list("title", flat=True)) == {
        "Brief bib A",
        "Brief bib B",
        "Laptop charger",
        "Already published",
    }


@pytest.mark.browser
def test_librarian_corrects_a_title_in_the_marc_editor(page, transactional_db, superuser):
    bib = make_bib("Teh title with a typo")
    login(page, superuser.username, PASSWORD)
    page.goto(bib.get_absolute_url())
    page.get_by_role("link", name="Edit MARC").click()
    editor = page.get_by_label("MARC record")
    text = editor.input_value()
    assert "=245  10$aTeh title with a typo" in text

    editor.fill(text.replace("=245  10$aTeh title", "=245  10$aThe title").replace("=001", "001"))
    page.click("input[type=submit][value=Save]")
    page.get_by_text("The record was not saved:").wait_for()
    assert page.get_by_text("a field starts with “=”").is_visible()

    fixed = page.get_by_label("MARC record").input_value().replace("\n001", "\n=001")
    page.get_by_label("MARC record").fill(fixed)
    page.click("input[type=submit][value=Save]")
    page.get_by_text("MARC saved.").wait_for()
    assert page.locator(".marc-view").get_by_text("The title with a typo").is_visible()
    bib.refresh_from_db()
    assert bib.title == "The title with a typo"
