"""The gate stamp (Bib.gate_version): a record's bytes carry the gate version they passed, only
the ways in that run the gate give it, and every other change of the bytes takes it away, raw
SQL included: the database keeps it (migration 0007's triggers), not the application."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from records import actions
from records.gate import GATE_VERSION
from records.importer import Importer
from records.ingest import stored_problem
from records.mnemonic import to_text
from records.models import Bib
from records.recheck import check_records
from tests.records.test_import import marc_files

from .helpers import make_bib

pytestmark = pytest.mark.django_db


def stamp(bib: Bib) -> int:
    return Bib.objects.values_list("gate_version", flat=True).get(pk=bib.pk)


def broken(data: bytes) -> bytes:
    """The record with an indicator MARC 21 does not have (245 indicator 2 '-')."""
    at = data.index(b"\x1e10\x1fa")
    return data[: at + 2] + b"-" + data[at + 3 :]


def raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_created_record_carries_the_stamp_and_its_instance_no_longer_claims_it():
    bib = make_bib("Stamped")
    assert stamp(bib) == GATE_VERSION == bib.gate_version
    # A later save of other bytes through the same instance claims nothing.
    bib.marc = broken(bytes(bib.marc))
    bib.save()
    assert stamp(bib) == 0


def test_bytes_changed_around_the_gate_lose_the_stamp():
    one, two, three = (make_bib(f"Raw {n}") for n in range(3))
    Bib.objects.filter(pk=one.pk).update(marc=broken(bytes(one.marc)))
    raw("UPDATE records_bib SET marc = %s WHERE id = %s", [broken(bytes(two.marc)), two.pk])
    # Writing the stamp beside new bytes is not the gate either: only a claim earns it.
    raw(
        "UPDATE records_bib SET marc = %s, gate_version = %s WHERE id = %s",
        [broken(bytes(three.marc)), GATE_VERSION, three.pk],
    )
    assert [stamp(one), stamp(two), stamp(three)] == [0, 0, 0]
    assert all(stored_problem(bytes(b.marc)) for b in Bib.objects.all())


def test_the_stamp_cannot_be_raised_without_a_claim_and_an_insert_that_says_nothing_gets_none():
    bib = make_bib("Lowered")
    Bib.objects.filter(pk=bib.pk).update(gate_version=GATE_VERSION - 1)
    assert stamp(bib) == GATE_VERSION - 1  # lowering is allowed: checked again at publish
    Bib.objects.filter(pk=bib.pk).update(gate_version=GATE_VERSION)
    assert stamp(bib) == 0
    raw(
        "INSERT INTO records_bib (mms_id, marc, content_hash, title, author, oclc_numbers, "
        "cataloging_language, export_tag, suppressed, holdings_count, change_marker, "
        "created_at, updated_at) VALUES (%s, %s, '', '', '', '', '', "
        "'publish_bib', %s, 1, 0, %s, %s)",
        [1, broken(bytes(bib.marc)), False, timezone.now(), timezone.now()],
    )
    assert Bib.objects.get(mms_id=1).gate_version == 0


def test_changes_that_leave_the_bytes_keep_the_stamp():
    bib = make_bib("Kept")
    actions.set_export_tag([bib], "dont_publish")
    actions.set_suppressed(bib, True)
    actions.delete_bib(bib)
    actions.restore_bib(bib)
    Bib.objects.filter(pk=bib.pk).update(marc=bytes(bib.marc))  # the same bytes
    fresh = Bib.objects.get(pk=bib.pk)
    fresh.title = "Renamed in the list only"
    fresh.save()
    assert stamp(bib) == GATE_VERSION


def test_a_stale_save_of_old_bytes_loses_the_stamp():
    bib = make_bib("Stale")
    stale = Bib.objects.get(pk=bib.pk)
    record = bib.record()
    record["245"]["a"] = "Edited meanwhile"
    assert actions.update_marc(bib, record)
    assert stamp(bib) == GATE_VERSION
    stale.save()  # writes the old bytes back without the gate
    assert stamp(bib) == 0


def test_the_marc_editor_and_a_reimport_stamp_what_the_gate_accepted(client, superuser, tmp_path):
    bib = make_bib("Before the edit")
    Bib.objects.filter(pk=bib.pk).update(marc=broken(bytes(bib.marc)))
    assert stamp(bib) == 0
    bib.refresh_from_db()
    before = bytes(bib.marc)
    client.force_login(superuser)
    text = to_text(before).replace("=245  1-$a", "=245  10$a").replace("Before", "After")
    response = client.post(
        reverse("records:bib_marc", args=[bib.mms_id]),
        {"marc": text, "base": hashlib.sha256(before).hexdigest()},
    )
    assert response.status_code == 302, response.content[:500]
    assert stamp(bib) == GATE_VERSION
    # Broken again behind the stamp, then the record comes back by import (001 = its MMS ID).
    bib.refresh_from_db()
    good = bytes(bib.marc)
    Bib.objects.filter(pk=bib.pk).update(marc=broken(good))
    path = tmp_path / "back.mrc"
    path.write_bytes(good.replace(b"After", b"Again"))
    importer = Importer()
    importer.import_path(path)
    assert importer.result.updated == 1, importer.result
    assert stamp(bib) == GATE_VERSION


def test_every_imported_shared_record_is_stamped_and_every_stamp_is_the_gate_s_yes(shared_marc):
    for path in marc_files(shared_marc):
        Importer(default_holdings=("MAIN", "STACKS")).import_path(path)
    rows = list(Bib.objects.values_list("mms_id", "marc", "gate_version"))
    assert len(rows) > 3150
    assert {version for _, _, version in rows} == {GATE_VERSION}
    for mms_id, marc, _ in rows:
        assert stored_problem(bytes(marc)) is None, mms_id


def test_check_records_stamps_what_passes_as_it_is_and_nothing_else():
    upgraded, broken_one = make_bib("Stored before the stamp"), make_bib("Broken")
    Bib.objects.filter(pk=upgraded.pk).update(gate_version=0)
    Bib.objects.filter(pk=broken_one.pk).update(marc=broken(bytes(broken_one.marc)))
    before = dict(Bib.objects.values_list("pk", "marc"))
    result = check_records()
    assert result.count("invalid") == 1
    assert (stamp(upgraded), stamp(broken_one)) == (GATE_VERSION, 0)
    assert dict(Bib.objects.values_list("pk", "marc")) == before
