"""The LHR loop end to end on PostgreSQL: the LHR profile publishes MARC holdings records through
the emulated OCLC file exchange (a real SSH server, a real SFTP client) into an LHR collection,
whose processing keeps LHRs per institution, symbol and OCLC number and sets the holdings. After
each step the LHRs at OCLC are exactly what the ledger says was sent (reconciliation at zero),
the bib profile's holdings reconcile at zero too, and every file passes yaz-marcdump and the
MARC21 slim schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasync.intake import accept_collection
from datasync.models import Collection, Holding, Institution, LocalHoldingsRecord
from ftp.models import SftpConnection
from profiles.engine.holdings import holdings_id_for
from profiles.models import (
    LHR_DIRECTORY,
    InstitutionOclcSymbol,
    PublishedRecord,
    PublishingJob,
    PublishingProfile,
)
from records import actions
from records.models import ExportTag
from tests.oracles import schema_problems
from tests.profiles.conftest import make_bib, run
from tests.profiles.conftest import reconcile_through_api as reconcile
from tests.profiles.test_reconcile_loop import demo_exchange  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lhr_exchange(demo_exchange):  # noqa: F811
    """The demo exchange plus an accepted LHR collection of ALMAD, a law library with a symbol
    of its own at both ends, and an active LHR profile publishing to in/lhr."""
    bib_profile = demo_exchange
    almad = Institution.objects.get(symbol="ALMAD")
    Institution.objects.create(symbol="ALMAL", name="Alma Demo University Law Library")
    collection = Collection.objects.create(
        institution=almad,
        name="LHRs from Alma",
        data_sync_type=Collection.DataSyncType.LHR,
        use_record_status=True,
    )
    accept_collection(collection)
    InstitutionOclcSymbol.objects.create(library="LAW", symbol="ALMAL")
    connection = SftpConnection.objects.get(name="OCLC Data Sync (emulated)")
    connection.pk = None
    connection.name = "OCLC Data Sync LHR (emulated)"
    connection.sub_directory = LHR_DIRECTORY
    connection.save()
    lhr_profile = PublishingProfile(
        record_kind=PublishingProfile.RecordKind.HOLDINGS,
        name="Publish local holdings records (LHR) to OCLC",
        oclc_symbol="ALMAD",
        collection_id=collection.collection_id,
        publishing_mode=PublishingProfile.Mode.FULL,
        status=PublishingProfile.Status.ACTIVE,
        ftp_connection=connection,
    )
    lhr_profile.full_clean()
    lhr_profile.save()
    return bib_profile, lhr_profile


def publish(profile, mode=None) -> PublishingJob:
    job = run(profile, mode)
    assert job.status == PublishingJob.Status.SUCCEEDED, job.failure_message
    for name, path in job.files.values_list("name", "local_path"):
        assert schema_problems(Path(path).read_bytes()) == "", name
    return job


def at_oclc() -> set[tuple[str, str, int]]:
    """(symbol, LHR 001, OCLC number) of every LHR ALMAD's files left in WorldCat."""
    return set(
        LocalHoldingsRecord.objects.filter(institution__symbol="ALMAD").values_list(
            "symbol", "control_number", "record__oclc_number"
        )
    )


def in_ledger(profile) -> set[tuple[str, str, int]]:
    """The same, as the LHR profile's ledger says it was sent."""
    out = set()
    rows = PublishedRecord.objects.filter(profile=profile, status="published")
    for numbers, sent in rows.values_list("oclc_numbers", "holdings_sent"):
        for part in sent.split():
            holding_id, _, symbol = part.partition(":")
            out.add((symbol, str(holdings_id_for(int(holding_id))), int(numbers.split()[0])))
    return out


def holders(number: int) -> set[str]:
    return set(
        Holding.objects.filter(record__oclc_number=number).values_list(
            "institution__symbol", flat=True
        )
    )


def reconciled(bib_profile, lhr_profile) -> None:
    assert at_oclc() == in_ledger(lhr_profile)
    result = reconcile(bib_profile)
    assert result.total == 0, result.differences


