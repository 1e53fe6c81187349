"""Taking in files: file-name rules, same-day duplicates, default and unaccepted collections."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.models import AuditEntry
from datasync.intake import accept_collection, make_default_collection, receive_file
from datasync.models import Collection, Holding, IncomingFile, Report

from .conftest import marc_record

MORNING = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)  # 09:00 Eastern
EVENING = datetime(2025, 3, 5, 3, 0, tzinfo=UTC)  # 22:00 Eastern, still March 4th there
NEXT_DAY = datetime(2025, 3, 5, 14, 0, tzinfo=UTC)


def held_numbers(institution) -> set[int]:
    return set(
        Holding.objects.filter(institution=institution).values_list(
            "record__oclc_number", flat=True
        )
    )


def test_a_file_is_processed_under_the_collection_its_name_starts_with(
    institution, collection, upload
):
    other = Collection.objects.create(
        institution=institution, name="Second", status=Collection.Status.ACCEPTED
    )

    incoming = upload(f"{other.collection_id}.almad.x.mrc", [marc_record("1", "(OCoLC)1")])

    assert incoming.collection == other
    assert not incoming.used_default_collection
    assert "Processing Error" not in incoming.reports.get(kind="BibExceptionReport").content


def test_an_unknown_collection_id_is_processed_under_the_default_and_the_report_says_so(
    collection, upload
):
    incoming = upload("9999999.ALMAD.x.mrc", [marc_record("1", "(OCoLC)1")])

    assert incoming.status == IncomingFile.Status.PROCESSED
    assert incoming.collection == collection and incoming.used_default_collection
    first_line = incoming.reports.get(kind="BibExceptionReport").content.splitlines()[0]
    assert "::bib::0|||" in first_line
    assert (
        "Collection ID 9999999 is not a bibliographic Data Sync collection of ALMAD" in first_line
    )
    assert f"Processed with the default collection {collection.collection_id}." in first_line
    assert held_numbers(collection.institution) == {1}


def test_names_that_break_the_rules_go_to_the_default_collection(collection, upload):
    for name in (
        "123456.ALMAD.x.mrc",
        "_1234567.ALMAD.x.mrc",
        f"{collection.collection_id}.XYZ.x.mrc",
    ):
        incoming = upload(name, [marc_record("1", "(OCoLC)1")])
        assert incoming.used_default_collection, name
        assert incoming.note


def test_without_a_default_collection_a_badly_named_file_fails_with_a_reason(
    institution, collection, upload
):
    Collection.objects.filter(pk=collection.pk).update(is_default=False)

    incoming = upload("bibs.mrc", [marc_record("1", "(OCoLC)1")])

    assert incoming.status == IncomingFile.Status.FAILED
    assert "ALMAD has no default collection" in incoming.error
    assert held_numbers(institution) == set()


def test_a_symbol_with_special_characters_is_matched_in_its_file_name_form(
    institution, collection, upload
):
    institution.symbol = "AL@D#"
    institution.save()

    incoming = upload(f"{collection.collection_id}.AL_64D_35.x.mrc", [marc_record("1", "(OCoLC)1")])

    assert not incoming.used_default_collection
    assert incoming.reports.get(kind="xrefrpt").file_name.startswith(
        f"AL_64D_35-AL_64D_35.{collection.collection_id}.IN.BIB."
    )


def test_files_that_are_not_marc_are_ignored_and_left_in_place(account, inbox, collection):
    probe = inbox / "alma_connection_test.txt"
    probe.write_text("probe")

    assert receive_file(probe, account=account) is None
    assert probe.exists()
    assert not IncomingFile.objects.exists()


def test_a_processed_file_is_moved_out_of_the_inbox(collection, upload, inbox):
    incoming = upload(f"{collection.collection_id}.ALMAD.x.mrc", [marc_record("1", "(OCoLC)1")])

    assert list(inbox.iterdir()) == []
    assert incoming.size > 0 and len(incoming.sha256) == 64


def test_same_name_twice_on_one_eastern_day_only_the_last_one_counts(
    institution, collection, upload
):
    Collection.objects.filter(pk=collection.pk).update(status=Collection.Status.SUBMITTED)
    name = f"{collection.collection_id}.ALMAD.daily.mrc"

    first = upload(name, [marc_record("1", "(OCoLC)1")], arrived_at=MORNING)
    second = upload(name, [marc_record("2", "(OCoLC)2")], arrived_at=EVENING)
    next_day = upload(name, [marc_record("3", "(OCoLC)3")], arrived_at=NEXT_DAY)
    collection.refresh_from_db()
    accept_collection(collection)

    first.refresh_from_db()
    second.refresh_from_db()
    next_day.refresh_from_db()
    assert (first.status, first.superseded_by) == (IncomingFile.Status.SUPERSEDED, second)
    assert second.status == next_day.status == IncomingFile.Status.PROCESSED
    assert held_numbers(institution) == {2, 3}
    assert first.reports.count() == 0


def test_a_rerun_after_processing_is_processed_again_and_linked_to_the_earlier_upload(
    collection, upload
):
    name = f"{collection.collection_id}.ALMAD.rerun.mrc"
    first = upload(name, [marc_record("1", "(OCoLC)1")], arrived_at=MORNING)
    second = upload(name, [marc_record("1", "(OCoLC)1")], arrived_at=EVENING)

    first.refresh_from_db()
    assert first.status == IncomingFile.Status.PROCESSED and first.superseded_by == second
    assert second.status == IncomingFile.Status.PROCESSED


def test_files_for_a_collection_not_yet_accepted_are_held_then_processed_on_acceptance(
    institution, collection, upload, superuser
):
    Collection.objects.filter(pk=collection.pk).update(status=Collection.Status.SUBMITTED)
    held = upload(f"{collection.collection_id}.ALMAD.first.mrc", [marc_record("1", "(OCoLC)1")])

    assert held.status == IncomingFile.Status.HELD
    assert held_numbers(institution) == set()
    assert not Report.objects.exists()

    collection.refresh_from_db()
    processed = accept_collection(collection, actor=superuser, replace_records=False)

    assert [f.pk for f in processed] == [held.pk]
    held.refresh_from_db()
    assert held.status == IncomingFile.Status.PROCESSED
    assert held_numbers(institution) == {1}
    collection.refresh_from_db()
    assert collection.status == Collection.Status.ACCEPTED and not collection.replace_records
    assert AuditEntry.objects.filter(
        action="datasync.collection.accepted", actor=superuser
    ).exists()


def test_making_a_collection_the_default_takes_it_from_the_previous_one(
    institution, collection, superuser
):
    other = Collection.objects.create(institution=institution, name="Second")

    make_default_collection(other, actor=superuser)

    collection.refresh_from_db()
    other.refresh_from_db()
    assert (collection.is_default, other.is_default) == (False, True)
    assert institution.default_collection() == other
