"""A profile that delivers its Incremental changes through the WorldCat Metadata API: holdings set
and unset over real HTTP against the emulated API (Django's live server), records without an
OCLC number still in a file over the real sshd, one ledger, and the ledger exact when OCLC
stops answering half-way."""

from __future__ import annotations

import logging
import time

import pytest
from django.urls import reverse

from datasync.models import ApiKey, ApiToken, Holding, WorldCatRecord
from profiles.engine import retry, run_now
from profiles.models import JobRecord, PublishedRecord, PublishingJob, WorldCatApi
from profiles.worldcat.connection import confirm_production
from records import actions

from .conftest import edit_bib, make_bib, no_sleep, run, sent_records
from .conftest import reconcile_through_api as reconcile

pytestmark = pytest.mark.django_db(transaction=True)

VIA = "WorldCat Metadata API"


@pytest.fixture
def api_profile(profile, oclc_api):
    api = oclc_api.attach(profile)
    api.incremental_delivery = WorldCatApi.Delivery.API
    api.save()
    profile.publishing_mode = "incremental"
    profile.save()
    return profile


def in_worldcat(*numbers: int) -> None:
    WorldCatRecord.objects.bulk_create(WorldCatRecord(oclc_number=n) for n in numbers)


def held(institution) -> set[int]:
    return set(
        Holding.objects.filter(institution=institution).values_list(
            "record__oclc_number", flat=True
        )
    )


def ledger(profile) -> dict[int, tuple[str, str, str]]:
    return {
        r.bib_id: (r.status, r.oclc_numbers, r.file_name)
        for r in PublishedRecord.objects.filter(profile=profile)
    }


def test_an_api_incremental_sets_and_unsets_holdings_and_files_only_what_has_no_number(
    api_profile, oclc_api, sshd, client, superuser
):
    in_worldcat(7001, 7002, 7003)
    survivor = WorldCatRecord.objects.create(oclc_number=7100)
    WorldCatRecord.objects.create(oclc_number=7101, merged_into=survivor)
    kept = make_bib(oclc="(OCoLC)7001")
    untagged = make_bib(oclc="(OCoLC)ocm00007002")
    deleted = make_bib(oclc="(OCoLC)7003")
    first = run(api_profile, "incremental")
    assert first.status == PublishingJob.Status.SUCCEEDED, first.failure_message
    assert (first.count_new, first.files.count()) == (3, 0)
    assert held(oclc_api.institution) == {7001, 7002, 7003}

    actions.set_export_tag([untagged], "dont_publish")
    actions.delete_bib(deleted)
    edit_bib(kept, "A changed note")
    merged = make_bib(oclc="(OCoLC)7101")
    unnumbered = make_bib(oclc=None)
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert (job.count_new, job.count_changed, job.count_deleted) == (2, 1, 2)

    # Only the record without an OCLC number went in a file (OCLC matches it by content).
    (only_file,) = job.files.all()
    assert list(sent_records(sshd, [only_file.name])) == [str(unnumbered.mms_id)]
    assert held(oclc_api.institution) == {7001, 7100}

    rows = ledger(api_profile)
    assert rows[untagged.pk] == ("deleted", "7002", VIA)
    assert rows[deleted.pk] == ("deleted", "7003", VIA)
    assert rows[merged.pk] == ("published", "7101", VIA)
    assert rows[kept.pk] == ("published", "7001", VIA)
    assert rows[unnumbered.pk] == ("published", "", only_file.name)
    outcomes = {r.bib_id: r for r in JobRecord.objects.filter(job=job)}
    assert outcomes[merged.pk].outcome == "new" and outcomes[merged.pk].file_sequence is None
    assert "set on 7100" in outcomes[merged.pk].detail
    assert "WorldCat Holding already set." in outcomes[kept.pk].detail
    assert outcomes[untagged.pk].reason == "dont_publish"
    assert "unset on 7002" in outcomes[untagged.pk].detail
    assert outcomes[unnumbered.pk].file_sequence == 1

    assert reconcile(api_profile).total == 0
    # The next Incremental finds nothing to do.
    quiet = run(api_profile, "incremental")
    assert quiet.records_sent == 0 and not quiet.files.exists()

    client.force_login(superuser)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "unset on 7002" in page
    assert "Through the WorldCat Metadata API: 4 of 4 holdings changed" in page
    assert "(2 set, 2 unset" in page
    assert "Setting holdings (WorldCat Metadata API)" in page


