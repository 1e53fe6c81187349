"""Processing a received file by OCLC's rules: matching, deletes, merges, Staging, bad records."""

from __future__ import annotations

from datetime import UTC, datetime

from datasync.models import Collection, Holding, IncomingFile, Report, WorldCatRecord

from .conftest import marc_bytes, marc_record


def holdings_of(institution) -> dict[int, str]:
    return {
        h.record.oclc_number: h.local_system_number
        for h in Holding.objects.filter(institution=institution).select_related("record")
    }


def report(incoming: IncomingFile, kind: str) -> list[str]:
    return incoming.reports.get(kind=kind).content.splitlines()


def test_a_record_with_an_oclc_number_sets_the_holding_and_is_in_the_cross_reference(
    collection, upload
):
    incoming = upload(
        f"{collection.collection_id}.ALMAD.bibs_1_new.mrc",
        [marc_record("991234564701", "(OCoLC)10698981")],
    )

    assert incoming.status == IncomingFile.Status.PROCESSED
    assert holdings_of(collection.institution) == {10698981: "991234564701"}
    assert report(incoming, Report.Kind.XREF) == ["991234564701\t10698981"]
    assert report(incoming, Report.Kind.PROCESSING)[0].endswith(
        "|991234564701|10698981|10698981|match"
    )
    assert (incoming.records, incoming.holdings_set) == (1, 1)


def test_oclc_number_prefixes_and_leading_zeros_are_normalised_and_other_systems_ignored(
    collection, upload
):
    incoming = upload(
        f"{collection.collection_id}.ALMAD.prefixes.mrc",
        [
            marc_record("1", "(OCoLC)ocm00012345"),
            marc_record("2", "(OCoLC)ocn123456789"),
            marc_record("3", "(OCoLC)on1234567890"),
            marc_record("4", "(OCoLC-I)555", "(OCoLC)0000777"),
            marc_record("5", "(DLC)  2001012345"),
        ],
    )

    assert holdings_of(collection.institution) == {
        12345: "1",
        123456789: "2",
        1234567890: "3",
        777: "4",
    }
    assert incoming.unresolved == 1
    assert report(incoming, Report.Kind.XREF)[3] == "4\t777"


def test_a_deleted_record_removes_the_holding_when_record_status_is_used(collection, upload):
    upload(f"{collection.collection_id}.ALMAD.a.mrc", [marc_record("1", "(OCoLC)100")])
    assert holdings_of(collection.institution) == {100: "1"}

    incoming = upload(
        f"{collection.collection_id}.ALMAD.b.mrc", [marc_record("1", "(OCoLC)100", status="d")]
    )

    assert holdings_of(collection.institution) == {}
    assert incoming.holdings_deleted == 1
    assert report(incoming, Report.Kind.PROCESSING)[0].endswith("|1|100|100|delete")


def test_a_deleted_record_sets_the_holding_when_record_status_is_not_used(collection, upload):
    Collection.objects.filter(pk=collection.pk).update(use_record_status=False)

    incoming = upload(
        f"{collection.collection_id}.ALMAD.d.mrc", [marc_record("1", "(OCoLC)100", status="d")]
    )

    assert holdings_of(collection.institution) == {100: "1"}
    assert (incoming.holdings_set, incoming.holdings_deleted) == (1, 0)


def test_a_set_and_a_delete_of_one_number_in_one_file_apply_in_file_order(collection, upload):
    upload(
        f"{collection.collection_id}.ALMAD.order.mrc",
        [
            marc_record("1", "(OCoLC)100"),
            marc_record("1", "(OCoLC)100", status="d"),
            marc_record("2", "(OCoLC)200", status="d"),
            marc_record("2", "(OCoLC)200"),
        ],
    )

    assert holdings_of(collection.institution) == {200: "2"}


