"""Steps 3, 5 and 6 of the set-up guide in a real browser, as a staff member does them.

The live server runs no django-q2 cluster, so the queued job is run honestly by `run_queued` (what
a worker's task calls) from the test thread while the browser keeps polling the job page; the
page then shows the finished job by itself (its progress script reloads it).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from profiles.engine import run_queued
from profiles.models import PublishingJob, PublishingProfile
from records.models import BibSet, BibSetMember
from tests.conftest import PASSWORD, login

from .conftest import make_bib

pytestmark = [pytest.mark.browser, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def test_a_staff_member_configures_the_profile_republishes_a_set_and_schedules_it(
    page, superuser, sftp_connection, publish_dir, sshd
):
    bibs = [make_bib(f"Initial title {i}") for i in range(3)]
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    BibSetMember.objects.bulk_create(BibSetMember(bib_set=bib_set, bib=b) for b in bibs)
    login(page, superuser.username, PASSWORD)

    # Step 3: configure the profile.
    page.goto("/admin/profiles/publishingprofile/add/")
    expect(
        page.get_by_text("Records tagged Publish holdings only are neither sent")
    ).to_be_visible()
    expect(page.locator("#id_name")).to_have_value(
        "Publish bibliographic records (DataSync) to OCLC"
    )
    page.fill("#id_oclc_symbol", "ALMAD")
    page.fill("#id_collection_id", "1234567")
    page.select_option("#id_publishing_mode", "incremental")
    page.select_option("#id_status", "active")
    page.select_option("#id_scheduling", "none")
    expect(page.locator(".field-schedule_hour")).to_be_hidden()
    page.select_option("#id_ftp_connection", label="OCLC Data Sync")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    profile = PublishingProfile.objects.get()
    expect(page.locator("#next-run")).to_contain_text("Not scheduled")

    # Step 5: Bib OCLC Republish Set of Titles.
    page.click("#republish-set")
    page.select_option("#id_bib_set", label="Initial file for OCLC")
    page.click("#preview-republish")
    expect(page.locator("#preview-counts [data-count=new]")).to_have_text("3")
    page.click("#submit-republish")
    expect(page.locator("#job-status")).to_have_text("Queued")
    job = PublishingJob.objects.get(profile=profile)
    assert job.kind == PublishingJob.Kind.REPUBLISH_SET

    run_queued(job.pk)  # the worker's part, while the page polls

    expect(page.locator("#job-status")).to_have_text("Completed successfully", timeout=20_000)
    expect(page.locator("#job-counts [data-count=new]")).to_have_text("3")
    file_link = page.locator("#job-files a").first
    expect(file_link).to_have_text(re.compile(r"^1234567\.ALMAD\..*\.mrc$"))
    expect(page.locator("#job-files")).to_contain_text("Size verified")
    with page.expect_download() as download:
        file_link.click()
    assert download.value.suggested_filename == job.files.get().name
    expect(page.locator("#job-outcomes tbody tr")).to_have_count(3)
    page.fill("#id_mms_id", str(bibs[1].mms_id))
    page.click("#outcome-filter input[type=submit]")
    expect(page.locator("#job-outcomes tbody tr")).to_have_count(1)
    expect(page.locator("#job-outcomes")).to_contain_text("Republished (set)")

    # Step 6: schedule it weekly and see the next run.
    page.goto(f"/admin/profiles/publishingprofile/{profile.pk}/change/")
    page.select_option("#id_scheduling", "weekly")
    expect(page.locator(".field-schedule_weekday")).to_be_visible()
    page.select_option("#id_schedule_weekday", label="Tuesday")
    page.select_option("#id_schedule_hour", label="19:00")
    page.click("input[name=_continue]")
    expect(page.locator("#next-run")).to_contain_text("Tuesday")
    expect(page.locator("#next-run")).to_contain_text("19:00")