def test_a_storm_of_429s_is_ridden_out_by_a_job_and_no_secret_is_logged(
    api_profile, oclc_api, caplog
):
    caplog.set_level(logging.DEBUG)
    numbers = list(range(7201, 7207))
    in_worldcat(*numbers)
    bibs = [make_bib(oclc=f"(OCoLC){n}") for n in numbers]
    # Two calls a second: six calls and a token meet several 429s with Retry-After.
    ApiKey.objects.filter(pk=oclc_api.key.pk).update(rate_limit=2, rate_window_seconds=1)
    result = run_now(api_profile, mode="incremental", in_process=True, sleep=time.sleep)
    job = result.job
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert job.count_new == 6 and job.attempts == 1
    assert held(oclc_api.institution) == set(numbers)
    assert {r.bib_id for r in PublishedRecord.objects.filter(file_name=VIA)} == {b.pk for b in bibs}
    assert "waiting" in caplog.text  # the client was told to wait, and did
    assert oclc_api.secret not in caplog.text and "tk_" not in caplog.text


def test_a_failure_half_way_leaves_the_ledger_exact_and_a_retry_does_the_rest(
    api_profile, oclc_api, client, superuser
):
    numbers = list(range(7301, 7306))
    in_worldcat(*numbers)
    bibs = [make_bib(oclc=f"(OCoLC){n}") for n in numbers]
    # Two calls a minute, and a job that does not wait: the third call's retries run out.
    ApiKey.objects.filter(pk=oclc_api.key.pk).update(rate_limit=2, rate_window_seconds=600)
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.FAILED
    assert job.failure_category == "network" and "2 of 5 holdings done" in job.failure_message
    # The ledger says exactly what WorldCat holds: nothing recorded before OCLC's answer.
    done = {int(r.oclc_numbers) for r in PublishedRecord.objects.filter(profile=api_profile)}
    assert done == held(oclc_api.institution) and len(done) == 2
    assert not JobRecord.objects.filter(job=job).exists()
    client.force_login(superuser)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "2 of 5 holdings changed" in page and "A retry does the rest" in page

    ApiKey.objects.filter(pk=oclc_api.key.pk).update(rate_limit=0)
    again = retry(job, in_process=True, sleep=no_sleep)
    assert again.status == PublishingJob.Status.SUCCEEDED, again.failure_message
    assert again.attempts == 2 and again.count_new == 5
    assert held(oclc_api.institution) == set(numbers)
    details = [r.detail for r in JobRecord.objects.filter(job=job).order_by("bib_id")]
    assert sum("earlier attempt" in d for d in details) == 2
    assert {r.bib_id for r in PublishedRecord.objects.filter(job=job)} == {b.pk for b in bibs}
    assert reconcile(api_profile).total == 0


def test_a_number_oclc_does_not_know_is_that_records_failure(api_profile, oclc_api):
    in_worldcat(7401)
    known = make_bib(oclc="(OCoLC)7401")
    unknown = make_bib(oclc="(OCoLC)7499")
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.COMPLETED_WITH_ERRORS
    assert (job.count_new, job.count_failed) == (1, 1)
    failed = JobRecord.objects.get(job=job, bib_id=unknown.pk)
    assert failed.outcome == "failed" and failed.reason == "api_refused"
    assert "7499" in failed.detail
    assert set(ledger(api_profile)) == {known.pk}


def test_a_dry_run_calls_nothing(api_profile, oclc_api):
    in_worldcat(7501)
    bib = make_bib(oclc="(OCoLC)7501")
    job = run(api_profile, "incremental", dry_run=True)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert job.count_new == 1 and not Holding.objects.exists()
    assert not ApiToken.objects.exists() and not PublishedRecord.objects.exists()
    assert "Dry run: would set" in JobRecord.objects.get(job=job, bib_id=bib.pk).detail


def test_run_now_says_how_many_records_go_through_the_api(api_profile, client, superuser):
    make_bib(oclc="(OCoLC)7901")
    make_bib(oclc="(OCoLC)7902")
    make_bib(oclc=None)
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_run", args=[api_profile.pk])
    page = client.get(url).content.decode()
    assert "Of the 3 records to send, 2 go through the API" in page
    assert not PublishingJob.objects.exists()


def test_full_and_republish_still_send_files(api_profile, oclc_api, sshd, client, superuser):
    bib = make_bib(oclc="(OCoLC)7601")
    job = run(api_profile, "full")
    assert job.status == PublishingJob.Status.SUCCEEDED and job.files.count() == 1
    assert str(bib.mms_id) in sent_records(sshd)
    assert not ApiToken.objects.exists()
    client.force_login(superuser)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "WorldCat Metadata API" not in page and "Delivered: 1 of 1" in page


def test_an_unconfirmed_production_api_is_not_used_and_tests_never_leave_this_machine(
    api_profile, superuser, settings
):
    WorldCatApi.objects.filter(profile=api_profile).update(
        base_url="https://metadata.api.oclc.org/worldcat", token_url="https://oauth.oclc.org/token"
    )
    make_bib(oclc="(OCoLC)7701")
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.FAILED and job.failure_category == "config"
    assert "has not been confirmed" in job.failure_message
    assert not PublishedRecord.objects.exists()

    confirm_production(WorldCatApi.objects.get(profile=api_profile), actor=superuser)
    assert settings.WORLDCAT_API_LOCAL_ONLY
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.FAILED and job.failure_category == "config"
    assert "not on this machine" in job.failure_message


