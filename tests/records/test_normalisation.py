"""One import normalisation: a record built or edited with pymarc (records.actions) and the same
record imported from bytes (records.ingest) are stored as the same bytes, judged by pymarc."""

from __future__ import annotations

import pymarc
import pytest

from records import ingest
from records.actions import catalogue_record
from records.marc import parse
from tests.profiles.conftest import data_field, marc_record

MMS_ID = 990000000000024701


@pytest.mark.parametrize(
    ("source_001", "source_003", "kept_035"),
    [
        ("ocm00012345", None, "(OCoLC)ocm00012345"),
        ("12345", "OCoLC", "(OCoLC)12345"),
        ("b1234567", "CaOONL", "(CaOONL)b1234567"),
        ("b7654321", None, "b7654321"),
        (str(MMS_ID), None, None),  # already this catalogue's MMS ID: nothing to keep
    ],
)
def test_the_pymarc_path_and_the_byte_path_store_the_same_record(source_001, source_003, kept_035):
    record = marc_record("A title", oclc="(OCoLC)99", note="Énoncé, ½ — 中文")
    record.leader = pymarc.Leader("00000nam a2200000 i 4500")
    record.add_ordered_field(pymarc.Field(tag="001", data=source_001))
    if source_003:
        record.add_ordered_field(pymarc.Field(tag="003", data=source_003))
    record.add_ordered_field(data_field("852", "MAIN", code="b"))
    record.force_utf8 = True
    incoming = record.as_marc()

    via_bytes = ingest.prepare(incoming, unicode=True).catalogue(MMS_ID)
    via_pymarc, summary = catalogue_record(parse(incoming), MMS_ID)
    assert via_pymarc == via_bytes.data
    assert summary == via_bytes.summary

    stored = parse(via_pymarc)  # the oracle: pymarc reading what is stored
    assert stored["001"].data == str(MMS_ID) and stored.get_fields("003") == []
    numbers = [v for f in stored.get_fields("035") for v in f.get_subfields("a")]
    assert numbers == ["(OCoLC)99"] + ([kept_035] if kept_035 else [])
    assert stored.leader[9] == "a"
