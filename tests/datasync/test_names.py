"""OCLC's naming rules on their own: incoming names, report names, OCLC numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datasync.names import (
    InvalidOclcNumber,
    is_marc_file_name,
    normalize_oclc_number,
    parse_file_name,
    record_key,
    report_file_name,
    symbol_in_file_name,
)


def test_symbols_with_at_dollar_and_hash_are_spelled_with_codes_in_file_names():
    assert symbol_in_file_name("A@B$C#") == "A_64B_36C_35"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("1012676.pul.non-pcc_28150407720006421_new.mrc_1", True),
        ("1234567.ALMAD.20250101.1.mrc", True),
        ("1234567.ALMAD", False),
        ("123456.ALMAD.x.mrc", False),
        ("12345678.ALMAD.x.mrc", False),
        (".1234567.ALMAD.x.mrc", False),
        ("-1234567.ALMAD.x.mrc", False),
        ("1234567.ALMAD.with space.mrc", False),
        ("1234567.OTHER.x.mrc", False),
    ],
)
def test_a_file_name_must_start_with_a_collection_id_and_the_symbol(name, ok):
    parsed = parse_file_name(name, symbol="PUL" if ".pul." in name else "ALMAD")
    assert parsed.ok is ok, parsed.problem


def test_only_marc_files_are_picked_up():
    assert all(
        is_marc_file_name(n)
        for n in ["a.mrc", "a.XML", "a.marc", "a.dat", "1012676.pul.x_new.mrc_247"]
    )
    assert not any(is_marc_file_name(n) for n in ["probe.txt", "a.mrc.part", "a.csv", "a"])


def test_report_names_follow_oclc_with_eastern_time_and_milliseconds():
    when = datetime(2023, 7, 12, 13, 19, 24, 73000, tzinfo=UTC)  # 09:19:24.073 EDT

    name = report_file_name(
        sender_symbol="pul",
        collection_symbol="PUL",
        collection_id="1012676",
        original_name="1012676.pul.non-pcc_28150407720006421_new.mrc_2",
        report="BibProcessingReport",
        when=when,
    )

    assert name == (
        "PUL-PUL.1012676.IN.BIB.D20230712.T091924073."
        "1012676.pul.non-pcc_28150407720006421_new.mrc_2.BibProcessingReport.txt"
    )
    assert record_key(sender_symbol="PUL", collection_id="1012676", when=when, seq=7) == (
        "PUL_1012676_1689167964073::bib::7"
    )


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("(OCoLC)ocm00012345", 12345),
        ("(OCoLC)ocn123456789", 123456789),
        ("(OCoLC)on1234567890", 1234567890),
        ("(OCoLC) 0042", 42),
        ("(OCoLC-I)12345", None),
        ("(DLC)12345", None),
    ],
)
def test_oclc_numbers_are_normalised(value, number):
    assert normalize_oclc_number(value) == number


@pytest.mark.parametrize("value", ["(OCoLC)", "(OCoLC)abc", "(OCoLC)0", "(OCoLC)12a"])
def test_a_value_claiming_to_be_an_oclc_number_that_is_not_one_is_invalid(value):
    with pytest.raises(InvalidOclcNumber):
        normalize_oclc_number(value)