def test_a_merged_number_sets_the_holding_on_the_surviving_record_and_xref_gives_it(
    collection, upload
):
    survivor = WorldCatRecord.objects.create(oclc_number=10699336, title="Meine Botschafterzeit")
    WorldCatRecord.objects.create(oclc_number=123207537, merged_into=survivor)

    incoming = upload(
        f"{collection.collection_id}.ALMAD.merged.mrc", [marc_record("u3", "(OCoLC)123207537")]
    )

    assert holdings_of(collection.institution) == {10699336: "u3"}
    assert report(incoming, Report.Kind.XREF) == ["u3\t10699336"]
    assert report(incoming, Report.Kind.PROCESSING)[0].endswith("|u3|123207537|10699336|match")


def test_records_without_an_oclc_number_go_to_staging_with_a_provisional_number(collection, upload):
    incoming = upload(
        f"{collection.collection_id}.ALMAD.new.mrc",
        [marc_record("991", title="Brand new /"), marc_record("992")],
    )

    staged = list(WorldCatRecord.objects.filter(source="staging").order_by("oclc_number"))
    assert [r.title for r in staged] == ["Brand new /", "A title /"]
    assert (incoming.unresolved, incoming.staged) == (2, 2)
    assert report(incoming, Report.Kind.UNRESOLVED_XREF) == [
        f"991\t{staged[0].oclc_number}",
        f"992\t{staged[1].oclc_number}",
    ]
    assert report(incoming, Report.Kind.XREF) == []
    assert holdings_of(collection.institution) == {}
    assert report(incoming, Report.Kind.PROCESSING)[0].endswith(
        f"|991||{staged[0].oclc_number}|unresolved"
    )


def test_with_staging_off_an_original_is_added_to_worldcat_under_a_new_number(collection, upload):
    Collection.objects.filter(pk=collection.pk).update(limit_to_staging=False)
    WorldCatRecord.objects.create(oclc_number=10699336, title="Meine Botschafterzeit")

    incoming = upload(
        f"{collection.collection_id}.ALMAD.new.mrc",
        [
            marc_record("991", title="An original /"),
            marc_record("992", "(OCoLC)10699336"),
            marc_record("993", title=None),  # sparse: no 245
            marc_record("994", status="d"),  # a delete without a number
            marc_record("995", title="Another original /"),
        ],
    )

    created = list(WorldCatRecord.objects.filter(source="incoming").order_by("oclc_number"))
    assert [(r.oclc_number, r.title) for r in created] == [
        (10699337, "An original /"),
        (10699338, "Another original /"),
    ]
    assert holdings_of(collection.institution) == {
        10699336: "992",
        10699337: "991",
        10699338: "995",
    }
    assert report(incoming, Report.Kind.XREF) == [
        "991\t10699337",
        "992\t10699336",
        "995\t10699338",
    ]
    processing = report(incoming, Report.Kind.PROCESSING)
    assert processing[0].endswith("|991||10699337|create")
    assert processing[4].endswith("|995||10699338|create")
    # The sparse original is unresolved and goes to Staging all the same; the delete changes
    # nothing.
    (staged,) = WorldCatRecord.objects.filter(source="staging")
    assert report(incoming, Report.Kind.UNRESOLVED_XREF) == [f"993\t{staged.oclc_number}"]
    assert processing[2].endswith(f"|993||{staged.oclc_number}|unresolved")
    assert processing[3].endswith("|994|||unresolved")
    assert any("Record is sparse." in line for line in report(incoming, Report.Kind.EXCEPTION))
    assert (incoming.created, incoming.unresolved, incoming.staged) == (2, 2, 1)


def test_a_record_with_a_broken_structure_is_an_exception_and_the_rest_is_processed(
    collection, upload
):
    good1, bad, good2 = (
        marc_record("1", "(OCoLC)100").as_marc(),
        bytearray(marc_record("2", "(OCoLC)200").as_marc()),
        marc_record("3", "(OCoLC)300").as_marc(),
    )
    bad[12:17] = b"00031"  # a base address that points into the directory

    incoming = upload(f"{collection.collection_id}.ALMAD.broken.mrc", good1 + bytes(bad) + good2)

    assert holdings_of(collection.institution) == {100: "1", 300: "3"}
    assert (incoming.records, incoming.exceptions) == (3, 1)
    (line,) = report(incoming, Report.Kind.EXCEPTION)
    assert "::bib::2|2|||Processing Error|CRITICAL|Record could not be read" in line


