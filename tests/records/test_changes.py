"""Every kind of catalogue change is seen by the publishing engine's change query.

The tests commit for real (transaction=True): on PostgreSQL the change marker is the writing
transaction's id, and a horizon taken inside that same open transaction would include it.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from records import actions
from records.changes import current_horizon
from records.models import Bib

from .helpers import make_bib, make_record


def _change_marc(bib):
    record = bib.record()
    record["245"]["a"] = "Another title"
    assert actions.update_marc(bib, record)


CHANGES = {
    "MARC edit": _change_marc,
    "tag change": lambda bib: actions.set_export_tag([bib], "dont_publish"),
    "holdings add": lambda bib: actions.add_holding(bib, "LAW", "REF"),
    "holdings delete": lambda bib: actions.delete_holding(bib.holdings.first()),
    "suppress": lambda bib: actions.set_suppressed(bib, True),
    "delete": lambda bib: actions.delete_bib(bib),
    "restore": lambda bib: (actions.delete_bib(bib), actions.restore_bib(bib)),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(CHANGES))
def test_each_change_kind_is_seen_by_changed_since(kind):
    bib = make_bib("Changing")
    before = Bib.objects.get(pk=bib.pk).change_marker
    watermark = current_horizon()
    CHANGES[kind](Bib.objects.get(pk=bib.pk))
    after = Bib.objects.get(pk=bib.pk).change_marker
    # The horizon is cluster-wide on PostgreSQL (other sessions' open transactions can hold it
    # back), so "not changed" cannot be asserted; "changed" must always hold.
    assert after > before
    assert after >= watermark
    assert bib.pk in Bib.objects.changed_since(watermark).values_list("pk", flat=True)


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_marc_save_does_not_mark_the_record():
    bib = make_bib("Same")
    before = Bib.objects.get(pk=bib.pk).change_marker
    assert actions.update_marc(bib, bib.record()) is False
    assert Bib.objects.get(pk=bib.pk).change_marker == before


@pytest.mark.django_db(transaction=True)
def test_a_reimport_is_seen_by_changed_since(tmp_path):
    from records.importer import import_files

    bib = make_bib("Before")
    watermark = current_horizon()
    record = bib.record()
    record["245"]["a"] = "After"
    path = tmp_path / "r.mrc"
    path.write_bytes(record.as_marc())
    assert import_files([path]).updated == 1
    assert bib.pk in Bib.objects.changed_since(watermark).values_list("pk", flat=True)


@pytest.mark.django_db(transaction=True)
def test_bulk_imported_records_are_seen_by_changed_since(tmp_path):
    watermark = current_horizon()
    path = tmp_path / "r.mrc"
    path.write_bytes(b"".join(make_record(f"T{i}", control=f"c{i}").as_marc() for i in range(5)))
    from records.importer import import_files

    assert import_files([path]).imported == 5
    assert Bib.objects.changed_since(watermark).count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_the_horizon_by_an_older_transaction_is_seen_next_time():
    """The guarantee of records/changes.py, with two real connections.

    A writer's transaction starts and changes a bib; then a reader takes the horizon and selects
    (and cannot see the uncommitted change); then the writer commits. The next selection with
    the stored horizon must include the bib.
    """
    if connection.vendor != "postgresql":
        pytest.skip("the xid-based guarantee is PostgreSQL's; SQLite serialises writers")
    bib = make_bib("Concurrent")
    old_watermark = current_horizon()
    written, may_commit, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            with transaction.atomic():
                actions.set_suppressed(Bib.objects.get(pk=bib.pk), True)
                written.set()
                assert may_commit.wait(10)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
            written.set()
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(10)
    horizon = current_horizon()  # the reader's watermark for its next run
    # This run selects now and cannot see the uncommitted change.
    first_run = {b.pk: b.suppressed for b in Bib.objects.changed_since(old_watermark)}
    assert first_run.get(bib.pk, False) is False
    may_commit.set()
    thread.join(10)
    assert done.is_set() and not errors, errors
    changed = Bib.objects.get(pk=bib.pk)
    assert changed.suppressed
    assert changed.change_marker >= horizon  # the marker is the writer's xid, still running
    assert bib.pk in Bib.objects.changed_since(horizon).values_list("pk", flat=True)
