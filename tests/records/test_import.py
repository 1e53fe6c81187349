"""MARC import against the real files in ../shared/data/marc (read in place)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pymarc
import pytest
from django.core.management import call_command

from records.importer import Importer, import_files
from records.marc import iter_directory
from records.models import Bib, Holding, OclcNumber, pk_from_mms_id
from tests.oracles import yaz_marc8_to_utf8

# Records the importer must refuse, per file, and why (checked against the messages).
EXPECTED_FAILURES = {
    "marc4j/008008027.mrc": (1, "truncated"),  # the file stops inside record 19
    "marc4j/185258.mrc": (1, "indicators"),
    "marc4j/bad-characters-in-various-fields.mrc": (1, "control characters"),
    "openlibrary/bin_input/mytwocountries1954asto_meta.mrc": (1, "control character 0x01"),
    "marc4j/bad_hathi_records.mrc": (1, "ISO 2709 allows at most 99,999"),
    "marc4j/bad_leaders_10_11.mrc": (1, "LDR/06"),  # a blank leader: no record type
    "marc4j/bad_oversize_field_bad_directory.mrc": (1, "structure"),
    "marc4j/bad_too_long_plus_2.mrc": (1, "ISO 2709 allows at most 99,999"),
    "marc4j/chabon-missing-controlfield-tag.xml": (1, "no tag"),
    "marc4j/chabon-missing-datafield-tag.xml": (1, "no tag"),
    "marc4j/chabon-missing-subfield-code.xml": (1, "no code"),
    "marc4j/chinese_mangled_multibyte.mrc": (1, "not valid MARC-8"),
    "marc4j/datos-20161010-slice.mrc": (1, "ISO 2709 allows at most 99,999"),
    "marc4j/incomplete_esc_seq.mrc": (1, "not valid MARC-8"),
    "marc4j/not_unimarc_errors_3.mrc": (3, "subfield code"),
    "marc4j/pride-and-prejudice-with-many-errors.mrc": (92, ""),
    # The validation gate (records.gate): what MARC21slim.xsd or MARC 21 refuses.
    "marc4j/chabon-bad-subfields-element.xml": (1, "field 020 has no subfields"),
    "marc4j/cyrillic_capital_e.mrc": (1, "subfield code 'K'"),
    "marc4j/greekmissingcharsetchange.mrc": (1, "not a character of the Basic Greek set"),
    "marc4j/pride-and-prejudice-fixed.mrc": (7, "field 876 indicator 1 is '-'"),
    "openlibrary/bin_input/13dipolarcycload00burk_meta.mrc": (1, "indicator 1 is '-'"),
    "openlibrary/bin_input/collingswood_520aa.mrc": (1, "LDR/17 (encoding level) is '|'"),
    "openlibrary/bin_input/livrodostermosh00bragoog_meta.mrc": (1, "LDR/18"),
    "openlibrary/bin_input/talis_empty_245.mrc": (1, "subfield code '.'"),
    "openlibrary/bin_input/wrapped_lines.mrc": (1, "a missing subfield delimiter?"),
    "openlibrary/xml_input/13dipolarcycload00burk_marc.xml": (1, "indicator 1 is '-'"),
    "openlibrary/xml_input/livrodostermosh00bragoog_marc.xml": (1, "LDR/18"),
    "openlibrary/xml_input/mytwocountries1954asto_marc.xml": (1, "indicator 1 is '-'"),
    "openlibrary/xml_input/soilsurveyrepor00statgoog_marc.xml": (1, "LDR/18"),
    "ruby-marc/messed_up_leader.xml": (1, "LDR/18 (descriptive cataloging form) is '<'"),
    "solrmarc/1156470.mrc": (1, "indicator 2 is '_'"),
    "solrmarc/errorRecs.mrc": (1, "subfield code '='"),
    "solrmarc/fields_700_4_samp.mrc": (1, "indicator 2 is 'Y'"),
    "solrmarc/record_set_045.mrc": (1, "diacritic (byte E7) at the end of the subfield"),
    "solrmarc/uva_001_2000.mrc": (4, "MARC 21"),
    "traject/bad_subfield_code.marc": (1, "subfield code byte 0xE2"),
    "traject/emptyish_record.marc": (1, "LDR/18 (descriptive cataloging form) is '?'"),
    "marc4j/sample1.mrc": (5, ""),  # four holdings records (LDR/06 x) and one bad UTF-8
    "marc4j/sample1a.xml": (5, "holdings record"),
    "marc4j/samples/error.mrc": (1, "field terminator"),
    "openlibrary/bin_input/dasrmischepriv00rein_meta.mrc": (1, "field terminator"),
    "openlibrary/bin_input/lesabndioeinas00sche_meta.mrc": (1, "holdings record"),
    "openlibrary/bin_input/new_poganucpeoplethe00stowuoft_meta.mrc": (1, "field terminator"),
    "openlibrary/bin_input/upei_short_008.mrc": (1, "base address"),
    "openlibrary/xml_input/lesabndioeinas00sche_marc.xml": (1, "holdings record"),
    "ruby-marc/bad_eacc_encoding.marc8.marc": (1, "not valid MARC-8"),
    "ruby-marc/cp866_multirecord.marc": (2, "not MARC 21"),
    "ruby-marc/cp866_unimarc.marc": (1, "not MARC 21"),
    "ruby-marc/marc8_accented_chars.marc": (1, "invalid UTF-8"),
    "ruby-marc/marc_with_bad_utf8.utf8.marc": (1, "field terminator"),
    "ruby-marc/no-leading-zero.xml": (1, "LDR/06"),
    "ruby-marc/three-records-second-bad.xml": (1, "not well-formed"),
    "ruby-marc/utf8_with_bad_bytes.marc": (1, "invalid UTF-8"),
    "traject/bad_utf_byte.utf8.marc": (1, "LDR/06"),
    "traject/missing-second-date.marc": (1, "more than one 001"),
    # OAI-PMH responses in Dublin Core: XML, but no MARC records in them.
    "traject/sample-oai-pmh.xml": (1, "no MARC records"),
    "traject/sample-oai-no-namespace.xml": (1, "no MARC records"),
    "traject/oai-pmh-one-record-2.xml": (1, "no MARC records"),
    "traject/oai-pmh-one-record-first.xml": (1, "no MARC records"),
    "traject/namespace-test.xml": (1, "no MARC records"),
}
MARC_SUFFIXES = {".mrc", ".marc", ".xml", ".dat"}


def marc_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in MARC_SUFFIXES and p.is_file() and "schema" not in p.parts
    )


def fields_of(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(tag, data[s : s + n]) for tag, s, n in iter_directory(data)]


def split_records(data: bytes) -> list[bytes]:
    """Consecutive ISO 2709 records, cut by their leader lengths."""
    out, pos = [], 0
    while pos < len(data):
        length = int(data[pos : pos + 5])
        out.append(data[pos : pos + length])
        pos += length
    return out


def pymarc_fields(record: pymarc.Record) -> list[tuple]:
    out = []
    for f in record.fields:
        if f.is_control_field():
            out.append((f.tag, f.data))
        else:
            out.append((f.tag, tuple(f.indicators), tuple((s.code, s.value) for s in f.subfields)))
    return out


def source_035(record: pymarc.Record) -> str | None:
    """The 035 the catalogue adds for a source 001 (Alma's rule), or None."""
    f001, f003 = record.get("001"), record.get("003")
    source = f001.data.strip() if f001 is not None else ""
    if not source:
        return None
    org = f003.data.strip() if f003 is not None else ""
    if org.lower() == "ocolc" or source.lower().startswith(("ocm", "ocn", "on")):
        org = "OCoLC"
    value = f"({org}){source}" if org else source
    existing = {v for f in record.get_fields("035") for v in f.get_subfields("a")}
    return None if value in existing else value


def without_catalogue_changes(fields: list[tuple], added: str | None) -> list[tuple]:
    out, dropped = [], False
    for f in fields:
        if f[0] in ("001", "003"):
            continue
        if added and not dropped and f[0] == "035" and f[2] == (("a", added),):
            dropped = True
            continue
        out.append(f)
    return out


@pytest.mark.django_db
def test_every_shared_file_imports_good_records_and_reports_exactly_the_malformed_ones(
    shared_marc,
):
    for path in marc_files(shared_marc):
        rel = str(path.relative_to(shared_marc))
        importer = Importer(default_holdings=("MAIN", "STACKS"))
        importer.import_path(path, name=rel)
        result = importer.result
        expected, reason = EXPECTED_FAILURES.get(rel, (0, ""))
        assert result.failed == expected, (rel, result.errors)
        for error in result.errors:
            assert error["file"] == rel
            assert error["position"] == "whole file" or (
                error["position"].startswith("record ") and " at byte " in error["position"]
            )
            assert reason in error["message"], (rel, error)
    assert Bib.objects.count() > 3150
    # Every stored record is UTF-8, says so, and carries its MMS ID in 001.
    for bib in Bib.objects.iterator(chunk_size=500):
        data = bytes(bib.marc)
        assert data[9:10] == b"a"
        assert len(data) == int(data[:5]) <= 99_999
        record = pymarc.Record(data=data, to_unicode=True, utf8_handling="strict")
        assert record["001"].data == str(bib.mms_id)
        assert record.get("003") is None


@pytest.mark.django_db
def test_good_binary_records_arrive_intact_apart_from_the_documented_changes(shared_marc):
    files = [p for p in marc_files(shared_marc) if p.suffix != ".xml"]
    checked_bytes = checked_marc8 = 0
    for path in files:
        before = set(Bib.objects.values_list("pk", flat=True))
        result = import_files([path])
        expected = EXPECTED_FAILURES.get(str(path.relative_to(shared_marc)), (0, ""))[0]
        assert result.failed == expected
        bibs = list(Bib.objects.exclude(pk__in=before).order_by("pk"))
        raw = [r + b"\x1d" for r in path.read_bytes().split(b"\x1d") if r.strip(b"\r\n ")]
        raw = [r.lstrip(b"\r\n ") for r in raw]
        # The refused records are left out (their messages are checked elsewhere); a file the
        # reader cuts differently from this split (a truncated or oversize record) is skipped.
        refused = {int(e["position"].split()[1]) for e in result.errors}
        raw = [r for n, r in enumerate(raw, start=1) if n not in refused]
        if expected and len(raw) != len(bibs):
            continue
        assert len(bibs) == len(raw), path
        # MARC-8 text must come out exactly as yaz-marcdump converts it (the oracle).
        converted = split_records(yaz_marc8_to_utf8(b"".join(raw)))
        assert len(converted) == len(raw), path
        for original, by_yaz, bib in zip(raw, converted, bibs, strict=True):
            stored = bytes(bib.marc)
            utf8 = original[9:10] == b"a"
            if not utf8:
                original = by_yaz
            source = pymarc.Record(data=original, to_unicode=True, utf8_handling="strict")
            mine = pymarc.Record(data=stored, to_unicode=True)
            expected = without_catalogue_changes(pymarc_fields(source), None)
            # The gate moves control fields that came after data fields before them (README).
            expected.sort(key=lambda f: not f[0].startswith("00"))
            got = without_catalogue_changes(pymarc_fields(mine), source_035(source))
            assert got == expected, (path, bib.mms_id)
            # Leader: only lengths, base address, LDR/09 and the structure codes change.
            keep = [5, 6, 7, 8, 17, 18, 19]
            assert [stored[i] for i in keep] == [original[i] for i in keep]
            if utf8:
                # UTF-8 records: every field is the same bytes.
                added = source_035(source)
                orig_fields = [f for f in fields_of(original) if f[0] not in (b"001", b"003")]
                orig_fields.sort(key=lambda f: not f[0].startswith(b"00"))
                new_fields = [
                    f
                    for f in fields_of(stored)
                    if f[0] != b"001"
                    and not (added and f == (b"035", b"  \x1fa" + added.encode() + b"\x1e"))
                ]
                assert new_fields == orig_fields, (path, bib.mms_id)
                checked_bytes += 1
            else:
                stored.decode("utf-8")  # MARC-8 came out as valid UTF-8
                checked_marc8 += 1
    assert checked_bytes > 150
    assert checked_marc8 > 2000


def oai_pmh_wrapped(collection_xml: bytes) -> bytes:
    """MARCXML records as an OAI-PMH ListRecords response carries them."""
    body = (
        collection_xml.split(b"?>", 1)[1] if collection_xml.startswith(b"<?xml") else collection_xml
    )
    records = body.split(b"<record")[1:]
    wrapped = b"".join(
        b"<record><header><identifier>oai:x:%d</identifier></header><metadata><marc:record" % i
        + r.split(b"</record>")[0].replace(b"<", b"<marc:").replace(b"<marc:/", b"</marc:")
        + b"</marc:record></metadata></record>"
        for i, r in enumerate(records)
    )
    return (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
        b'xmlns:marc="http://www.loc.gov/MARC21/slim"><ListRecords>'
        + wrapped
        + b"</ListRecords></OAI-PMH>"
    )


@pytest.mark.django_db
def test_marcxml_oai_pmh_and_bom_files_import_like_their_binary_twins(shared_marc):
    xml = (shared_marc / "traject/test_data.utf8.marc.xml").read_bytes()
    for name, data in [("collection", xml), ("oai-pmh", oai_pmh_wrapped(xml))]:
        Bib.objects.all().delete()
        importer = Importer()
        importer.import_stream(io.BytesIO(data), name)
        assert (importer.result.imported, importer.result.failed) == (30, 0), name
        from_xml = [bytes(b.marc) for b in Bib.objects.order_by("pk")]
        Bib.objects.all().delete()
        import_files([shared_marc / "traject/test_data.utf8.mrc"])
        from_binary = [bytes(b.marc) for b in Bib.objects.order_by("pk")]
        for ours, theirs in zip(from_xml, from_binary, strict=True):
            # Same fields byte for byte (the 001 is each import's own MMS ID).
            assert [f for f in fields_of(ours) if f[0] != b"001"] == [
                f for f in fields_of(theirs) if f[0] != b"001"
            ]
    # A BOM, a marc: prefix and no-break spaces in the leader (pymarc's XML reader fails it).
    result = import_files([shared_marc / "openlibrary/xml_input/39002054008678_yale_edu_marc.xml"])
    assert (result.imported, result.failed) == (1, 0)


@pytest.mark.django_db
def test_marc8_records_come_out_as_valid_utf8_with_ldr09_a(shared_marc):
    result = import_files([shared_marc / "marc4j/brkrtest.mrc"])
    assert result.imported == 8
    marc8 = {b.title: bytes(b.marc) for b in Bib.objects.all()}
    Bib.objects.all().delete()
    import_files([shared_marc / "marc4j/brkrtest_UTF8.mrc"])
    utf8 = {b.title: bytes(b.marc) for b in Bib.objects.all()}
    assert marc8.keys() == utf8.keys()
    for title, data in marc8.items():
        data.decode("utf-8")
        assert data[9:10] == b"a"
        ours = pymarc.Record(data=data, to_unicode=True, utf8_handling="strict")
        theirs = pymarc.Record(data=utf8[title], to_unicode=True, utf8_handling="strict")
        assert ours["245"].value() == theirs["245"].value()


@pytest.mark.django_db
def test_source_001_and_003_are_kept_in_a_035_and_oclc_numbers_are_indexed(shared_marc):
    import_files([shared_marc / "solrmarc/uva_001_2000.mrc"])
    assert Bib.objects.count() == 1996  # four refused by the gate (EXPECTED_FAILURES)
    bib = Bib.objects.order_by("pk").first()
    record = bib.record()
    assert record["001"].data == str(bib.mms_id)
    assert bib.oclc_numbers
    number = bib.oclc_number_list[0]
    assert OclcNumber.objects.filter(bib=bib, number=number).exists()
    values = [v for f in record.get_fields("035") for v in f.get_subfields("a")]
    source = pymarc.MARCReader(open(shared_marc / "solrmarc/uva_001_2000.mrc", "rb"))
    first = next(iter(source))
    assert source_035(first) in values


@pytest.mark.django_db
def test_json_output_and_exit_status(shared_marc, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command(
            "import_marc",
            str(shared_marc / "marc4j/chabon.mrc"),
            str(shared_marc / "ruby-marc/cp866_unimarc.marc"),
            "--json",
        )
    assert exited.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"imported", "updated", "failed", "errors", "repaired"}
    assert (out["imported"], out["updated"], out["failed"]) == (2, 0, 1)
    (error,) = out["errors"]
    assert set(error) == {"file", "position", "message"}
    assert error["file"].endswith("cp866_unimarc.marc")
    assert error["position"] == "record 1 at byte 0"
    assert "not MARC 21" in error["message"]

    call_command("import_marc", str(shared_marc / "marc4j/summerland.mrc"), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out == {"imported": 1, "updated": 0, "failed": 0, "errors": [], "repaired": []}


@pytest.mark.django_db
def test_a_bad_holdings_option_is_refused_before_anything_is_imported(shared_marc):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="LIBRARY:LOCATION"):
        call_command("import_marc", str(shared_marc / "marc4j/chabon.mrc"), "--holdings", "MAIN")
    assert not Bib.objects.exists()


@pytest.mark.django_db
def test_a_missing_file_is_reported_and_the_other_files_still_import(shared_marc, tmp_path):
    result = import_files([tmp_path / "nope.mrc", shared_marc / "marc4j/chabon.mrc"])
    assert result.imported == 2 and result.failed == 1
    assert "cannot read" in result.errors[0]["message"]


@pytest.mark.django_db
def test_reimporting_an_exported_record_by_its_mms_id_updates_it(shared_marc, tmp_path):
    import_files([shared_marc / "marc4j/summerland.mrc"], holdings="MAIN:STACKS")
    bib = Bib.objects.get()
    record = bib.record()
    record["245"]["a"] = "Summerland (revised)"
    exported = tmp_path / "exported.mrc"
    exported.write_bytes(record.as_marc())
    result = import_files([exported], export_tag="dont_publish")
    assert (result.imported, result.updated, result.failed) == (0, 1, 0)
    bib.refresh_from_db()
    assert Bib.objects.count() == 1
    assert bib.title.startswith("Summerland (revised)")
    assert bib.export_tag == "dont_publish"
    assert bib.record()["001"].data == str(bib.mms_id)
    # The MMS ID is not copied into a 035 of its own record.
    assert str(bib.mms_id) not in [
        v for f in bib.record().get_fields("035") for v in f.get_subfields("a")
    ]
    assert bib.holdings_count == 1


def _record_with_852(*holdings: tuple[str, str, str, str]) -> bytes:
    record = pymarc.Record(force_utf8=True)
    record.leader = pymarc.Leader("00000nam a2200000 a 4500")
    record.add_field(pymarc.Field(tag="001", data="x1"))
    record.add_field(
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators("0", "0"),
            subfields=[pymarc.Subfield("a", "Held twice")],
        )
    )
    for b, c, h, i in holdings:
        record.add_field(
            pymarc.Field(
                tag="852",
                indicators=pymarc.Indicators("0", " "),
                subfields=[
                    pymarc.Subfield("b", b),
                    pymarc.Subfield("c", c),
                    pymarc.Subfield("h", h),
                    pymarc.Subfield("i", i),
                ],
            )
        )
    return record.as_marc()


