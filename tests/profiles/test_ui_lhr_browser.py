"""The LHR profile in a real browser: added through the profile form (Profile type "Publish local
holdings records (LHR) to OCLC"), then run from Admin > Manage Jobs and Sets > Run a Job, where it
appears by itself (the catalogue is data-driven per profile): its Full, reviewed with what will
change in WorldCat, submitted, followed in Monitor Jobs; the MARC holdings records arrived in
in/lhr. As in the guide's browser tests, the queued job is run by `run_queued` (a worker's part)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ftp.models import SftpConnection
from profiles.engine import run_queued
from profiles.models import LHR_DIRECTORY, PublishingJob, PublishingProfile
from records.models import ExportTag
from tests.conftest import PASSWORD, login
from tests.oracles import schema_problems

from .conftest import make_bib

pytestmark = [pytest.mark.browser, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def test_a_staff_member_adds_the_lhr_profile_and_runs_it(
    page, superuser, sftp_connection, publish_dir, sshd
):
    lhr = SftpConnection.objects.get(pk=sftp_connection.pk)
    lhr.pk, lhr.name, lhr.sub_directory = None, "OCLC Data Sync LHR", LHR_DIRECTORY
    lhr.save()
    make_bib("A serial", tag=ExportTag.HOLDINGS_ONLY)
    make_bib("A book")
    make_bib("Not ours", tag=ExportTag.DONT_PUBLISH)
    login(page, superuser.username, PASSWORD)

    page.goto("/admin/profiles/publishingprofile/add/")
    page.select_option("#id_record_kind", "holdings")
    page.fill("#id_name", "Publish local holdings records (LHR) to OCLC")
    page.fill("#id_oclc_symbol", "ALMAD")
    page.fill("#id_collection_id", "7654321")
    page.select_option("#id_publishing_mode", "full")
    page.select_option("#id_status", "active")
    page.select_option("#id_ftp_connection", label="OCLC Data Sync")
    page.click("input[name=_continue]")
    # The bib folder is refused for LHRs, and the form says where they go.
    expect(page.locator(".errorlist")).to_contain_text("/xfer/metacoll/in/lhr")
    page.select_option("#id_ftp_connection", label="OCLC Data Sync LHR")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    profile = PublishingProfile.objects.get(record_kind="holdings")
    expect(page.locator(".holdings-only-note")).to_contain_text("Publish holdings only")

    page.goto("/admin/")
    page.locator(".app-manage_jobs").get_by_role("link", name="Run a Job").click()
    page.get_by_label("Description").fill("local holdings")
    page.get_by_label("Description").press("Enter")
    page.get_by_label(f"{profile.name}: Full").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#preview")).to_contain_text("What will change in WorldCat")
    expect(page.locator("#preview-counts [data-count=new]")).to_have_text("2")
    assert not PublishingJob.objects.exists()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("h1")).to_have_text("Monitor Jobs")
    job = PublishingJob.objects.get(profile=profile)
    assert job.kind == PublishingJob.Kind.FULL
    assert run_queued(job.pk) == "succeeded"  # the worker's part

    page.reload()
    row = page.locator(f"#monitor-jobs tr[data-kind=publishing][data-job='{job.pk}']")
    expect(row.locator(".job-status")).to_have_text("Completed successfully")
    row.get_by_role("link").first.click()
    expect(page.locator("#job-status")).to_have_text("Completed successfully")
    expect(page.locator("#job-counts [data-count=new]")).to_have_text("2")
    expect(page.locator("#job-files a").first).to_have_text(
        re.compile(r"^7654321\.ALMAD\..*\.mrc$")
    )
    (name,) = job.files.values_list("name", flat=True)
    arrived = Path(sshd.local_path(f"{LHR_DIRECTORY}/{name}")).read_bytes()
    assert schema_problems(arrived) == ""
    assert arrived.count(b"\x1d") == 2  # two holdings records
