"""Fuzzed MARC into both readers of this system: the catalogue import (`manage.py import_marc`
and the Importer behind it) and the emulated OCLC side (`receive_file` and its processing).

Each example is a file of a good real record, a hostile one (a structure-aware mutation of a
real record, a real bad record, or random bytes), and another good real record. The properties:
nothing raises, every record is accounted for exactly once (imported, or a per-record error
with file, position and message; on the OCLC side processed, or an exception-report line), the
good records around the bad one get through, and nothing is half written. Examples are
derandomized, so a run in CI is reproducible, and bounded so the file runs in seconds.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr

import pytest
from django.core.management import call_command
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasync.models import Holding as WorldCatHolding
from datasync.models import IncomingFile, Report
from records.importer import Importer
from records.models import Bib, Holding, OclcNumber
from tests.datasync.conftest import marc_bytes, marc_record

from . import marc_fuzz
from .marc_fuzz import hostile_file, hostile_record, records_seen

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
POSITION = re.compile(r"^record (\d+) at byte (\d+)$")


def catalogue_counts() -> tuple[int, int, int]:
    return Bib.objects.count(), Holding.objects.count(), OclcNumber.objects.count()


def assert_nothing_half_written(before_pk: int, imported: int) -> None:
    """The new bibs are exactly the imported count, each with its holdings and OCLC numbers."""
    new = Bib.objects.filter(pk__gt=before_pk)
    assert new.count() == imported
    for bib in new.annotate(n=Count("holdings")).only("holdings_count", "oclc_numbers"):
        assert bib.n == bib.holdings_count >= 1, bib.mms_id
        numbers = sorted(str(n) for n in bib.oclc_number_rows.values_list("number", flat=True))
        assert numbers == sorted(bib.oclc_numbers.split()), bib.mms_id


def check_import(data: bytes, tmp_path, *, via_command: bool) -> dict:
    path = tmp_path / "hostile.mrc"
    path.write_bytes(data)
    before = catalogue_counts()
    before_pk = Bib.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if via_command:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stderr(err):
            try:
                call_command(
                    "import_marc", str(path), "--json", "--holdings", "MAIN:STACKS", stdout=out
                )
                status = 0
            except SystemExit as exit_:
                status = exit_.code
        result = json.loads(out.getvalue())
        assert status == (1 if result["failed"] else 0)
    else:
        result = Importer(default_holdings=("MAIN", "STACKS")).import_paths([path]).as_json()
    seen = records_seen(data)
    assert result["imported"] + result["updated"] + result["failed"] == seen, result
    assert len(result["errors"]) == result["failed"]
    failed_positions = set()
    for error in result["errors"]:
        assert error["file"] == str(path)
        match = POSITION.match(error["position"])
        assert match, error
        failed_positions.add(int(match.group(1)))
        assert error["message"].strip() and "Traceback" not in error["message"], error
    assert len(failed_positions) == result["failed"], "one error per bad record"
    # The good records on either side got in.
    assert 1 not in failed_positions
    result["failed_positions"] = failed_positions
    result["seen"] = seen
    after = catalogue_counts()
    assert after[0] - before[0] == result["imported"]
    assert_nothing_half_written(before_pk, result["imported"])
    assert after[1] >= before[1] + result["imported"]
    return result


@FUZZ
@given(parts=st.data())
def test_a_hostile_record_between_good_ones_never_stops_the_import_command(
    parts, shared_marc, tmp_path
):
    first, bad, last, bad_is_last = parts.draw(hostile_file(shared_marc))
    result = check_import(first + bad + last, tmp_path, via_command=True)
    if not bad_is_last:
        assert result["seen"] not in result["failed_positions"], "the last good record got in"


@FUZZ
@given(parts=st.data())
def test_the_importer_reports_every_bad_record_and_keeps_the_good_ones(
    parts, shared_marc, tmp_path
):
    first, bad, last, bad_is_last = parts.draw(hostile_file(shared_marc))
    # Several bad records in a row, then the good one: nothing is carried from one to the next.
    more = parts.draw(st.lists(hostile_record(shared_marc), max_size=3))
    result = check_import(first + bad + b"".join(more) + last, tmp_path, via_command=False)
    if not bad_is_last:
        assert result["seen"] not in result["failed_positions"]


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_a_clear_error_for_the_importer(data, tmp_path):
    path = tmp_path / "random.mrc"
    path.write_bytes(data)
    result = Importer().import_paths([path])
    assert result.imported + result.updated <= records_seen(data)
    for error in result.errors:
        assert error["file"] == str(path) and error["message"].strip()
    if not data.strip(b" \t\r\n\x00\x1a"):
        assert result.errors and result.errors[-1]["position"] == "whole file"


def test_the_mutations_do_reach_the_error_paths_of_the_importer(shared_marc, tmp_path):
    """A sanity check of the fuzzer itself: real hostile records are reported, not imported."""
    bad = marc_fuzz.real_bad_records(shared_marc)
    good = marc_fuzz.records_of(shared_marc, marc_fuzz.GOOD_FILES)[0]
    result = check_import(good + b"".join(bad) + good, tmp_path, via_command=False)
    assert result["failed"] == len(bad) == 7 and result["imported"] == 2
    assert result["failed_positions"] == set(range(2, 2 + len(bad)))


# --- the emulated OCLC side ------------------------------------------------------------------

ocn_counter = iter(range(700_000_000, 800_000_000))


def check_oclc(upload, collection, content: bytes, good_lsns: list[str]) -> IncomingFile:
    holdings_before = WorldCatHolding.objects.count()
    incoming = upload(f"{collection.collection_id}.ALMAD.fuzz.mrc", content)
    institution = collection.institution
    incoming.refresh_from_db()
    assert incoming.status == IncomingFile.Status.PROCESSED, incoming.error
    seen = records_seen(content, blank=b" \t\r\n\x0b\x0c")
    assert incoming.records == seen
    reports = {r.kind: r.content for r in Report.objects.filter(incoming_file=incoming)}
    done = {int(k) for k in re.findall(r"::bib::(\d+)\|", reports[Report.Kind.PROCESSING])}
    failed = {int(k) for k in re.findall(r"::bib::(\d+)\|", reports[Report.Kind.EXCEPTION])}
    assert done | failed >= set(range(1, seen + 1)), "every record is processed or reported"
    assert WorldCatHolding.objects.count() - holdings_before <= incoming.holdings_set
    for lsn in good_lsns:
        assert WorldCatHolding.objects.filter(
            institution=institution, local_system_number=lsn
        ).exists(), f"the good record {lsn} lost its holding"
    return incoming


def good_oclc_record(lsn: str) -> bytes:
    return marc_bytes([marc_record(lsn, f"(OCoLC){next(ocn_counter)}")])


@FUZZ
@given(parts=st.data())
def test_a_hostile_record_in_a_file_sent_to_oclc_becomes_an_exception_line(
    parts, shared_marc, upload, institution, collection
):
    bad = parts.draw(hostile_record(shared_marc))
    n = next(ocn_counter)
    first, last = f"good-{n}-first", f"good-{n}-last"
    content = good_oclc_record(first) + bad + good_oclc_record(last)
    check_oclc(upload, collection, content, [first, last])


@FUZZ
@given(parts=st.data())
def test_a_file_sent_to_oclc_that_ends_in_a_cut_record_keeps_the_records_before_it(
    parts, shared_marc, upload, institution, collection
):
    _, bad, _, _ = parts.draw(hostile_file(shared_marc))
    lsn = f"good-{next(ocn_counter)}"
    check_oclc(upload, collection, good_oclc_record(lsn) + bad, [lsn])


@pytest.mark.parametrize(
    "lsn, title", [("bad\x00lsn", "A title"), ("bad-title", "A \x00title"), ("a|b\r\nc", "T")]
)
def test_a_nul_or_line_break_in_one_record_sent_to_oclc_costs_only_that_record(
    upload, institution, collection, lsn, title
):
    """Found by the fuzzer: PostgreSQL refuses NUL in text, and the whole file used to fail."""
    n = next(ocn_counter)
    bad = marc_bytes([marc_record(lsn, f"(OCoLC){n}", title=title)])
    content = good_oclc_record(f"ok-{n}-1") + bad + good_oclc_record(f"ok-{n}-2")
    incoming = check_oclc(upload, collection, content, [f"ok-{n}-1", f"ok-{n}-2"])
    for report in Report.objects.filter(incoming_file=incoming):
        lines = report.content.splitlines()
        assert all(line.count("|") in (0, 4, 6) for line in lines), report.content
    assert (
        len(
            Report.objects.get(
                incoming_file=incoming, kind="BibProcessingReport"
            ).content.splitlines()
        )
        >= 2
    )


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_sent_to_oclc_are_processed_as_exceptions(
    data, upload, institution, collection
):
    incoming = upload(f"{collection.collection_id}.ALMAD.random.mrc", data)
    incoming.refresh_from_db()
    assert incoming.status == IncomingFile.Status.PROCESSED, incoming.error
    assert incoming.records == records_seen(data, blank=b" \t\r\n\x0b\x0c") or (
        data.lstrip().startswith(b"<")
    )