def test_a_leader_length_that_counts_characters_is_only_a_minor_warning(collection, upload):
    data = bytearray(marc_record("1", "(OCoLC)100", title="Caf\u00e9 /").as_marc())
    data[0:5] = b"%05d" % (len(data) - 1)

    incoming = upload(f"{collection.collection_id}.ALMAD.len.mrc", bytes(data))

    assert holdings_of(collection.institution) == {100: "1"}
    (line,) = report(incoming, Report.Kind.EXCEPTION)
    assert "|1|||Validation Error|MINOR|Record length in the leader" in line


def test_invalid_utf8_is_a_data_error_and_the_rest_is_processed(collection, upload):
    bad = marc_record("2", "(OCoLC)200", title="Caf\u00e9 /").as_marc()
    bad = bad.replace("é".encode(), b"\xe9\x20")  # Latin-1 e-acute followed by a space

    incoming = upload(
        f"{collection.collection_id}.ALMAD.utf8.mrc",
        marc_bytes([marc_record("1", "(OCoLC)100")]) + bad,
    )

    assert holdings_of(collection.institution) == {100: "1"}
    (line,) = report(incoming, Report.Kind.EXCEPTION)
    assert line.endswith("|2|||Data Error|SEVERE|invalid_characters_present")


def test_a_record_without_001_is_a_data_error(collection, upload):
    incoming = upload(
        f"{collection.collection_id}.ALMAD.no001.mrc",
        [marc_record(None, "(OCoLC)100"), marc_record("2", "(OCoLC)200")],
    )

    assert holdings_of(collection.institution) == {200: "2"}
    (line,) = report(incoming, Report.Kind.EXCEPTION)
    assert line.endswith("||100|100|Data Error|SEVERE|Local system number (001) is missing.")


def test_real_utf8_file_with_bad_bytes_keeps_going(collection, inbox, account, shared_marc):
    from datasync.intake import receive_file

    source = shared_marc / "ruby-marc" / "marc_with_bad_utf8.utf8.marc"
    path = inbox / f"{collection.collection_id}.ALMAD.ruby.mrc"
    path.write_bytes(source.read_bytes())

    incoming = receive_file(path, account=account)

    assert incoming.status == IncomingFile.Status.PROCESSED
    assert incoming.exceptions >= 1
    assert "invalid_characters_present" in incoming.reports.get(kind="BibExceptionReport").content


def test_reports_are_written_to_the_accounts_reports_folder_with_eastern_time_names(
    collection, upload, filex_root
):
    now = datetime(2025, 1, 15, 17, 5, 9, 42000, tzinfo=UTC)  # 12:05:09.042 EST
    name = f"{collection.collection_id}.ALMAD.bibs_7_new.mrc"

    incoming = upload(name, [marc_record("991", "(OCoLC)55")], now=now)

    folder = filex_root / "home" / "fx_almad" / "xfer" / "metacoll" / "reports"
    prefix = f"ALMAD-ALMAD.{collection.collection_id}.IN.BIB.D20250115.T120509042.{name}."
    assert sorted(p.name for p in folder.iterdir()) == [
        prefix + kind + ".txt"
        for kind in ["BibExceptionReport", "BibProcessingReport", "unresxrefrpt", "xrefrpt"]
    ]
    assert (folder / f"{prefix}xrefrpt.txt").read_text() == "991\t55\n"
    millis = int(now.timestamp() * 1000)
    assert (folder / f"{prefix}BibProcessingReport.txt").read_text() == (
        f"ALMAD_{collection.collection_id}_{millis}::bib::1|991|55|55|match\n"
    )
    assert incoming.processed_at == now


def test_a_record_without_a_title_is_sparse_but_still_sets_the_holding(collection, upload):
    incoming = upload(
        f"{collection.collection_id}.ALMAD.sparse.mrc", [marc_record("1", "(OCoLC)100", title=None)]
    )

    assert holdings_of(collection.institution) == {100: "1"}
    (line,) = report(incoming, Report.Kind.EXCEPTION)
    assert line.endswith("|1|100|100|Validation Error|MINOR|Record is sparse.")