def test_lhrs_go_round_the_loop_with_shared_numbers_and_several_libraries(lhr_exchange):
    bib_profile, lhr_profile = lhr_exchange
    one = make_bib(oclc="(OCoLC)10698981")
    other = make_bib(oclc="(OCoLC)ocm10698981")  # the same OCLC number on a second bib
    serial = make_bib(oclc="(OCoLC)10699329", tag=ExportTag.HOLDINGS_ONLY)
    actions.update_holding(serial.holdings.get(), textual_holdings="v.1(1990)-v.20(2009)")
    law = actions.add_holding(serial, "LAW", "STACKS", "KF1")
    withdrawn = make_bib(oclc="(OCoLC)10699230")

    # The bib profile publishes its bibs; the one tagged Publish holdings only is not its own.
    bib_job = run(bib_profile, "incremental")
    assert bib_job.status == PublishingJob.Status.SUCCEEDED, bib_job.failure_message
    assert bib_job.count_new == 3 and bib_job.count_skipped == 1

    # n: the LHR Full sends every holdings record; OCLC keeps one LHR per symbol and record.
    full = publish(lhr_profile)
    assert full.count_new == 4
    assert {(s, n) for s, _, n in at_oclc()} == {
        ("ALMAD", 10698981),
        ("ALMAD", 10699329),
        ("ALMAL", 10699329),
        ("ALMAD", 10699230),
    }
    assert len(at_oclc()) == 5  # two LHRs on the shared number, one per bib
    assert holders(10699329) == {"ALMAD", "ALMAL"}
    serial_lhr = LocalHoldingsRecord.objects.get(symbol="ALMAD", record__oclc_number=10699329)
    assert serial_lhr.textual_holdings == "v.1(1990)-v.20(2009)"
    reconciled(bib_profile, lhr_profile)

    # c, with the shared number: one bib's holdings change, the other's are sent with them and
    # survive OCLC's replace-all on the number.
    actions.update_holding(one.holdings.get(), call_number="QA76.73 .P22")
    job = publish(lhr_profile)
    assert job.count_changed == 2
    on_shared = LocalHoldingsRecord.objects.filter(record__oclc_number=10698981)
    assert on_shared.count() == 2
    assert "QA76.73 .P22" in set(on_shared.values_list("call_number", flat=True))
    reconciled(bib_profile, lhr_profile)

    # A library loses its last copy while another keeps one: only its holding goes.
    actions.delete_holding(law)
    publish(lhr_profile)
    assert holders(10699329) == {"ALMAD"}
    assert not LocalHoldingsRecord.objects.filter(symbol="ALMAL").exists()
    reconciled(bib_profile, lhr_profile)

    # d: a withdrawn bib's LHRs are deleted and its holding with them.
    actions.delete_bib(withdrawn)
    job = publish(lhr_profile)
    assert job.count_deleted == 1
    assert not LocalHoldingsRecord.objects.filter(record__oclc_number=10699230).exists()
    assert holders(10699230) == set()
    bib_after = run(bib_profile, "incremental")
    assert bib_after.status == PublishingJob.Status.SUCCEEDED, bib_after.failure_message
    assert holders(10699230) == set()
    reconciled(bib_profile, lhr_profile)
    assert other.holdings.count() == 1


def test_a_library_losing_its_last_copy_loses_only_its_holding_through_the_bib_profile(
    demo_exchange,  # noqa: F811
):
    bib_profile = demo_exchange
    Institution.objects.create(symbol="ALMAL", name="Alma Demo University Law Library")
    InstitutionOclcSymbol.objects.create(library="LAW", symbol="ALMAL")
    bib = make_bib(oclc="(OCoLC)10699247")
    law = actions.add_holding(bib, "LAW", "STACKS", "KF1")
    kept = make_bib(oclc="(OCoLC)10699266")

    publish(bib_profile, "incremental")
    assert holders(10699247) == {"ALMAD", "ALMAL"}
    assert holders(10699266) == {"ALMAD"}
    assert reconcile(bib_profile).total == 0

    actions.delete_holding(law)
    publish(bib_profile, "incremental")
    assert holders(10699247) == {"ALMAD"}
    assert reconcile(bib_profile).total == 0

    actions.delete_holding(bib.holdings.get())
    publish(bib_profile, "incremental")
    assert holders(10699247) == set()
    assert holders(10699266) == {"ALMAD"}
    assert reconcile(bib_profile).total == 0
    assert kept.holdings.count() == 1
