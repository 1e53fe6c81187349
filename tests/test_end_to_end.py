"""The whole loop with real records: import real MARC from ../shared, tag, Full publish through the
emulated OCLC file exchange (a real asyncssh server, reached by a real SFTP client), OCLC's
processing, holdings set; untag and delete some, Incremental, holdings removed; reconciliation at
zero; the cross-reference write-back fills the missing OCLC numbers."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from datasync.models import Holding
from profiles.engine.api_delivery import VIA_API
from profiles.models import PublishedRecord, PublishingJob, PublishingProfile, WorldCatApi
from profiles.xref import fetch_reports
from records import actions
from records.models import Bib, ExportTag
from tests.profiles.conftest import reconcile_through_api as reconcile
from tests.profiles.conftest import run
from tests.profiles.test_reconcile_loop import demo_exchange  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _run(profile: PublishingProfile, mode: str) -> PublishingJob:
    job = run(profile, mode)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    return job


def _held_numbers() -> set[int]:
    return set(
        Holding.objects.filter(institution__symbol="ALMAD").values_list(
            "record__oclc_number", flat=True
        )
    )


@pytest.mark.parametrize("delivery", ["files", "api"])
def test_real_records_go_round_the_whole_loop(demo_exchange, shared_marc, delivery):  # noqa: F811
    """The same scenario with the Incremental's changes delivered by files (Data Sync) or
    through the WorldCat Metadata API: the same holdings, and reconciliation at zero."""
    profile = demo_exchange
    # 30 Library of Congress records (UTF-8, Arabic, Hebrew, CJK...) and 12 MARC-8 UVA records,
    # one of which the import refuses (a stray diacritic at the end of a 700 $4): exit status 1.
    for name, status in (("traject/test_data.utf8.mrc", None), ("solrmarc/record_set_045.mrc", 1)):
        args = [str(shared_marc / name), "--tag", "publish_bib", "--holdings", "MAIN:STACKS"]
        try:
            call_command("import_marc", *args, "--json")
        except SystemExit as exited:
            assert exited.code == status
    bibs = list(Bib.objects.order_by("pk"))
    assert len(bibs) == 41
    numbered = [b for b in bibs if b.oclc_numbers]
    unnumbered = [b for b in bibs if not b.oclc_numbers]
    assert numbered, "the real records carry OCLC numbers"

    profile.publishing_mode = PublishingProfile.Mode.FULL
    profile.save()
    full = _run(profile, "full")
    assert full.count_new == len(bibs)
    profile.refresh_from_db()
    assert profile.publishing_mode == PublishingProfile.Mode.INCREMENTAL
    held = _held_numbers()
    for bib in numbered:
        assert int(bib.oclc_number_list[0]) in held, bib.mms_id
    assert reconcile(profile).total == 0

    # OCLC's cross-reference reports give the unnumbered records their (Staging) numbers.
    summary = fetch_reports(profile)
    assert summary.counts["staged"] == len(unnumbered)
    for bib in unnumbered:
        bib.refresh_from_db()
        assert bib.oclc_numbers, f"{bib.mms_id} got no number back"
    assert fetch_reports(profile).counts["staged"] == 0  # a report is applied once

    WorldCatApi.objects.filter(profile=profile).update(incremental_delivery=delivery)
    untagged, deleted = numbered[0], numbered[1]
    actions.set_export_tag([untagged], ExportTag.DONT_PUBLISH)
    actions.delete_bib(deleted)
    incremental = _run(profile, "incremental")
    assert incremental.count_deleted == 2
    via_api = PublishedRecord.objects.filter(profile=profile, job=incremental, file_name=VIA_API)
    assert via_api.count() == (incremental.records_sent if delivery == "api" else 0)
    held = _held_numbers()
    assert int(untagged.oclc_number_list[0]) not in held
    assert int(deleted.oclc_number_list[0]) not in held
    assert int(numbered[2].oclc_number_list[0]) in held
    assert reconcile(profile).total == 0
