"""The LHR profile in a real browser: added through the profile form (Profile type "Publish local
holdings records (LHR) to OCLC"), run from its Run now (what it will change first), the job page
showing the finished job, and the MARC holdings records arrived in in/lhr.

Run a Job (Manage Jobs and Sets) is not on main yet, so the job is started from the profile's
Run now. As in test_ui_browser, the queued job is run by `run_queued` (a worker's part) while the
page polls."""

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

    page.click("#run-now")
    expect(page.locator("#preview-counts [data-count=new]")).to_have_text("2")
    page.click("#confirm-run")
    expect(page.locator("#job-status")).to_have_text("Queued")
    job = PublishingJob.objects.get(profile=profile)
    run_queued(job.pk)  # the worker's part, while the page polls

    expect(page.locator("#job-status")).to_have_text("Completed successfully", timeout=20_000)
    expect(page.locator("#job-counts [data-count=new]")).to_have_text("2")
    expect(page.locator("#job-files a").first).to_have_text(
        re.compile(r"^7654321\.ALMAD\..*\.mrc$")
    )
    (name,) = job.files.values_list("name", flat=True)
    arrived = Path(sshd.local_path(f"{LHR_DIRECTORY}/{name}")).read_bytes()
    assert schema_problems(arrived) == ""
    assert arrived.count(b"\x1d") == 2  # two holdings records