def test_the_profile_page_offers_the_delivery_choice(api_profile, client, superuser):
    client.force_login(superuser)
    page = client.get(
        reverse("admin:profiles_publishingprofile_change", args=[api_profile.pk])
    ).content.decode()
    assert "Delivery of Incremental changes" in page and "Files (Data Sync)" in page


def test_run_now_asks_for_the_confirmation_before_the_first_use_of_a_production_api(
    api_profile, client, superuser
):
    WorldCatApi.objects.filter(profile=api_profile).update(
        base_url="https://metadata.api.oclc.org/worldcat", token_url="https://oauth.oclc.org/token"
    )
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_run", args=[api_profile.pk])
    page = client.get(url).content.decode()
    assert "Delivered through the WorldCat Metadata API" in page and "Production" in page
    asked = client.post(url, {"confirmed_mode": "incremental"})
    assert asked.status_code == 302 and "confirm" in asked["Location"]
    assert not PublishingJob.objects.exists()

    # So does Run a Job's wizard, for the same Incremental, and comes back to its review.
    wizard = reverse("manage:run")
    response = client.post(
        wizard, {"job": f"run_now:{api_profile.pk}", "confirmed_mode": "incremental"}
    )
    assert response.status_code == 302 and "confirm" in response["Location"]
    assert "go%3Dreview" in response["Location"] and not PublishingJob.objects.exists()

    confirm = client.post(asked["Location"])
    assert confirm.status_code == 302 and confirm["Location"] == url
    response = client.post(url, {"confirmed_mode": "incremental"})
    assert response.status_code == 302 and PublishingJob.objects.count() == 1
    PublishingJob.objects.all().delete()
    client.post(wizard, {"job": f"run_now:{api_profile.pk}", "confirmed_mode": "incremental"})
    assert PublishingJob.objects.count() == 1


def test_an_unreachable_api_fails_the_job_before_its_files_go_and_the_retry_sends_both(
    api_profile, oclc_api, sshd
):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    WorldCatApi.objects.filter(profile=api_profile).update(
        base_url=f"http://127.0.0.1:{closed}/worldcat",
        token_url=f"http://127.0.0.1:{closed}/oauth/token",
    )
    in_worldcat(7801)
    numbered = make_bib(oclc="(OCoLC)7801")
    unnumbered = make_bib(oclc=None)
    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.FAILED and job.failure_category == "network"
    assert "0 of 1 holdings done" in job.failure_message
    assert not PublishedRecord.objects.exists() and not Holding.objects.exists()
    assert job.files.count() == 1 and not sent_records(sshd)  # written, not uploaded

    oclc_api.attach(api_profile)  # the right address again
    result = run_now(api_profile, mode="incremental", in_process=True, sleep=no_sleep)
    assert result.retry is not None and result.retry.pk == job.pk
    again = result.retry
    assert again.status == PublishingJob.Status.SUCCEEDED, again.failure_message
    assert list(sent_records(sshd)) == [str(unnumbered.mms_id)]
    assert held(oclc_api.institution) == {7801}
    assert ledger(api_profile)[numbered.pk] == ("published", "7801", VIA)
    assert result.job is not None and result.job.records_sent == 0


def test_the_record_page_says_which_records_go_through_the_api(
    api_profile, oclc_api, sshd, client, superuser
):
    from .test_record_next_job import next_job_text

    in_worldcat(7201, 7202)
    edited = make_bib(oclc="(OCoLC)7201")
    untagged = make_bib(oclc="(OCoLC)7202")
    assert run(api_profile, "incremental").status == PublishingJob.Status.SUCCEEDED
    edit_bib(edited, "A changed note")
    actions.set_export_tag([untagged], "dont_publish")
    unnumbered = make_bib(oclc=None)
    client.force_login(superuser)
    said = {b.pk: next_job_text(client, b, api_profile) for b in (edited, untagged, unnumbered)}
    assert said[edited.pk] == (
        "will be sent as changed: its holding set on OCLC number 7201 through the WorldCat "
        "Metadata API (no file)"
    )
    assert said[untagged.pk] == (
        "will be sent as deleted (Don't publish): its holding unset on OCLC number 7202 "
        "through the WorldCat Metadata API (no file)"
    )
    assert said[unnumbered.pk] == "will be sent as new"

    job = run(api_profile, "incremental")
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    (only_file,) = job.files.all()
    assert list(sent_records(sshd, [only_file.name])) == [str(unnumbered.mms_id)]
    assert held(oclc_api.institution) == {7201}
