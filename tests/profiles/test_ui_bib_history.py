"""The record page's publishing history partial (templates/profiles/_bib_history.html)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from profiles.models import JobFile, JobRecord, PublishedRecord, PublishingJob

from .conftest import make_bib

pytestmark = pytest.mark.django_db


def sent_in_job(profile, bib, outcome="new", **ledger_fields) -> PublishingJob:
    job = PublishingJob.objects.create(
        profile=profile, kind="incremental", status="succeeded", stage="done"
    )
    JobFile.objects.create(
        job=job, sequence=1, name=f"1234567.ALMAD.x.j{job.pk}.001.mrc", sha256="0" * 64
    )
    JobRecord.objects.create(
        job=job, bib_id=bib.pk, mms_id=bib.mms_id, outcome=outcome, file_sequence=1
    )
    PublishedRecord.objects.update_or_create(
        profile=profile,
        bib=bib,
        defaults={
            "status": "published",
            "content_hash": bib.content_hash,
            "oclc_numbers": bib.oclc_numbers,
            "ldr05": "n" if outcome == "new" else "c",
            "job": job,
            "file_name": f"1234567.ALMAD.x.j{job.pk}.001.mrc",
            "sent_at": timezone.now(),
            **ledger_fields,
        },
    )
    return job


def test_the_record_page_shows_when_where_and_how_each_profile_last_sent_the_bib(
    make_profile,
):
    production = make_profile(None)
    test = make_profile(None, name="Test collection", collection_id="7654321")
    bib = make_bib(oclc="(OCoLC)4711")
    first = sent_in_job(production, bib)
    last = sent_in_job(production, bib, outcome="changed")
    sent_in_job(test, bib)

    with CaptureQueriesContext(connection) as captured:
        html = render_to_string("profiles/_bib_history.html", {"bib": bib})

    assert len(captured) <= 3
    assert "Test collection" in html and production.name in html
    assert f"Job {last.pk}" in html and f"1234567.ALMAD.x.j{last.pk}.001.mrc" in html
    assert "Published" in html and "4711" in html
    assert f"Job {first.pk}" in html and "Updated" in html  # the recent outcomes list


def test_a_bib_never_sent_says_so(db):
    html = render_to_string("profiles/_bib_history.html", {"bib": make_bib()})
    assert "No publishing profile has sent this record yet." in html