@pytest.mark.django_db
def test_holdings_come_from_852_before_the_holdings_option():
    data = _record_with_852(("MAIN", "STACKS", "QA76.73", ".P98"), ("LAW", "REF", "K100", ""))
    importer = Importer(default_holdings=("OTHER", "SHELF"))
    importer.import_stream(io.BytesIO(data), "inline")
    bib = Bib.objects.get()
    assert bib.holdings_count == 2
    assert set(Holding.objects.values_list("library", "location", "call_number")) == {
        ("MAIN", "STACKS", "QA76.73 .P98"),
        ("LAW", "REF", "K100"),
    }


@pytest.mark.django_db
def test_records_without_852_get_the_holdings_option_or_none(shared_marc):
    import_files([shared_marc / "marc4j/chabon.mrc"], holdings="MAIN:STACKS")
    assert sorted(Bib.objects.values_list("holdings_count", flat=True)) == [1, 1]
    Bib.objects.all().delete()
    import_files([shared_marc / "marc4j/chabon.mrc"])
    assert sorted(Bib.objects.values_list("holdings_count", flat=True)) == [0, 0]


@pytest.mark.django_db
def test_a_bad_record_in_a_chunk_does_not_poison_the_chunk(shared_marc):
    good = (shared_marc / "marc4j/chabon.mrc").read_bytes()
    bad = (shared_marc / "ruby-marc/cp866_unimarc.marc").read_bytes()
    importer = Importer(chunk_size=10)
    importer.import_stream(io.BytesIO(good + bad + good), "mixed")
    assert (importer.result.imported, importer.result.failed) == (4, 1)
    assert importer.result.errors[0]["position"] == f"record 3 at byte {len(good)}"


@pytest.mark.django_db
def test_new_bibs_get_mms_ids_of_this_catalogue():
    importer = Importer()
    importer.import_stream(io.BytesIO(_record_with_852()), "one")
    bib = Bib.objects.get()
    assert pk_from_mms_id(bib.mms_id) == bib.pk
    assert str(bib.mms_id).startswith("99") and str(bib.mms_id).endswith("4701")
