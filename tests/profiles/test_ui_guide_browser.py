"""The guide's Steps 5 and 6 in Debian's Chromium at 1280 px, followed by their labels: Admin >
Manage Jobs and Sets > Run a Job, "Bib OCLC" in Description, "Bib OCLC Republish Set of Titles",
Next, the set, Next, the job parameters reviewed, Submit, then Monitor Jobs; and Step 6's
Baseline, whose Run now shows what will change in WorldCat first.

The live server runs no django-q2 cluster, so the queued job is run honestly by `run_queued`
(what a worker's task calls), against the real sshd.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from profiles.engine import republish_set, run_queued
from profiles.models import PublishedRecord, PublishingJob, PublishingProfile
from records import actions
from records.models import BibSet
from tests.conftest import PASSWORD, login

from .conftest import make_bib, sent_records

pytestmark = [pytest.mark.browser, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
WIDTH = 1280


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_step_5_run_a_job_republishes_the_initial_set_and_monitor_jobs_follows_it(
    page, superuser, make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    bibs = [make_bib(f"Initial title {i}") for i in range(3)]
    make_bib("Not in the set")
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    actions.add_to_set(bib_set, bibs)
    page.set_viewport_size({"width": WIDTH, "height": 800})
    login(page, superuser.username, PASSWORD)

    # 1. Admin > Manage Jobs and Sets > Run a Job
    page.goto("/admin/")
    section = page.locator(".app-manage_jobs")
    expect(section).to_contain_text("Manage Jobs and Sets")
    section.get_by_role("link", name="Run a Job").click()
    expect(page.locator("h1")).to_have_text("Run a Job")
    # 2. In the Description box, type Bib OCLC and press ENTER.
    page.get_by_label("Description").fill("Bib OCLC")
    page.get_by_label("Description").press("Enter")
    expect(page.locator("#job-catalogue tbody tr")).to_have_count(1)
    assert fits(page)
    # 3. Select Bib OCLC Republish Set of Titles. 4. Click Next.
    page.get_by_label("Bib OCLC Republish Set of Titles").check()
    page.get_by_role("button", name="Next").click()
    # 5. Find and select your set. 6. Click Next.
    page.get_by_label("Initial file for OCLC").check()
    page.get_by_role("button", name="Next").click()
    # 7. Review the job parameters.
    expect(page.locator("#job-parameters")).to_contain_text("Bib OCLC Republish Set of Titles")
    expect(page.locator("#review-set")).to_have_text("Initial file for OCLC")
    expect(page.locator("#preview")).to_contain_text("What will change in WorldCat")
    expect(page.locator("#preview-counts [data-count=new]")).to_have_text("3")
    assert fits(page)
    assert not PublishingJob.objects.exists()
    # 8. Click Submit: Monitor Jobs shows the job.
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("h1")).to_have_text("Monitor Jobs")
    job = PublishingJob.objects.get()
    assert (job.profile, job.kind, job.bib_set) == (profile, "republish_set", bib_set)
    row = page.locator(f"#monitor-jobs tr[data-kind=publishing][data-job='{job.pk}']")
    expect(row).to_contain_text("Bib OCLC Republish Set of Titles")
    expect(row.locator(".job-status")).to_have_text("Queued")
    assert fits(page)

    assert run_queued(job.pk) == "succeeded"  # the worker's part

    page.reload()
    expect(row.locator(".job-status")).to_have_text("Completed successfully")
    expect(row).to_contain_text("3 new")
    row.get_by_role("link", name="Bib OCLC Republish Set of Titles").click()
    expect(page.locator("#job-status")).to_have_text("Completed successfully")
    assert sorted(sent_records(sshd)) == sorted(str(b.mms_id) for b in bibs)


def test_step_6_a_baseline_shows_what_it_would_record_unsent_before_it_runs(
    page, superuser, make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    sent = [make_bib() for _ in range(2)]
    unsent = [make_bib() for _ in range(3)]
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    actions.add_to_set(bib_set, sent)
    assert run_queued(republish_set(profile, bib_set).job.pk) == "succeeded"
    page.set_viewport_size({"width": WIDTH, "height": 800})
    login(page, superuser.username, PASSWORD)

    # Step 6: in Publishing Parameters, select Baseline; Save.
    page.goto(f"/admin/profiles/publishingprofile/{profile.pk}/change/")
    page.select_option("#id_publishing_mode", "baseline")
    page.select_option("#id_scheduling", "daily")
    page.click("input[name=_continue]")
    expect(page.locator("#next-run")).not_to_contain_text("Not scheduled")
    # Run now (Baseline)…: what will change in WorldCat, before anything runs.
    page.get_by_role("link", name="Run now (Baseline)…").click()
    expect(page.locator("#preview-mode")).to_have_text("Baseline")
    expect(page.locator("#preview-never-sent")).to_have_text("3 records")
    expect(page.locator("#baseline-warning")).to_contain_text(
        "If you are not sure whether your holdings are up to date in WorldCat"
    )
    expect(page.locator("#preview-counts [data-count=skipped]")).to_have_text("5")
    assert fits(page)
    assert not PublishingJob.objects.filter(kind="baseline").exists()
    page.get_by_role("button", name="Run now (Baseline)").click()
    job = PublishingJob.objects.get(kind="baseline")
    assert run_queued(job.pk) == "succeeded"
    expect(page.locator("#job-status")).to_have_text("Completed successfully", timeout=20_000)
    assert job.files.count() == 0 and len(sent_records(sshd)) == 2
    assert PublishedRecord.objects.filter(profile=profile).count() == 5
    profile.refresh_from_db()
    assert profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL
    assert {b.pk for b in unsent} <= set(
        PublishedRecord.objects.filter(profile=profile).values_list("bib_id", flat=True)
    )
