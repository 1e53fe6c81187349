"""Set or unset a holding in WorldCat now (emulated Metadata API over real HTTP), recorded in the
ledger so the next file job neither repeats nor contradicts it (real sshd for that job)."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from audit.models import AuditEntry
from datasync.models import Holding, LocalData, WorldCatRecord
from profiles.models import JobRecord, PublishedRecord, PublishingJob
from profiles.worldcat.holdings_now import SET, UNSET, change_holdings_now
from records import actions

from .conftest import make_bib, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_profile(profile, oclc_api):
    oclc_api.attach(profile)
    return profile


def incremental(profile) -> PublishingJob:
    job = run(profile, "incremental")
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    return job


def test_set_now_is_not_repeated_by_the_next_incremental(api_profile, oclc_api, superuser):
    WorldCatRecord.objects.create(oclc_number=4242)
    bib = make_bib(oclc="(OCoLC)4242", tag="publish_bib")
    (outcome,) = change_holdings_now(api_profile, [bib], SET, actor=superuser)
    assert outcome.done and outcome.message == "Set Holding Succeeded."
    assert Holding.objects.filter(institution=oclc_api.institution, record__oclc_number=4242)
    row = PublishedRecord.objects.get(profile=api_profile, bib=bib)
    assert (row.status, row.content_hash, row.oclc_numbers) == (
        "published",
        bib.content_hash,
        "4242",
    )
    assert AuditEntry.objects.filter(action="profiles.holding.set_now", actor=superuser).exists()

    job = incremental(api_profile)
    assert job.records_sent == 0 and not job.files.exists()
    assert JobRecord.objects.get(job=job, bib_id=bib.pk).outcome == "unchanged"

    # Set again: OCLC says already set, which is what the ledger wants.
    (again,) = change_holdings_now(api_profile, [bib], SET)
    assert again.done and again.message == "WorldCat Holding already set."


def test_unset_now_after_untagging_is_not_repeated_as_a_file_delete(api_profile, oclc_api):
    WorldCatRecord.objects.create(oclc_number=4343)
    bib = make_bib(oclc="(OCoLC)4343", tag="publish_bib")
    change_holdings_now(api_profile, [bib], SET)
    # Still published by the profile: unsetting now would be undone by the next job.
    (refused,) = change_holdings_now(api_profile, [bib], UNSET)
    assert not refused.done and "still publishes" in refused.message
    assert Holding.objects.filter(record__oclc_number=4343).exists()

    actions.set_export_tag([bib], "dont_publish")
    (outcome,) = change_holdings_now(api_profile, [bib], UNSET)
    assert outcome.done and outcome.message == "Unset Holdings Succeeded."
    assert not Holding.objects.filter(record__oclc_number=4343).exists()
    assert PublishedRecord.objects.get(profile=api_profile, bib=bib).status == "deleted"

    job = incremental(api_profile)
    assert job.count_deleted == 0 and not job.files.exists()


def test_unset_without_cascade_is_refused_by_oclc_while_local_data_is_attached(
    api_profile, oclc_api
):
    record = WorldCatRecord.objects.create(oclc_number=4444)
    bib = make_bib(oclc="(OCoLC)4444", tag="dont_publish")
    Holding.objects.create(institution=oclc_api.institution, record=record)
    LocalData.objects.create(institution=oclc_api.institution, record=record, kind="lhr")
    (blocked,) = change_holdings_now(api_profile, [bib], UNSET)
    assert not blocked.done and "Local holdings records (LHRs) are attached" in blocked.message
    assert not PublishedRecord.objects.filter(bib=bib).exists()
    (done,) = change_holdings_now(api_profile, [bib], UNSET, cascade=True)
    assert done.done and not LocalData.objects.exists() and not Holding.objects.exists()
    assert AuditEntry.objects.get(action="profiles.holding.unset_now").data["cascade"] is True


def test_records_without_a_number_or_not_published_are_refused_plainly(api_profile):
    unnumbered = make_bib(oclc=None, tag="publish_bib")
    untagged = make_bib(oclc="(OCoLC)4545", tag="dont_publish")
    first, second = change_holdings_now(api_profile, [unnumbered, untagged], SET)
    assert not first.done and "stays with files" in first.message
    assert not second.done and "does not publish this record" in second.message
    assert not PublishedRecord.objects.exists()


def test_the_record_page_and_the_record_list_lead_to_the_confirmation(
    api_profile, client, superuser
):
    WorldCatRecord.objects.create(oclc_number=4646)
    bib = make_bib(oclc="(OCoLC)4646", tag="publish_bib")
    client.force_login(superuser)
    page = client.get(bib.get_absolute_url()).content.decode()
    assert "Set holding in WorldCat now" in page and "Unset holding now" in page

    response = client.post(
        reverse("admin:records_bib_changelist"),
        {"action": "set_holding_now", ACTION_CHECKBOX_NAME: [str(bib.pk)]},
    )
    assert response.status_code == 302 and "holdings-now" in response["Location"]
    confirm = client.get(response["Location"]).content.decode()
    assert str(bib.mms_id) in confirm and "Set holding in WorldCat now" in confirm

    unset = client.get(f"{reverse('profiles:holdings_now')}?action=unset&bibs={bib.pk}")
    assert "cascadeDelete" in unset.content.decode()
    assert "cannot be brought back" in unset.content.decode()

    done = client.post(
        reverse("profiles:holdings_now"),
        {"action": "set", "bibs": str(bib.pk), "profile": str(api_profile.pk)},
    ).content.decode()
    assert "Set Holding Succeeded." in done
    assert Holding.objects.filter(record__oclc_number=4646).exists()
