"""What OCLC sees and says back, through the emulated exchange (real asyncssh server, real
paramiko client, OCLC's processing): a run with nothing to send sends OCLC nothing, and a profile
whose files went to the default collection says so on its page and on the job's."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from datasync.models import IncomingFile, Report
from profiles.engine import run_now
from profiles.engine.writer import job_directory
from profiles.models import PublishingJob
from profiles.xref import fetch_reports, report_subject, reported_files
from tests.conftest import PASSWORD, login

from .conftest import make_bib
from .test_reconcile_loop import demo_exchange, republish  # noqa: F401, F811 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _incremental(profile) -> PublishingJob:
    job = run_now(profile, mode="incremental", in_process=True, sleep=lambda s: None).job
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    return job


def test_a_run_with_nothing_to_send_uploads_nothing_and_oclc_writes_no_report(demo_exchange):  # noqa: F811
    profile = demo_exchange
    assert profile.ftp_connection.min_files == 1  # the guide's value
    sent = republish(profile, [make_bib(oclc="(OCoLC)ocm10698981")])
    assert sent.files.get().records == 1
    files, reports = IncomingFile.objects.count(), Report.objects.count()
    assert files == 1 and reports == 4

    quiet = _incremental(profile)

    assert quiet.files.count() == 0
    assert not list(job_directory(quiet).glob("*.mrc"))
    assert (IncomingFile.objects.count(), Report.objects.count()) == (files, reports)


def test_more_files_asked_for_than_records_adds_no_empty_file(demo_exchange):  # noqa: F811
    profile = demo_exchange
    connection = profile.ftp_connection
    connection.min_files = 3
    connection.save()
    job = republish(profile, [make_bib(oclc="(OCoLC)ocm10698981")])
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert [f.records for f in job.files.all()] == [1]
    assert list(IncomingFile.objects.values_list("records", flat=True)) == [1]


def test_oclc_report_names_give_the_collection_and_the_file():
    name = (
        "ALMAD-ALMAD.2763994.IN.BIB.D20261129.T140231123."
        "1234567.ALMAD.20261129T190231.j2.001.mrc.xrefrpt.txt"
    )
    assert report_subject(name) == ("2763994", "1234567.ALMAD.20261129T190231.j2.001.mrc")
    assert report_subject("notes.txt") is None


def test_files_that_went_to_the_default_collection_are_named_on_the_profile_and_job_pages(
    demo_exchange,  # noqa: F811
    superuser,
):
    profile = demo_exchange
    default_id = profile.collection_id  # the demo's collection is the institution's default
    right = republish(profile, [make_bib(oclc="(OCoLC)ocm10698981")])
    fetch_reports(profile)
    assert [f.elsewhere for f in reported_files(profile)] == [False]

    profile.collection_id = "7654321"  # well-formed, unknown to OCLC
    profile.save()
    make_bib(oclc="(OCoLC)10699347")
    wrong = _incremental(profile)
    assert wrong.count_new == 1
    (incoming,) = IncomingFile.objects.filter(file_name=wrong.files.get().name)
    assert incoming.used_default_collection and incoming.status == "processed"
    fetch_reports(profile)

    client = Client()
    client.login(username=superuser.username, password=PASSWORD)
    page = client.get(f"/admin/profiles/publishingprofile/{profile.pk}/change/").content.decode()
    said = re.sub(r"\s+", " ", page)
    assert 'id="collection-elsewhere"' in said
    assert f"under collection {default_id}, not under collection 7654321" in said
    assert f"Job {wrong.pk}" in said
    job_page = re.sub(r"\s+", " ", client.get(f"/publishing/jobs/{wrong.pk}/").content.decode())
    assert f"this job's file under collection {default_id}, not under collection 7654321" in (
        job_page
    )
    assert (
        'id="collection-elsewhere"'
        not in client.get(f"/publishing/jobs/{right.pk}/").content.decode()
    )

    # Corrected: the next file goes where it should, and the profile stops warning.
    profile.collection_id = default_id
    profile.save()
    make_bib(oclc="(OCoLC)123207537")
    fixed = _incremental(profile)
    fetch_reports(profile)
    page = client.get(f"/admin/profiles/publishingprofile/{profile.pk}/change/").content.decode()
    assert 'id="collection-elsewhere"' not in page
    # The job that went astray still says so.
    job_page = client.get(f"/publishing/jobs/{wrong.pk}/").content.decode()
    assert 'id="collection-elsewhere"' in job_page
    assert fixed.files.count() == 1


@pytest.mark.browser
def test_a_librarian_sees_that_oclc_used_the_default_collection(
    page,
    demo_exchange,  # noqa: F811
    superuser,
):
    profile = demo_exchange
    default_id = profile.collection_id
    profile.collection_id = "7654321"
    profile.save()
    job = republish(profile, [make_bib(oclc="(OCoLC)ocm10698981")])
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    fetch_reports(profile)

    login(page, superuser.username, PASSWORD)
    page.goto(f"/admin/profiles/publishingprofile/{profile.pk}/change/")
    warning = page.locator("#collection-elsewhere")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(
        f"OCLC processed the latest file of this profile under collection {default_id}, "
        "not under collection 7654321."
    )
    warning.get_by_role("link", name=f"Job {job.pk}").click()
    expect(page.locator("#collection-elsewhere")).to_contain_text(
        f"OCLC processed this job's file under collection {default_id}, not under collection "
        "7654321."
    )
    expect(page.locator("#collection-elsewhere")).to_contain_text("default collection")
