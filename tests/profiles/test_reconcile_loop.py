"""Closing the loop on one machine: the demo set-up, a Republish set through the emulated OCLC
exchange (real asyncssh server, real paramiko client), OCLC's processing, reconciliation through
the WorldCat Metadata API (the emulated API over real HTTP, with Collection Manager's holdings
export for unknown holdings), and the cross-reference write-back."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.management import call_command

from datasync.filex import start_filex
from datasync.models import Holding
from ftp.models import SftpConnection
from profiles.engine import run_queued
from profiles.models import DEFAULT_PROFILE_NAME, PublishedRecord, PublishingJob, PublishingProfile
from profiles.reconcile import STALE, republish_differences
from profiles.xref import fetch_reports
from records import actions
from records.models import BibSet, BibSetMember

from .conftest import make_bib, run
from .conftest import reconcile_through_api as reconcile

pytestmark = pytest.mark.django_db(transaction=True)


async def _close(acceptor) -> None:
    acceptor.close()
    await acceptor.wait_closed()


@pytest.fixture
def demo_exchange(settings, tmp_path, publish_dir, live_server):
    """The emulated OCLC exchange on a free port, its API on the live server, and the demo
    set-up of both sides."""
    from profiles.worldcat.client import forget_tokens

    forget_tokens()
    settings.DATA_DIR = tmp_path
    settings.OCLC_API_ROOT = f"{live_server.url}/oclc"
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    acceptor, _key = asyncio.run_coroutine_threadsafe(
        start_filex(host="127.0.0.1", port=0, root=settings.OCLC_FILEX_ROOT, pickup_delay=3600),
        loop,
    ).result(timeout=30)
    settings.OCLC_FILEX_PORT = acceptor.get_port()
    call_command("setup_demo_oclc")
    call_command("setup_demo_publishing")
    yield PublishingProfile.objects.get(name=DEFAULT_PROFILE_NAME)
    # Closed on its own loop's thread: asyncio loops are not thread-safe, and closing from here
    # raced with the loop (a TypeError in asyncio's server close, now and then).
    asyncio.run_coroutine_threadsafe(_close(acceptor), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def republish(profile, bibs) -> PublishingJob:
    bib_set = BibSet.objects.create(name=f"Initial file {BibSet.objects.count()}")
    BibSetMember.objects.bulk_create(BibSetMember(bib_set=bib_set, bib=b) for b in bibs)
    return run(profile, bib_set=bib_set)


def test_publish_process_reconcile_and_write_back_close_the_loop(demo_exchange):
    profile = demo_exchange
    connection = SftpConnection.objects.get(name="OCLC Data Sync (emulated)")
    assert connection.is_pinned and connection.sub_directory == "/xfer/metacoll/in/bib"
    assert (profile.status, profile.publishing_mode) == ("active", "incremental")

    matched = make_bib(oclc="(OCoLC)ocm10698981")
    merged = make_bib(oclc="(OCoLC)123207537")
    unnumbered = make_bib(oclc=None)
    withdrawn = make_bib(oclc="(OCoLC)10699347")
    job = republish(profile, [matched, merged, unnumbered, withdrawn])
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert Holding.objects.filter(institution__symbol="ALMAD").count() == 3

    result = reconcile(profile)
    assert result.total == 0, result.differences
    assert result.without_number == 1

    summary = fetch_reports(profile)
    assert summary.counts["replaced"] == 1  # 123207537 was merged into 10699336
    assert summary.counts["staged"] == 1  # the unnumbered record got its Staging number
    merged.refresh_from_db()
    unnumbered.refresh_from_db()
    assert merged.oclc_numbers == "10699336"
    assert unnumbered.oclc_numbers.startswith("800000")

    # Untag one record; the Incremental run sends its delete and OCLC removes the holding.
    actions.set_export_tag([withdrawn], "dont_publish")
    job = run(profile, "incremental")
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert job.count_deleted == 1
    assert not Holding.objects.filter(record__oclc_number=10699347).exists()
    after = reconcile(profile)
    assert after.total == 0, after.differences
    # The numbers written back went out with the Incremental: now every record is matched.
    assert after.without_number == 0
    assert fetch_reports(profile).counts["replaced"] == 0


def test_a_stale_holding_is_deleted_again_by_republish_these(demo_exchange):
    profile = demo_exchange
    kept = make_bib(oclc="(OCoLC)ocm10698981")
    withdrawn = make_bib(oclc="(OCoLC)10699347")
    job = republish(profile, [kept, withdrawn])
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert Holding.objects.filter(record__oclc_number=10699347).exists()
    # The record is withdrawn and its delete recorded as sent, but the file never reached
    # OCLC (lost on the way): the ledger says deleted, WorldCat still holds it.
    actions.set_export_tag([withdrawn], "dont_publish")
    PublishedRecord.objects.filter(profile=profile, bib=withdrawn).update(
        status=PublishedRecord.Status.DELETED, ldr05="d"
    )
    before = reconcile(profile)
    assert before.counts[STALE] == 1 and before.total == 1, before.differences
    assert before.republishable() == [withdrawn.pk]

    job = republish_differences(profile).job
    run_queued(job.pk)  # the worker's part
    job.refresh_from_db()
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    (outcome,) = job.records.all()
    assert (outcome.bib_id, outcome.outcome, outcome.reason) == (
        withdrawn.pk,
        "deleted",
        "dont_publish",
    )
    # OCLC processed the delete (LDR/05 d with the numbers last sent): the holding is gone.
    assert not Holding.objects.filter(record__oclc_number=10699347).exists()
    assert Holding.objects.filter(record__oclc_number=10698981).exists()
    assert reconcile(profile).total == 0
    ledger = PublishedRecord.objects.get(profile=profile, bib=withdrawn)
    assert (ledger.status, ledger.oclc_numbers, ledger.job_id) == ("deleted", "10699347", job.pk)


def test_with_staging_off_an_original_gets_a_new_number_that_comes_back_to_the_bib(
    demo_exchange,
):
    from datasync.models import Collection, WorldCatRecord

    profile = demo_exchange
    Collection.objects.update(limit_to_staging=False)
    original = make_bib(oclc=None)
    job = republish(profile, [original])
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message

    # OCLC added it to WorldCat under a new number and set the holding on it.
    (holding,) = Holding.objects.filter(institution__symbol="ALMAD")
    new_number = holding.record.oclc_number
    assert holding.local_system_number == str(original.mms_id)
    assert holding.record.source == WorldCatRecord.Source.INCOMING
    assert new_number < 8_000_000_000  # a real number, not a provisional Staging one

    summary = fetch_reports(profile)
    assert summary.counts["added"] == 1
    original.refresh_from_db()
    assert original.oclc_numbers == str(new_number)

    # The next Incremental sends it with its number: OCLC matches it, nothing new is created.
    job = run(profile, "incremental")
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    assert job.count_changed == 1
    assert WorldCatRecord.objects.filter(source=WorldCatRecord.Source.INCOMING).count() == 1
    after = reconcile(profile)
    assert after.total == 0 and after.without_number == 0, after.differences
