"""The benchmark's generated catalogue is shaped like real records and valid MARC: yaz-marcdump
judges the bytes, records.marc.summarize the derived columns, pymarc the published form; a day
of changes does what it says and records what an import would."""

from __future__ import annotations

import shutil
import statistics
import subprocess

import pytest

from bench.catalogue import DAY, build_record, change_day, generate
from profiles.engine.marcout import _needs_035_work, publish_bytes, publish_with_pymarc
from records.marc import content_hash, parse, summarize
from records.models import Bib, Holding, mms_id_for

RECORDS = [build_record(mms_id_for(pk), 42) for pk in range(1, 2001)]


def test_generated_records_are_valid_marc_for_yaz_marcdump(tmp_path):
    yaz = shutil.which("yaz-marcdump")
    assert yaz, "yaz-marcdump is installed by bin/setup --dev"
    path = tmp_path / "generated.mrc"
    path.write_bytes(b"".join(data for data, _ in RECORDS))

    out = subprocess.run([yaz, "-np", str(path)], capture_output=True, text=True, check=True)

    lines = out.stdout.splitlines()
    assert sum(line.startswith("<!-- Record") for line in lines) == len(RECORDS)
    assert [line for line in lines if not line.startswith("<!-- Record")] == []


def test_generated_records_are_shaped_like_the_real_ones():
    sizes = [len(data) for data, _ in RECORDS]
    fields = [(int(data[12:17]) - 25) // 12 for data, _ in RECORDS]
    thirty_fives = [data[24 : int(data[12:17])].count(b"035") for data, _ in RECORDS]
    # ../shared/data/marc: 1.2 KB and 24 fields on average, three 035s on almost half.
    assert 1100 <= statistics.mean(sizes) <= 1400
    assert statistics.mean(fields) >= 20
    assert sum(n >= 3 for n in thirty_fives) > len(RECORDS) * 0.4
    assert sum(any(b > 127 for b in data) for data, _ in RECORDS) > len(RECORDS) * 0.2
    assert sum(b"880" in data[24 : int(data[12:17])] for data, _ in RECORDS) > len(RECORDS) * 0.08
    assert 0.6 < sum(bool(s.oclc_numbers) for _, s in RECORDS) / len(RECORDS) < 0.8
    # 6% of the real records need their 035 normalised when published.
    assert 0.03 < sum(map(_needs_035_work, (d for d, _ in RECORDS))) / len(RECORDS) < 0.12


def test_the_derived_columns_are_what_an_import_derives():
    for data, summary in RECORDS[:500]:
        derived = summarize(parse(data))
        assert (derived.title, derived.author, derived.oclc_numbers) == (
            summary.title,
            summary.author,
            summary.oclc_numbers,
        )


def test_publishing_a_generated_record_equals_pymarc():
    for data, summary in RECORDS:
        for status, numbers in (("n", None), ("d", summary.oclc_numbers), ("d", ["77"])):
            assert publish_bytes(data, status, numbers) == publish_with_pymarc(
                data, status, numbers
            )


def test_an_edit_is_the_same_record_revised_and_sometimes_a_new_oclc_number():
    pairs = [
        (build_record(mms_id_for(pk), 42), build_record(mms_id_for(pk), 42, version=1))
        for pk in range(1, 301)
    ]
    for (before, _), (after, _) in pairs:
        assert b"Revised description, version 1." in after
        assert parse(before)["245"].value() == parse(after)["245"].value()
    renumbered = [b for (_, b), (_, a) in pairs if b.oclc_numbers != a.oclc_numbers]
    assert 50 < len(renumbered) < 150


@pytest.mark.django_db(transaction=True)
def test_a_day_of_changes_changes_each_kind_and_records_the_new_oclc_numbers():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the benchmark catalogue is written by PostgreSQL's COPY")
    generate(2000)
    before = {b.pk: b for b in Bib.objects.all()}

    counts = change_day(5, day=0)

    assert counts == {kind: round(100 * share) for kind, share in DAY.items()}
    after = {b.pk: b for b in Bib.objects.all()}
    changed = {pk for pk, b in after.items() if pk not in before or b.change_marker}
    assert len(changed) == sum(counts.values())
    new = [b for pk, b in after.items() if pk not in before]
    assert len(new) == counts["new"] and all(b.holdings_count == 1 for b in new)
    assert Holding.objects.filter(bib__in=new).count() == counts["new"]
    edited = [b for b in after.values() if b.pk in before and b.marc != before[b.pk].marc]
    assert len(edited) == counts["edited"]
    for bib in edited:
        assert bib.oclc_numbers == summarize(parse(bib.marc)).oclc_column
        assert bib.content_hash == content_hash(bib.marc)
    assert sum(b.oclc_numbers != before[b.pk].oclc_numbers for b in edited) > 0
    undeleted = [pk for pk, b in after.items() if pk in before and before[pk].deleted_at]
    assert sum(after[pk].deleted_at is None for pk in undeleted) == counts["undeleted"]
