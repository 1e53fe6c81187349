""" "What will change in WorldCat": the confirmation shown before Run now (Full, Baseline,
Incremental) and Republish set counts what the job then does, record for record, because both
come from the job's own selection. Real PostgreSQL, real sshd; the queued job is run by the
worker's part (run_queued)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

from profiles.engine import run_queued
from profiles.models import PublishingJob, PublishingProfile
from records import actions
from records.models import BibSet, ExportTag

from .conftest import edit_bib, make_bib, sent_records
from .conftest import run as run_in_process

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
OUTCOMES = ("new", "changed", "deleted", "unchanged", "skipped")


def shown_counts(html: str) -> dict[str, int]:
    found = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    assert set(found) == set(OUTCOMES), found
    return {k: int(v) for k, v in found.items()}


def job_counts(job: PublishingJob) -> dict[str, int]:
    counts = job.counts()
    assert counts.pop("failed") == 0
    return counts


def confirm_and_run(client, profile, *, mode_shown: str) -> tuple[dict, PublishingJob]:
    """Open Run now's confirmation, check the mode it names, confirm; the worker runs the job."""
    url = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    page = client.get(url)
    html = page.content.decode()
    assert "What will change in WorldCat" in html
    assert f'id="preview-mode">{mode_shown}<' in html
    before = set(PublishingJob.objects.values_list("pk", flat=True))
    assert not PublishingJob.objects.exclude(pk__in=before).exists()  # a preview starts nothing
    mode = re.search(r'name="confirmed_mode" value="(\w+)"', html).group(1)
    client.post(url, {"confirmed_mode": mode})
    job = PublishingJob.objects.exclude(pk__in=before).get()
    assert run_queued(job.pk) == "succeeded"
    job.refresh_from_db()
    return shown_counts(html), job


def test_each_mode_s_preview_counts_what_its_job_then_sends(
    client, superuser, make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    client.force_login(superuser)
    bibs = [make_bib(f"Initial {i}") for i in range(4)]
    initial = BibSet.objects.create(name="Initial file for OCLC")
    actions.add_to_set(initial, bibs[:2] + [make_bib("Without holdings", holdings=0)])

    # Republish set (Step 5): the set page's Next shows the preview, Submit runs it.
    url = reverse("admin:profiles_publishingprofile_republish", args=[profile.pk])
    html = client.post(url, {"bib_set": initial.pk}).content.decode()
    assert not PublishingJob.objects.exists()
    shown = shown_counts(html)
    client.post(url, {"bib_set": initial.pk, "confirmed": "1"})
    job = PublishingJob.objects.get()
    assert run_queued(job.pk) == "succeeded"
    job.refresh_from_db()
    assert (
        shown
        == job_counts(job)
        == {
            "new": 2,
            "changed": 0,
            "deleted": 0,
            "unchanged": 0,
            "skipped": 1,
        }
    )
    assert len(sent_records(sshd)) == 2

    # Baseline: records the rest as published without sending; says how many were never sent.
    profile.publishing_mode = PublishingProfile.Mode.BASELINE
    profile.save()
    shown, job = confirm_and_run(client, profile, mode_shown="Baseline")
    assert shown == job_counts(job) == {**dict.fromkeys(OUTCOMES, 0), "skipped": 4}
    assert job.files.count() == 0 and len(sent_records(sshd)) == 2

    # Incremental: changes, a delete, a new record, an untouched one.
    edit_bib(bibs[0], "A note")
    actions.set_export_tag([bibs[1]], ExportTag.DONT_PUBLISH)
    make_bib("New since the Baseline")
    actions.set_suppressed(make_bib("Suppressed at once"), True)
    profile.refresh_from_db()
    assert profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL
    shown, job = confirm_and_run(client, profile, mode_shown="Incremental")
    assert shown == job_counts(job)
    assert (shown["new"], shown["changed"], shown["deleted"]) == (1, 1, 1)

    # Full: everything eligible again, and deletes for what the ledger holds and is not.
    actions.delete_bib(bibs[2])
    profile.publishing_mode = PublishingProfile.Mode.FULL
    profile.save()
    shown, job = confirm_and_run(client, profile, mode_shown="Full")
    assert shown == job_counts(job)
    assert (shown["deleted"], shown["changed"]) == (1, 3)
    reasons = Counter(job.records.values_list("outcome", "reason"))
    assert sum(reasons.values()) == sum(shown.values())


def test_a_baseline_preview_says_how_many_records_it_would_mark_published_unsent(
    client, superuser, make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    sent = [make_bib() for _ in range(2)]
    unsent = [make_bib() for _ in range(3)]
    initial = BibSet.objects.create(name="Initial")
    actions.add_to_set(initial, sent)
    assert run_in_process(profile, bib_set=initial).status == "succeeded"
    profile.publishing_mode = PublishingProfile.Mode.BASELINE
    profile.save()
    client.force_login(superuser)
    html = client.get(
        reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    ).content.decode()
    assert re.search(r'id="preview-never-sent">3 records<', html)
    assert "It sends nothing to OCLC" in html
    assert "If you are not sure whether your holdings are up to date in WorldCat" in html
    for bib in unsent[:3]:
        assert str(bib.mms_id) in html  # the examples
    assert not PublishingJob.objects.filter(kind="baseline").exists()


def test_a_stale_confirmation_starts_nothing_and_says_why(
    client, superuser, make_profile, sftp_connection, sshd
):
    profile = make_profile(sftp_connection, publishing_mode=PublishingProfile.Mode.BASELINE)
    make_bib()
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_run", args=[profile.pk])
    stale = client.get(url).content.decode()
    assert 'name="confirmed_mode" value="baseline"' in stale
    assert run_in_process(profile).status == "succeeded"  # another tab's Baseline: now Incremental
    response = client.post(url, {"confirmed_mode": "baseline"}, follow=True)
    assert "is now Incremental, not Baseline" in response.content.decode()
    assert PublishingJob.objects.count() == 1
    # A POST that confirms no mode shows the confirmation instead of starting a job.
    page = client.post(url)
    assert page.status_code == 200 and "What will change in WorldCat" in page.content.decode()
    assert PublishingJob.objects.count() == 1
