"""OCLC's LHR processing, called directly (intake.receive_file into in/lhr): LHRs kept per
institution, symbol and number; replace-all per number (the wipe the shared-OCN safety avoids);
deletes per symbol; holdings following LHRs; the LHR reports."""

from __future__ import annotations

from datetime import date

import pytest

from datasync.intake import LHR_DIRECTORY, accept_collection, receive_file
from datasync.models import (
    Collection,
    Holding,
    IncomingFile,
    Institution,
    LocalHoldingsRecord,
    Report,
    WorldCatRecord,
)
from profiles.engine.holdings import holdings_id_for, holdings_record

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 29)


@pytest.fixture
def lhr_collection(institution) -> Collection:
    collection = Collection.objects.create(
        institution=institution,
        name="LHRs",
        data_sync_type=Collection.DataSyncType.LHR,
        use_record_status=True,
    )
    accept_collection(collection)
    WorldCatRecord.objects.create(oclc_number=555, title="Shared")
    Institution.objects.create(symbol="ALMAL", name="Law library")
    return collection


def lhr(status, holding_id, bib, symbol, call="QA1"):
    holding = (holding_id, "MAIN", "STACKS", call, "", "", "")
    return holdings_record(status, holding_id, bib, "555", symbol, holding, today=DAY)


def send(tmp_path, account, collection, records: list[bytes], name: str) -> IncomingFile:
    path = tmp_path / f"{collection.collection_id}.ALMAD.{name}.mrc"
    path.write_bytes(b"".join(records))
    return receive_file(path, account=account, directory=LHR_DIRECTORY)


def kept() -> set[tuple[str, str]]:
    return set(LocalHoldingsRecord.objects.values_list("symbol", "control_number"))


def control(holding_id: int) -> str:
    return str(holdings_id_for(holding_id))


def test_lhrs_are_kept_per_symbol_and_replaced_per_number(
    tmp_path, account, lhr_collection, filex_root
):
    first = send(
        tmp_path,
        account,
        lhr_collection,
        [lhr("n", 1, 11, "ALMAD"), lhr("n", 2, 22, "ALMAD"), lhr("n", 3, 11, "ALMAL")],
        "one",
    )
    assert first.status == IncomingFile.Status.PROCESSED, first.error
    assert len(kept()) == 3
    assert set(Holding.objects.values_list("institution__symbol", flat=True)) == {
        "ALMAD",
        "ALMAL",
    }
    reports = set(Report.objects.filter(incoming_file=first).values_list("kind", flat=True))
    assert reports == {"LhrProcessingReport", "LhrExceptionReport"}
    names = Report.objects.filter(incoming_file=first).values_list("file_name", flat=True)
    assert all(".IN.LHR." in n for n in names)

    # Only bib 11's ALMAD LHR on the number: OCLC replaces all of ALMAD's... and ALMAL's.
    wiped = send(tmp_path, account, lhr_collection, [lhr("c", 1, 11, "ALMAD", "QA2")], "two")
    assert wiped.status == IncomingFile.Status.PROCESSED, wiped.error
    assert {c for _, c in kept()} == {control(1)}
    assert LocalHoldingsRecord.objects.get().call_number == "QA2"
    assert set(Holding.objects.values_list("institution__symbol", flat=True)) == {"ALMAD"}
    report = Report.objects.get(incoming_file=wiped, kind="LhrProcessingReport").content
    assert "LHR_REPLACE" in report and report.count("LHR_REMOVED") == 2


def test_a_delete_removes_one_symbols_lhr_and_its_holding_with_the_last(
    tmp_path, account, lhr_collection, filex_root
):
    send(
        tmp_path,
        account,
        lhr_collection,
        [lhr("n", 1, 11, "ALMAD"), lhr("n", 3, 11, "ALMAL")],
        "one",
    )
    gone = send(tmp_path, account, lhr_collection, [lhr("d", 3, 11, "ALMAL")], "two")
    assert gone.status == IncomingFile.Status.PROCESSED, gone.error
    assert kept() == {("ALMAD", control(1))}
    assert set(Holding.objects.values_list("institution__symbol", flat=True)) == {"ALMAD"}

    unknown = send(tmp_path, account, lhr_collection, [lhr("n", 9, 99, "NOPE")], "three")
    exceptions = Report.objects.get(incoming_file=unknown, kind="LhrExceptionReport").content
    assert "Invalid symbol NOPE in 852 $a." in exceptions
    assert kept() == {("ALMAD", control(1))}
